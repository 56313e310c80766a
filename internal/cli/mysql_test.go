package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/testenv"
)

// TestDatabaseCommands drives a database source through the CLI against a
// private MariaDB: backup, snapshots, restore under another name, a refused
// overwrite, one table, and an export the stock client loads.
func TestDatabaseCommands(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE sml_library;
		CREATE TABLE sml_library.users (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) UNIQUE, bookings INT NOT NULL DEFAULT 0);
		CREATE TABLE sml_library.bookings (id INT PRIMARY KEY AUTO_INCREMENT, user_id INT NOT NULL, room VARCHAR(10), starts DATETIME,
			FOREIGN KEY (user_id) REFERENCES sml_library.users(id));
		INSERT INTO sml_library.users (email, bookings) VALUES ('ada@example.org', 2), ('bob@example.org', 1);
		INSERT INTO sml_library.bookings (user_id, room, starts) VALUES (1, 'A1', '2026-11-25 10:00:00'), (1, 'A2', '2026-11-26 10:00:00'), (2, 'B1', NULL);
		CREATE VIEW sml_library.busy_users AS SELECT email FROM sml_library.users WHERE bookings > 1;`)

	e := newEnv(t, "  db:\n    type: mysql\n    tier: critical\n    socket: "+db.Socket+"\n    user: root\n    databases: [sml_library]\n")
	e.mustRun("init")

	out := e.mustRun("backup", "db")
	if !strings.Contains(out, "db: full snapshot") || !strings.Contains(out, "2 files") || !strings.Contains(out, "writes blocked") {
		t.Fatalf("backup: %s", out)
	}

	snaps := e.snapshots("db")
	if len(snaps) != 1 || snaps[0].Kind != "mysql" || snaps[0].Extra["mysql"] == "" {
		t.Fatalf("snapshots: %+v", snaps)
	}

	out = e.mustRun("restore", "db", "--target-database", "sml_copy")
	if !strings.Contains(out, "2 tables, 5 rows, 1 views") || !strings.Contains(out, "checksums of 2 tables match") {
		t.Fatalf("restore: %s", out)
	}

	e.expectFailure(2, []string{"database sml_copy already exists", "--overwrite"}, "restore", "db", "--target-database", "sml_copy")

	// A database with no tables but a procedure is not empty either.
	db.Exec(t, "CREATE DATABASE only_proc; CREATE PROCEDURE only_proc.p() SELECT 1")
	e.expectFailure(2, []string{"database only_proc already exists", "1 routines or events"}, "restore", "db", "--target-database", "only_proc")
	e.expectFailure(2, []string{"--target is for files and git sources"}, "restore", "db", "--target", t.TempDir())
	e.expectFailure(2, []string{`table "nosuch" is not in the snapshot`}, "restore", "db", "--target-database", "x", "--tables", "nosuch")

	out = e.mustRun("restore", "db", "--target-database", "sml_copy", "--overwrite")
	if !strings.Contains(out, "safety snapshot") {
		t.Fatalf("overwrite: %s", out)
	}

	e.mustRun("restore", "db", "--target-database", "only_users", "--tables", "users")

	export := filepath.Join(t.TempDir(), "sml.sql.gz")
	out = e.mustRun("export", "db", "-o", export)

	if !strings.Contains(out, "gunzip -c") {
		t.Fatalf("export: %s", out)
	}

	db.Exec(t, "CREATE DATABASE from_export")

	cmd := exec.Command("sh", "-c", "gunzip -c \"$0\" | \"$@\"", export, "mariadb")
	cmd.Args = append(cmd.Args, append(db.ClientArgs(), "from_export")...)

	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gunzip | mariadb: %v %s", err, b)
	}

	conn := db.DB(t, "")

	for _, q := range []struct {
		query string
		want  string
	}{
		{"SELECT GROUP_CONCAT(email ORDER BY id) FROM sml_copy.users", "ada@example.org,bob@example.org"},
		{"SELECT COUNT(*) FROM only_users.users", "2"},
		{"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'only_users'", "1"},
		{"SELECT GROUP_CONCAT(room ORDER BY id) FROM from_export.bookings", "A1,A2,B1"},
		{"SELECT GROUP_CONCAT(email) FROM from_export.busy_users", "ada@example.org"},
	} {
		var got string
		if err := conn.QueryRow(q.query).Scan(&got); err != nil || got != q.want {
			t.Errorf("%s: %q %v, want %q", q.query, got, err, q.want)
		}
	}

	if fi, err := os.Stat(export); err != nil || fi.Size() == 0 {
		t.Fatalf("export file: %v", err)
	}

	// The export is a plain SQL file: import takes it (or any mysqldump file)
	// back in as a full.
	out = e.mustRun("import", "db", export)
	if !strings.Contains(out, "imported") || !strings.Contains(out, "full snapshot") {
		t.Fatalf("import: %s", out)
	}

	e.expectFailure(2, []string{"no such file"}, "import", "db", filepath.Join(t.TempDir(), "missing.sql"))

	e.expectFailure(2, []string{`unknown source "db2"`}, "export", "db2", "-o", export)
	e.expectFailure(2, []string{"-o FILE.sql.gz is required"}, "export", "db")
}
