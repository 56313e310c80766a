package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"lifeboat/internal/testenv"
)

// finishedBar matches a progress line of label that got as far as 100%:
// "backup docs  3 / 3 files  1.2 KiB / 1.2 KiB (100%)  ...".
func finishedBar(label, files string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `  ` + files + `\d+(\.\d)? (B|KiB|MiB) / \d+(\.\d)? (B|KiB|MiB) \(100%\)  \S+ \S+/s$`)
}

// wantProgress fails unless stderr holds a progress line matching re, and
// no control character (a log gets plain lines).
func wantProgress(t *testing.T, what string, r result, re *regexp.Regexp) {
	t.Helper()

	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.code, r.out, r.err)
	}

	if !re.MatchString(r.err) {
		t.Errorf("%s --progress: no progress line like %s on stderr:\n%s", what, re, r.err)
	}

	if strings.ContainsAny(r.err, "\r\x1b") {
		t.Errorf("%s --progress off a terminal printed control characters: %q", what, r.err)
	}
}

// TestFilesProgressNamesFilesAndBytes: with --progress, a files backup and
// restore, off a terminal, print progress lines with the files and the
// bytes; verify prints its bytes. Without it they print none.
func TestFilesProgressNamesFilesAndBytes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "docs")
	for _, name := range []string{"a.txt", "b.txt", "sub/c.txt"} {
		write(t, filepath.Join(data, name), strings.Repeat(name, 400))
	}

	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")

	quiet := e.run("backup", "docs")
	if quiet.code != 0 || strings.Contains(quiet.err, "backup docs  ") {
		t.Fatalf("backup without --progress off a terminal: exit %d, stderr %q", quiet.code, quiet.err)
	}

	write(t, filepath.Join(data, "d.txt"), "new")

	// Three files unchanged since the last backup and one new: all four
	// are counted.
	r := e.run("backup", "docs", "--progress")
	wantProgress(t, "backup", r, regexp.MustCompile(`(?m)^backup docs  (4 / )?4 files  \d+(\.\d)? (B|KiB) (/ \d+(\.\d)? (B|KiB) \(\d+%\)  )?\S+ \S+/s`))

	if !strings.Contains(r.out, "docs: full snapshot") {
		t.Fatalf("backup --progress: %s", r.out)
	}

	target := filepath.Join(t.TempDir(), "restored")
	r = e.run("restore", "docs", "--target", target, "--progress")
	wantProgress(t, "restore", r, finishedBar("restore docs", `4 / 4 files  `))

	r = e.run("verify", "docs", "--progress")
	wantProgress(t, "verify", r, finishedBar("verify", ""))

	if quiet := e.run("verify", "docs"); strings.Contains(quiet.err, "verify  ") {
		t.Fatalf("verify without --progress off a terminal printed progress: %q", quiet.err)
	}
}

// TestDatabaseProgress: with --progress, a database restore, the binlog
// replay of a point-in-time recovery and a restore test each print their
// progress (bytes read out of the total) against a private MariaDB.
func TestDatabaseProgress(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE sml_library;
		CREATE TABLE sml_library.bookings (id INT PRIMARY KEY AUTO_INCREMENT, room VARCHAR(10), note TEXT);
		INSERT INTO sml_library.bookings (room, note) VALUES ('A1', REPEAT('a', 5000)), ('A2', REPEAT('b', 5000))`)

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [sml_library]\n    binlog: {server_id: 778, segment_seconds: 1}\n")
	e.mustRun("init")
	e.mustRun("backup", "db")

	r := e.run("restore", "db", "--target-database", "sml_copy", "--progress")
	wantProgress(t, "restore db", r, finishedBar("restore db", ""))

	quiet := e.run("restore", "db", "--target-database", "sml_quiet")
	if quiet.code != 0 || strings.Contains(quiet.err, "restore db  ") {
		t.Fatalf("restore without --progress off a terminal: exit %d, stderr %q", quiet.code, quiet.err)
	}

	// An incremental: its recovery restores the full, then replays the
	// binlog, each with its own progress.
	db.Exec(t, "INSERT INTO sml_library.bookings (room, note) VALUES ('B1', REPEAT('c', 20000))")
	e.mustRun("backup", "db", "--type", "incremental")

	r = e.run("restore", "db", "--target-database", "sml_point", "--progress")
	wantProgress(t, "restore of an incremental", r, finishedBar("restore db", ""))

	replay := regexp.MustCompile(`(?m)^db: replay the binlog  \d+(\.\d)? (B|KiB) / \d+(\.\d)? (B|KiB) \(\d+%\)  \S+ \S+/s`)
	if !replay.MatchString(r.err) {
		t.Errorf("the point-in-time recovery printed no replay progress:\n%s", r.err)
	}

	var rooms string
	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(room ORDER BY id) FROM sml_point.bookings").Scan(&rooms)

	if rooms != "A1,A2,B1" {
		t.Errorf("the recovery with progress restored rooms %q, want A1,A2,B1", rooms)
	}

	r = e.run("verify", "db", "--restore-test", "--progress")
	wantProgress(t, "restore test", r, finishedBar("restore test db", ""))
}
