package cli

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// TestDatabaseCommandsStayInTheirDatabase drives import, restore tests,
// status and restore against one private MariaDB that also holds a
// production database the commands must never touch: an import runs its file
// as an account that reaches only its scratch database, a restore test's
// assertions see only the copy, status names an instant restore accepts, and
// the server's own schemas are never a restore target.
func TestDatabaseCommandsStayInTheirDatabase(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE app;
		CREATE TABLE app.users (id INT PRIMARY KEY, email VARCHAR(100));
		INSERT INTO app.users VALUES (1, 'ada@example.org'), (2, 'bob@example.org');
		CREATE DATABASE payroll;
		CREATE TABLE payroll.salaries (id INT PRIMARY KEY, amount INT);
		INSERT INTO payroll.salaries VALUES (1, 5000);`)

	conn := db.DB(t, "")

	var roots string
	if err := conn.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User = 'root'").Scan(&roots); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [app]\n"+
		"    verify:\n      assertions: [\"SELECT COUNT(*) = 2 FROM users\"]\n")
	e.mustRun("init")

	untouched := func(t *testing.T, when string) {
		t.Helper()

		for _, q := range []struct{ query, want string }{
			{"SELECT GROUP_CONCAT(CONCAT(id, ':', amount) ORDER BY id) FROM payroll.salaries", "1:5000"},
			{"SELECT GROUP_CONCAT(email ORDER BY id) FROM app.users", "ada@example.org,bob@example.org"},
			{"SELECT COUNT(*) FROM mysql.user WHERE User = 'root'", roots},
			{"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME IN ('user', 'db', 'proc')", "3"},
			// The temporary accounts and scratch databases are gone.
			{"SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'lifeboat%'", "0"},
			{"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'lifeboat%'", "0"},
			{"SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'payroll') + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'payroll')", "0"},
		} {
			var got sql.NullString
			if err := conn.QueryRow(q.query).Scan(&got); err != nil || got.String != q.want {
				t.Fatalf("%s: %s: got %q (%v), want %q", when, q.query, got.String, err, q.want)
			}
		}
	}

	dir := t.TempDir()

	// Each part reports through its own subtest.
	part := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			outer := e.t
			e.t = t

			defer func() { e.t = outer }()

			fn(t)
		})
	}

	part("import", func(t *testing.T) {
		// Statements and trigger bodies that name another database are
		// refused by the server, whatever form they take.
		for name, body := range map[string]string{
			"drop":    "DROP TABLE payroll.salaries;\n",
			"replace": "REPLACE INTO payroll.salaries VALUES (1, 1);\n",
			"copy":    "CREATE TABLE stolen AS SELECT * FROM payroll.salaries;\n",
			"users":   "INSERT INTO mysql.db (Host, Db, User, Select_priv) VALUES ('%', 'payroll', 'intruder', 'Y');\n",
			"trigger": "CREATE DEFINER=`root`@`localhost` TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW UPDATE payroll.salaries SET amount = 0;\nINSERT INTO t VALUES (2);\n",
			// Triggers and functions are created through the source's own
			// account (the server wants SUPER for them while the binlog is
			// on), so their names and tables are checked as the server reads them.
			"on":       "/*!50003 CREATE*/ /*!50003 TRIGGER t_ai AFTER INSERT ON payroll.salaries FOR EACH ROW SET @a = 1 */;\n",
			"named":    "CREATE TRIGGER /* x */ payroll /* y */ . t_ai AFTER INSERT ON t FOR EACH ROW SET @a = 1;\n",
			"function": "CREATE FUNCTION `payroll`.`f`() RETURNS INT DETERMINISTIC RETURN 1;\n",
		} {
			file := filepath.Join(dir, name+".sql")
			write(t, file, "CREATE TABLE t (id INT PRIMARY KEY);\nINSERT INTO t VALUES (1);\n"+body+"-- Dump completed on 2026-01-02 03:04:05\n")
			before := e.repoFiles()

			r := e.expectFailure(1, []string{name + ".sql line ", "outside the scratch database", "nothing was saved"}, "import", "db", file, "--database", "app")
			if !strings.Contains(r.err, "payroll") && !strings.Contains(r.err, "mysql") {
				t.Errorf("%s: the message does not name the database: %s", name, r.err)
			}

			if !sameMap(before, e.repoFiles()) {
				t.Errorf("%s: a refused import wrote to the repository", name)
			}

			untouched(t, "import "+name)
		}

		// A dump with definers, a trigger, a view and a routine is taken in,
		// and records its own definers, not the temporary account.
		file := filepath.Join(dir, "good.sql")
		write(t, file, "CREATE TABLE t (id INT PRIMARY KEY, n INT);\n"+
			"CREATE TABLE log (id INT);\n"+
			"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO log VALUES (NEW.id) */;\n"+
			"INSERT INTO t VALUES (1, 10), (2, 20);\n"+
			"/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */ /*!50001 VIEW `big` AS SELECT id FROM t WHERE n > 15 */;\n"+
			"DELIMITER ;;\nCREATE DEFINER='root'@'localhost' PROCEDURE p() SELECT COUNT(*) FROM t ;;\nDELIMITER ;\n"+
			"-- Dump completed on 2026-01-02 03:04:05\n")

		out := e.mustRun("import", "db", file, "--database", "imported")
		if !strings.Contains(out, "full snapshot") {
			t.Fatalf("import: %s", out)
		}

		e.mustRun("restore", "db", "--target-database", "imported")

		for q, want := range map[string]string{
			"SELECT GROUP_CONCAT(id ORDER BY id) FROM imported.log":                                                    "1,2",
			"SELECT GROUP_CONCAT(id) FROM imported.big":                                                                "2",
			"SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'imported'":                             "root@localhost",
			"SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'imported'":                        "root@localhost",
			"SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'imported' AND ROUTINE_NAME = 'p'": "root@localhost",
		} {
			var got sql.NullString
			if err := conn.QueryRow(q).Scan(&got); err != nil || got.String != want {
				t.Errorf("%s: got %q (%v), want %q", q, got.String, err, want)
			}
		}

		db.Exec(t, "DROP DATABASE imported")
		untouched(t, "import")
	})

	part("restore test assertions", func(t *testing.T) {
		e.mustRun("backup", "db")

		// Production gains a user the backup does not have: an assertion
		// that reads app.users would check production, not the copy.
		db.Exec(t, "INSERT INTO app.users VALUES (3, 'cy@example.org')")
		e.writeConfig(strings.Replace(readFile(t, e.cfg), `"SELECT COUNT(*) = 2 FROM users"`,
			`"SELECT COUNT(*) = 2 FROM users", "SELECT COUNT(*) = 3 FROM app.users", "SELECT COUNT(*) = 1 FROM payroll.salaries"`, 1))

		e.expectFailure(1, []string{`assertion "SELECT COUNT(*) = 3 FROM app.users"`, `assertion "SELECT COUNT(*) = 1 FROM payroll.salaries"`,
			"can see only the restored copy", "restore test failed for db"}, "verify", "db", "--restore-test")

		db.Exec(t, "DELETE FROM app.users WHERE id = 3")
		untouched(t, "restore test")

		// The copy's own tables are still checked.
		e.writeConfig(strings.Replace(readFile(t, e.cfg), `, "SELECT COUNT(*) = 3 FROM app.users", "SELECT COUNT(*) = 1 FROM payroll.salaries"`, "", 1))

		if out := e.mustRun("verify", "db", "--restore-test"); !strings.Contains(out, "1 assertions") {
			t.Fatalf("restore test: %s", out)
		}

		untouched(t, "restore test")
	})

	part("status and to-time agree after an import", func(t *testing.T) {
		// A dump of app taken now, as Lifeboat's own export dates it (to the
		// microsecond, after the backup above).
		file := filepath.Join(dir, "now.sql")
		write(t, file, "-- Consistent at "+time.Now().UTC().Format(time.RFC3339Nano)+"\n"+
			"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100));\nINSERT INTO users VALUES (1, 'ada@example.org'), (2, 'bob@example.org'), (7, 'imported@example.org');\n"+
			"-- end of export\n")
		e.mustRun("import", "db", file)

		r := e.run("status", "--json")

		var st []sourceStatus
		if err := json.Unmarshal([]byte(r.out), &st); err != nil || len(st) != 1 || st[0].Restorable.IsZero() {
			t.Fatalf("status --json: %v\n%s%s", err, r.out, r.err)
		}

		at := st[0].Restorable

		// Both the exact instant and the one status prints are accepted,
		// and give back the imported data.
		for i, given := range []string{at.Format(time.RFC3339Nano), at.Local().Format("2006-01-02 15:04:05.000")} {
			target := []string{"at_exact", "at_shown"}[i]

			out := e.mustRun("restore", "db", "--to-time", given, "--target-database", target)
			if !strings.Contains(out, "recovered db into "+target) {
				t.Fatalf("restore --to-time %s: %s", given, out)
			}

			var emails string
			conn.QueryRow("SELECT GROUP_CONCAT(email ORDER BY id) FROM `" + target + "`.users").Scan(&emails)

			if emails != "ada@example.org,bob@example.org,imported@example.org" {
				t.Fatalf("restore --to-time %s gave %q", given, emails)
			}
		}

		// A later instant (one already past, so not refused as the future)
		// is refused, naming the one status gave.
		for time.Now().Before(at.Add(1500 * time.Millisecond)) {
			time.Sleep(10 * time.Millisecond) // polls the wall clock past the instant: restore refuses one in the future
		}

		e.expectFailure(2, []string{"newest restorable instant", at.UTC().Format("2006-01-02T15:04:05")},
			"restore", "db", "--to-time", at.Add(time.Second).Format(time.RFC3339Nano), "--target-database", "at_later")

		// The import has no binlog position to continue from: an
		// incremental after it is a full.
		if out := e.mustRun("backup", "db", "--type", "incremental"); !strings.Contains(out, "db: full snapshot") {
			t.Fatalf("incremental after an import: %s", out)
		}
	})

	// Last: on the old code this drops the server's own schema.
	part("system schemas", func(t *testing.T) {
		file := filepath.Join(dir, "good.sql")
		before := e.repoFiles()

		for _, target := range []string{"mysql", "information_schema", "performance_schema", "sys", "MySQL"} {
			e.expectFailure(2, []string{"--target-database " + target, "system schema", "--target-database " + target + "_restored"},
				"restore", "db", "--target-database", target, "--overwrite")
			e.expectFailure(2, []string{"--target-database " + target, "system schema"},
				"restore", "db", "--target-database", target, "--overwrite", "--to-time", time.Now().Format(time.RFC3339Nano))
			e.expectFailure(2, []string{"--database " + target, "system schema"}, "import", "db", file, "--database", target)
		}

		if !sameMap(before, e.repoFiles()) {
			t.Error("a refused restore or import wrote to the repository (a safety snapshot?)")
		}

		untouched(t, "system schemas")
	})
}
