package repo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIndexShard: the folder kopia's default sharding puts an index blob of
// an epoch in.
func TestIndexShard(t *testing.T) {
	for _, c := range []struct {
		prefix string
		epoch  int
		want   string
	}{
		{prefixUncompacted, 0, "n0_"}, {prefixUncompacted, 5, "n5_"}, {prefixSingle, 42, "s42"},
		{prefixUncompacted, 199, "n19"}, {prefixSingle, 35012, "s35"},
	} {
		if got := indexShard(c.prefix, c.epoch); got != c.want {
			t.Errorf("%s epoch %d: %q, want %q", c.prefix, c.epoch, got, c.want)
		}
	}
}

// TestMaintenanceDropsEmptyIndexShards: quick and full maintenance remove
// the empty index folders of epochs no writer adds to, and keep those of the
// epochs around the current one, any folder that holds a blob, and range
// checkpoints' folders; the repository reads and writes as before.
func TestMaintenanceDropsEmptyIndexShards(t *testing.T) {
	ctx := context.Background()
	r, path := newRepo(t)

	if _, err := r.PutSegment(ctx, "db", map[string]string{"n": "1"}, strings.NewReader("first")); err != nil {
		t.Fatal(err)
	}

	x := filepath.Join(path, "x")
	// What kopia leaves once it deleted an old epoch's blobs: empty folders.
	old := []string{"n42", "s42", "s7_", "n99"}
	// The next epochs' folders, a range's and one that still holds a blob.
	kept := []string{"n1_", "s2_", "r0_", "n9_"}

	for _, d := range append(append([]string{}, old...), kept...) {
		if err := os.MkdirAll(filepath.Join(x, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	writeFile(t, filepath.Join(x, "n9_", "a-blob.f"), "not empty")

	if err := r.QuickMaintain(ctx); err != nil {
		t.Fatal(err)
	}

	for _, d := range old {
		if _, err := os.Stat(filepath.Join(x, d)); !os.IsNotExist(err) {
			t.Errorf("empty folder x/%s of an old epoch was kept (%v)", d, err)
		}
	}

	for _, d := range kept {
		if _, err := os.Stat(filepath.Join(x, d)); err != nil {
			t.Errorf("folder x/%s was removed: %v", d, err)
		}
	}

	// Full maintenance does the same.
	if err := os.MkdirAll(filepath.Join(x, "s42"), 0o700); err != nil {
		t.Fatal(err)
	}

	if err := r.Maintain(ctx, false); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat(filepath.Join(x, "s42")); !os.IsNotExist(err) {
		t.Errorf("full maintenance kept the empty folder x/s42 (%v)", err)
	}

	// Reads and writes go on, in this process and the next.
	if _, err := r.PutSegment(ctx, "db", map[string]string{"n": "2"}, strings.NewReader("second")); err != nil {
		t.Fatal(err)
	}

	next, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close(ctx)

	segs, err := next.Segments(ctx, "db")
	if err != nil || len(segs) != 2 || segs[0].Labels["n"] != "1" || segs[1].Labels["n"] != "2" {
		t.Fatalf("after maintenance, the segments read back as %+v (%v)", segs, err)
	}
}
