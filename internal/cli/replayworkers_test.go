package cli

import (
	"path/filepath"
	"testing"
)

// TestReplayWorkersRefused: a negative --replay-workers is the user's to fix
// (2) and restores nothing.
func TestReplayWorkersRefused(t *testing.T) {
	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+filepath.Join(t.TempDir(), "none.sock")+"\n    databases: [shop]\n")
	before := e.repoFiles()

	e.expectFailure(ExitUsage, []string{"--replay-workers must be 0 (the source's workers) or more, not -2"}, "restore", "db", "--to-time", "2026-11-25 14:03:27", "--replay-workers", "-2")

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("the repository changed after a refused restore")
	}
}
