package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
	"lifeboat/internal/verify"
)

// TestRestoreTestFilesAndGit restores a files and a git snapshot, compares
// them, records the result, and catches a file missing from the restored copy.
func TestRestoreTestFilesAndGit(t *testing.T) {
	uploads := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, uploads)

	app := filepath.Join(t.TempDir(), "app")
	os.MkdirAll(app, 0o755)
	git(t, app, "init", "-q", "-b", "main")
	write(t, filepath.Join(app, "index.js"), "console.log('v1')\n")
	git(t, app, "add", "-A")
	git(t, app, "commit", "-qm", "v1")
	git(t, app, "tag", "v1")

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+uploads+"]\n  code:\n    type: git\n    path: "+app+"\n")
	e.mustRun("init")
	e.mustRun("backup")

	out := e.mustRun("verify", "--restore-test")
	for _, want := range []string{"restore test of uploads", "restore test of code", "files compared with the backup", "2 refs compared"} {
		if !strings.Contains(out, want) {
			t.Fatalf("verify --restore-test lacks %q:\n%s", want, out)
		}
	}

	if strings.Count(out, ": OK") != 3 {
		t.Fatalf("want the integrity check and two restore tests OK:\n%s", out)
	}

	// The result is in the repository and in status.
	st := e.mustRun("status", "--json")
	if strings.Count(st, `"restore_test_ok": true`) != 2 {
		t.Fatalf("status does not show the restore test:\n%s", st)
	}

	// A sample reads less than everything.
	out = e.mustRun("verify", "uploads", "--read", "0%")
	if !strings.Contains(out, "0 B of distinct content read back (a 0% sample)") {
		t.Fatalf("--read 0%%: %s", out)
	}

	e.expectFailure(2, []string{"--read \"ten\"", "percentage"}, "verify", "--read", "ten")
	e.expectFailure(2, []string{"no snapshot with ID \"nosuch0000\""}, "verify", "--restore-test", "--snapshot", "nosuch0000", "uploads")

	// A file missing from the restored copy is named.
	e.tamper = func(_ context.Context, dir string) error {
		var victim string

		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() && victim == "" {
				victim = p
			}

			return nil
		})

		return os.Remove(victim)
	}

	r := e.expectFailure(1, []string{"missing from the restored copy", "restore test failed for uploads"}, "verify", "uploads", "--restore-test")
	if !strings.Contains(r.out, "1 PROBLEMS") {
		t.Fatalf("verify output: %s", r.out)
	}

	// A changed byte in a restored file is named too.
	e.tamper = func(_ context.Context, dir string) error {
		p := filepath.Join(dir, "docs", "rules.pdf")
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}

		b[0] ^= 1

		return os.WriteFile(p, b, 0o644)
	}
	e.expectFailure(1, []string{"docs/rules.pdf: restored content differs from the snapshot"}, "verify", "uploads", "--restore-test")

	// A corrupted bundle fails the git restore test.
	e.tamper = func(_ context.Context, dir string) error {
		p := filepath.Join(dir, "repo.bundle")
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}

		return os.WriteFile(p, b[:len(b)/2], 0o644)
	}
	e.expectFailure(1, []string{"problem: code:", "restore test failed for code"}, "verify", "code", "--restore-test")

	// The failure is what status and the records now say.
	recs := e.records(verify.KindRestoreTest)
	if recs["code"]["ok"] != "false" || recs["uploads"]["ok"] != "false" {
		t.Fatalf("records: %+v", recs)
	}

	audit := readFile(t, filepath.Join(e.dir, "audit.jsonl"))
	if !strings.Contains(audit, `"action":"restore test","source":"uploads"`) || !strings.Contains(audit, `"outcome":"failed"`) {
		t.Fatalf("audit lacks the restore tests:\n%s", audit)
	}
}

// TestRestoreTestDatabase restores into a scratch database, checks tables
// and assertions, drops the scratch database, and names a changed table and a
// false assertion.
func TestRestoreTestDatabase(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE sml_library;
		CREATE TABLE sml_library.users (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) UNIQUE);
		CREATE TABLE sml_library.bookings (id INT PRIMARY KEY AUTO_INCREMENT, user_id INT NOT NULL, room VARCHAR(10));
		INSERT INTO sml_library.users (email) VALUES ('ada@example.org'), ('bob@example.org');
		INSERT INTO sml_library.bookings (user_id, room) VALUES (1, 'A1'), (2, 'B2');`)

	cfg := "  db:\n    type: mysql\n    socket: " + db.Socket + "\n    user: root\n    databases: [sml_library]\n" +
		"    verify:\n      assertions: [\"SELECT COUNT(*) > 0 FROM users\", \"SELECT COUNT(*) = 2 FROM bookings\"]\n"
	e := newEnv(t, cfg)
	e.mustRun("init")
	e.mustRun("backup", "db")

	out := e.mustRun("verify", "db", "--restore-test")
	if !strings.Contains(out, "2 tables compared with the backup, 2 assertions") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("restore test: %s", out)
	}

	scratch := func() int {
		var n int
		db.DB(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'lifeboat_verify_%'").Scan(&n)

		return n
	}

	if scratch() != 0 {
		t.Fatal("the scratch database was left behind")
	}

	// A row changed in the restored copy: the checksum comparison names the table.
	e.tamper = func(ctx context.Context, database string) error {
		_, err := db.DB(t, "").ExecContext(ctx, "UPDATE `"+database+"`.bookings SET room = 'Z9' WHERE id = 2")
		return err
	}
	r := e.expectFailure(1, []string{"problem: db: table bookings", "checksum", "restore test failed for db"}, "verify", "db", "--restore-test")
	if strings.Contains(r.err, "table users") {
		t.Fatalf("an unchanged table was named: %s", r.err)
	}

	if scratch() != 0 {
		t.Fatal("the scratch database was left behind after a failed test")
	}

	// A failing assertion is named.
	e.tamper = nil
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "COUNT(*) = 2 FROM bookings", "COUNT(*) = 3 FROM bookings", 1))
	e.expectFailure(1, []string{`assertion "SELECT COUNT(*) = 3 FROM bookings" is false in the restored copy (it returned 0)`}, "verify", "db", "--restore-test")

	recs := e.records(verify.KindRestoreTest)
	if recs["db"]["ok"] != "false" || !strings.Contains(recs["db"]["problems"], "COUNT(*) = 3") {
		t.Fatalf("record: %+v", recs["db"])
	}

	// On a verify server of its own: the scratch copy goes there, the source's
	// server never sees it.
	other := testenv.StartMariaDB(t)
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "COUNT(*) = 3 FROM bookings", "COUNT(*) = 2 FROM bookings", 1) +
		"      server: {socket: " + other.Socket + ", user: root}\n")

	var where []string

	e.tamper = func(ctx context.Context, database string) error {
		for name, srv := range map[string]*testenv.MariaDB{"source": db, "verify": other} {
			var n int
			srv.DB(t, "").QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", database).Scan(&n)

			if n == 1 {
				where = append(where, name)
			}
		}

		return nil
	}

	out = e.mustRun("verify", "db", "--restore-test")
	if !strings.HasSuffix(strings.TrimSpace(out), "OK") || strings.Join(where, ",") != "verify" {
		t.Fatalf("restore test on the verify server: copy found on %v\n%s", where, out)
	}

	// The live database was never touched.
	var rooms string
	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(room ORDER BY id) FROM sml_library.bookings").Scan(&rooms)
	if rooms != "A1,B2" {
		t.Fatalf("live data changed: %s", rooms)
	}
}

// records reads the repository's records of a kind.
func (e *env) records(kind string) map[string]map[string]string {
	e.t.Helper()

	ctx := context.Background()

	r, err := repo.Open(ctx, filepath.Join(e.dir, "repo"), repo.Password{Value: testPassword}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close(ctx)

	recs, err := r.Records(ctx, kind)
	if err != nil {
		e.t.Fatal(err)
	}

	return recs
}
