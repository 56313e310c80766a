package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBinlogCompactRefusals: what a user can get wrong about compaction is
// refused with a message naming the problem and the fix, and the exit code
// of a usage or configuration error.
func TestBinlogCompactRefusals(t *testing.T) {
	files := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(files, "a.txt"), "upload")

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+filepath.Join(t.TempDir(), "none.sock")+"\n"+
		"  uploads:\n    type: files\n    paths: ["+files+"]\n")
	e.mustRun("init")

	e.expectFailure(2, []string{`unknown source "nosuch"`, "lifeboat config check"}, "binlog", "compact", "nosuch")
	e.expectFailure(2, []string{"source uploads is a files source", "binlog archiving is for database (type: mysql) sources"}, "binlog", "compact", "uploads")
	e.expectFailure(2, []string{"source db has no binlog archive to compact", "lifeboat binlog stream db"}, "binlog", "compact", "db")
	e.expectFailure(2, []string{"binlog compact: accepts 1 arg(s)"}, "binlog", "compact")

	before := e.repoFiles()

	e.writeConfig(strings.Replace(readFile(t, e.cfg), "    socket:", "    binlog: {compact_after: soon}\n    socket:", 1))
	e.expectFailure(2, []string{"sources.db.binlog.compact_after: expected a duration of at least 1s, such as 10m or 1h", `found "soon"`}, "binlog", "compact", "db")

	if !sameMap(before, e.repoFiles()) {
		t.Errorf("a refused compaction changed the repository")
	}
}
