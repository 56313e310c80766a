package sources

import (
	"testing"

	"lifeboat/internal/config"
	"lifeboat/internal/source"
)

// TestEveryKindBuildsItsSource: each kind the configuration accepts builds a
// source of that kind, the database kind has the capabilities the CLI, the
// plans and the daemon ask for, and an unknown kind builds nothing.
func TestEveryKindBuildsItsSource(t *testing.T) {
	for _, kind := range []string{config.KindFiles, config.KindGit, config.KindMySQL} {
		src, ok := New(&config.Source{Name: "s", Type: kind}, nil)
		if !ok || src.Kind() != kind || src.Name() != "s" {
			t.Fatalf("kind %s: built %v (ok %v)", kind, src, ok)
		}

		_, chained := ChainOf(kind)
		_, db := src.(source.DatabaseRestorer)
		_, pit := src.(source.PointInTimeRestorer)
		_, arch := src.(source.Archiving)

		if want := kind == config.KindMySQL; chained != want || db != want || pit != want || arch != want || source.Chained(src) != want {
			t.Errorf("kind %s: chain %v, database restore %v, point in time %v, archiving %v; want all %v", kind, chained, db, pit, arch, want)
		}
	}

	if src, ok := New(&config.Source{Name: "s", Type: "postgres"}, nil); ok || src != nil {
		t.Errorf("an unknown kind built %v", src)
	}

	if _, ok := ChainOf("postgres"); ok {
		t.Error("an unknown kind has a chain")
	}
}
