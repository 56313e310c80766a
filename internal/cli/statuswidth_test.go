package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestStatusFitsTheTerminal runs status on a repository with the sources of
// the sml-library example under long names, one never backed up (its
// problem is long), a plan never drilled and a copy on a deep path: every
// line of the default output fits 120 columns, and --wide holds what the
// default shortened.
func TestStatusFitsTheTerminal(t *testing.T) {
	names := []string{"uploads", "config", "code", "logs", "sml-library-catalogue-cover-images-archive", "circulation-desk-receipts-never-saved"}

	var sources strings.Builder

	for i, name := range names {
		dir := filepath.Join(t.TempDir(), name)
		write(t, filepath.Join(dir, "file.txt"), strings.Repeat("x", 100*(i+1)))
		sources.WriteString("  " + name + ":\n    type: files\n    tier: important\n    paths: [" + dir + "]\n")
	}

	e := newEnv(t, sources.String())
	vault := filepath.Join(t.TempDir(), "a", "removable", "disk", "mounted", "under", "a", "long", "path", "lifeboat-vault")
	near := filepath.Join(t.TempDir(), "second-disk-in-the-server-room", "backups", "lifeboat-near-copy")
	e.writeConfig(readFile(t, e.cfg) + "copies:\n  vault:\n    path: " + vault + "\n    offline: true\n" +
		"  near-copy-on-the-second-disk:\n    path: " + near + "\n" +
		"plans:\n  whole-library-after-a-lost-server:\n    tier: important\n    steps:\n      - restore: uploads\n")
	e.mustRun("init")
	e.mustRun(append([]string{"backup"}, names[:len(names)-1]...)...)
	e.mustRun("verify", "uploads")
	e.mustRun("replicate", "--to", "near-copy-on-the-second-disk")

	never := names[len(names)-1]

	st := e.run("status")
	if st.code != ExitOutOfObjective {
		t.Fatalf("status with a source never backed up: exit %d, want %d\n%s%s", st.code, ExitOutOfObjective, st.out, st.err)
	}

	for i, line := range strings.Split(st.out, "\n") {
		if n := utf8.RuneCountInString(line); n > statusWidth {
			t.Errorf("status line %d is %d columns, more than %d:\n%s", i+1, n, statusWidth, line)
		}
	}

	// The long name is cut in the table; the problem is whole, wrapped below.
	wantIn(t, "status", st.out, "SOURCE", "sml-library-catalogue…", "circulation-desk-rece…", "PROBLEM", "3-2-1",
		"whole-library-after-a-l…", "not drilled", "vault", "…", "0/6 sources",
		"near-copy-on-th…", "5/6 sources, oldest just now", "2/1/0 no")
	wantIn(t, "status", strings.Join(strings.Fields(st.out), " "), never+": no backup yet: run `lifeboat backup "+never+"`")

	if strings.Contains(st.out, "sml-library-catalogue-cover-images-archive") {
		t.Errorf("the long name is not shortened in the table:\n%s", st.out)
	}

	wide := e.run("status", "--wide")
	if wide.code != ExitOutOfObjective {
		t.Fatalf("status --wide: exit %d, want %d\n%s%s", wide.code, ExitOutOfObjective, wide.out, wide.err)
	}

	wantIn(t, "status --wide", wide.out, "KIND", "NEWEST RESTORABLE", "LAST RESTORE TEST", "COPIES (3-2-1)", "2/1/0 (not 3-2-1)", near,
		"sml-library-catalogue-cover-images-archive", "no backup yet: run `lifeboat backup "+never+"`", vault,
		"not drilled: run `lifeboat drill whole-library-after-a-lost-server`")

	long := false
	for _, line := range strings.Split(wide.out, "\n") {
		long = long || utf8.RuneCountInString(line) > statusWidth
	}

	if !long {
		t.Errorf("status --wide has no line wider than %d columns: it should hold every detail\n%s", statusWidth, wide.out)
	}
}
