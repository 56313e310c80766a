package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/testenv"
)

// TestPointInTimeCommands drives incrementals, the dry run, recovery of the
// latest incremental, status and every refused input through the CLI against
// a private MariaDB.
func TestPointInTimeCommands(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE sml_library;
		CREATE TABLE sml_library.bookings (id INT PRIMARY KEY AUTO_INCREMENT, room VARCHAR(10));
		INSERT INTO sml_library.bookings (room) VALUES ('A1'), ('A2')`)

	files := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(files, "a.txt"), "upload")

	e := newEnv(t, "  db:\n    type: mysql\n    tier: critical\n    socket: "+db.Socket+"\n    user: root\n    databases: [sml_library]\n    binlog: {server_id: 777, segment_seconds: 1}\n"+
		"  uploads:\n    type: files\n    tier: tight\n    paths: ["+files+"]\n")
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "sources:", "tiers:\n  tight: {rto: 1h, rpo: 1s}\nsources:", 1))
	e.mustRun("init")

	// An incremental with nothing to build on is a full, and says so.
	out := e.mustRun("backup", "db", "--type", "incremental")
	if !strings.Contains(out, "db: full snapshot") {
		t.Fatalf("first incremental: %s", out)
	}

	db.Exec(t, "INSERT INTO sml_library.bookings (room) VALUES ('B1'), ('B2')")

	out = e.mustRun("backup", "db", "--type", "incremental")
	if !strings.Contains(out, "db: incremental snapshot") {
		t.Fatalf("incremental: %s", out)
	}

	db.Exec(t, "INSERT INTO sml_library.bookings (room) VALUES ('C9')")

	// An export comes from a full: the latest full is taken, and said so;
	// an incremental named explicitly is refused with what to do.
	exp := filepath.Join(t.TempDir(), "db.sql")
	r := e.run("export", "db", "-o", exp)

	if r.code != 0 || !strings.Contains(r.err, "exporting the latest full backup") {
		t.Fatalf("export with an incremental latest: exit %d\n%s", r.code, r.err)
	}

	snaps := e.snapshots("db")
	e.expectFailure(2, []string{"is an incremental backup (binlog)", "--target-database NAME"}, "export", "db", "--snapshot", snaps[len(snaps)-1].ID, "-o", exp)

	out = e.mustRun("binlog", "list", "db")
	if !strings.Contains(out, "mysql-bin.000001") || !strings.Contains(out, "incremental") {
		t.Fatalf("binlog list: %s", out)
	}

	var listed struct {
		Segments []struct {
			Events int    `json:"events"`
			SHA256 string `json:"sha256"`
		} `json:"segments"`
	}

	if err := json.Unmarshal([]byte(e.mustRun("binlog", "list", "db", "--json")), &listed); err != nil || len(listed.Segments) == 0 || listed.Segments[0].SHA256 == "" {
		t.Fatalf("binlog list --json: %v %+v", err, listed)
	}

	out = e.mustRun("restore", "db", "--dry-run")
	if !strings.Contains(out, "restoring the full before it") || !strings.Contains(out, "replays 1 transactions") || !strings.Contains(out, "replay 1 binlog segments") {
		t.Fatalf("dry run: %s", out)
	}

	out = e.mustRun("restore", "db", "--target-database", "sml_copy")
	if !strings.Contains(out, "plus 1 binlog transactions") {
		t.Fatalf("restore of the incremental: %s", out)
	}

	var rooms string
	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(room ORDER BY id) FROM sml_copy.bookings").Scan(&rooms)

	if rooms != "A1,A2,B1,B2" {
		t.Errorf("restored rooms %q", rooms)
	}

	// status: the database is within its hour; the uploads were never
	// backed up, so status fails and says why.
	r = e.run("status", "--json")

	var st []sourceStatus
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || len(st) != 2 {
		t.Fatalf("status --json: %v\n%s", err, r.out)
	}

	if r.code != ExitOutOfObjective || !st[0].OK || st[0].Restorable.IsZero() || st[0].RPOSeconds > 60 || st[1].OK || !strings.Contains(st[1].Problem, "no backup yet") {
		t.Fatalf("status: exit %d %+v", r.code, st)
	}

	e.mustRun("backup", "uploads")
	// Status two seconds on: the backup is past its 1 s objective.
	e.clock = clock.NewFake(time.Now().Add(2 * time.Second))
	e.expectFailure(ExitOutOfObjective, []string{"1 source is out of objective"}, "status")
	e.clock = nil

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--to-time", "yesterday"}, []string{"expected a time such as"}},
		{[]string{"--to-time", "2020-01-01 00:00:00"}, []string{"before the oldest restorable instant"}},
		{[]string{"--to-time", time.Now().Add(time.Hour).Format(time.RFC3339)}, []string{"is in the future"}},
		{[]string{"--to-time", time.Now().Format(time.RFC3339), "--to-gtid", "0-1-1"}, []string{"give one of"}},
		{[]string{"--to-position", "mysql-bin.000001"}, []string{"expected FILE:POS"}},
		{[]string{"--to-gtid", "banana"}, []string{"expected domain-server-sequence"}},
		{[]string{"--snapshot", "latest", "--to-gtid", "0-1-3"}, []string{"not both"}},
		{[]string{"--to-position", "mysql-bin.000042:4"}, []string{"is not in the binlog archive"}},
	} {
		e.expectFailure(2, c.want, append([]string{"restore", "db", "--target-database", "never"}, c.args...)...)
	}

	e.expectFailure(2, []string{"are for database sources"}, "restore", "uploads", "--target", t.TempDir(), "--to-time", "2026-01-01 00:00:00")
	e.expectFailure(2, []string{"source uploads is a files source"}, "binlog", "stream", "uploads")
	e.expectFailure(2, []string{`unknown source "nosuch"`}, "binlog", "list", "nosuch")

	// Damaged data in the repository: the recovery (full and binlog) comes
	// from a copy instead, says so, and the repository is healed.
	e.writeConfig(readFile(t, e.cfg) + "copies:\n  near:\n    path: " + filepath.Join(t.TempDir(), "near") + "\n")
	e.mustRun("replicate")
	testenv.CorruptPacks(t, filepath.Join(e.dir, "repo"))

	r = e.run("restore", "db", "--target-database", "sml_again")
	if r.code != 0 || !strings.Contains(r.err, "from copy near") || !strings.Contains(r.out, "restored from copy near") ||
		!strings.Contains(r.out, "healed the repository from copy near") || !strings.Contains(r.out, "plus 1 binlog transactions") {
		t.Fatalf("recovery with damaged data: exit %d\n%s\n%s", r.code, r.out, r.err)
	}

	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(room ORDER BY id) FROM sml_again.bookings").Scan(&rooms)

	if rooms != "A1,A2,B1,B2" {
		t.Errorf("rooms recovered from the copy %q", rooms)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	return string(b)
}
