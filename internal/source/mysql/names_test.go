package mysql

import (
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// odd is what every name in the hostile-names test carries: a ';' before a
// line break, and a carriage return (they end a -- comment, a dump line and
// a statement read line by line), a backtick and
// both quotes (they end a quoted name or string), comment openers and
// closers, the statement delimiters a dump uses (;, ;;, $$, //), a
// backslash, control bytes (MariaDB refuses NUL in a name; \x01 and \x1a, a
// client's end-of-file on some systems, are accepted), a path step up, and
// a letter outside ASCII. The server refuses names ending in a space.
const odd = ";\n`'\"*/ /* -- ;;$$//..\\\x01\r\x1aé"

const (
	oddDB     = "names" + odd
	plainDB   = "names_plain"
	canaryDB  = "names_canary"
	injectTbl = "t;\nCREATE TABLE pwned (i INT);#"
	dropTbl   = "u\nDROP DATABASE " + canaryDB + ";#"
	parentTbl = "p" + odd
	childTbl  = "c" + odd
	bigTbl    = "big" + odd
)

// oddSchema creates a database in which every kind of object has a hostile
// name: tables (two of whose names are SQL that a name escaping its comment
// would run), columns, keys, a foreign key, a trigger, a procedure and a
// function (one with a hostile DEFINER), an event, and views, one of which
// uses the other. Rows hold the same bytes.
func oddSchema(t *testing.T, db *sql.DB) {
	t.Helper()

	q := quoteIdent
	col := func(n string) string { return q(n + odd) }

	for _, stmt := range []string{
		"DROP DATABASE IF EXISTS " + q(oddDB),
		"DROP DATABASE IF EXISTS " + plainDB,
		"DROP DATABASE IF EXISTS " + canaryDB,
		"CREATE DATABASE " + canaryDB,
		"CREATE TABLE " + canaryDB + ".kept (i INT)",
		"CREATE DATABASE " + plainDB,
		"CREATE TABLE " + plainDB + ".t (id INT PRIMARY KEY, s VARCHAR(20))",
		"INSERT INTO " + plainDB + ".t VALUES (1, 'plain')",
		"CREATE DATABASE " + q(oddDB) + " CHARACTER SET utf8mb4",
		"USE " + q(oddDB),
		"CREATE TABLE " + q(parentTbl) + " (id INT PRIMARY KEY, " + col("v") + " VARCHAR(60), UNIQUE KEY " + col("u") + " (" + col("v") + "))",
		"CREATE TABLE " + q(childTbl) + " (id INT AUTO_INCREMENT PRIMARY KEY, " + col("s") + " VARCHAR(100), " + col("b") + " VARBINARY(30), " +
			col("r") + " INT, KEY " + col("k") + " (" + col("s") + "), CONSTRAINT " + col("fk") + " FOREIGN KEY (" + col("r") + ") REFERENCES " + q(parentTbl) + " (id))",
		"CREATE TABLE " + q(injectTbl) + " (i INT)",
		"CREATE TABLE " + q(dropTbl) + " (i INT)",
		// A path step up in one name lands on the other's file if names
		// are used as paths.
		"CREATE TABLE q (i INT)",
		"CREATE TABLE `z/../q` (i INT)",
		// Big enough to be dumped in chunks; the next one is named like a chunk.
		"CREATE TABLE " + q(bigTbl) + " (id INT PRIMARY KEY, " + col("x") + " VARCHAR(20))",
		"CREATE TABLE " + q(bigTbl+".0001") + " (i INT)",
		"INSERT INTO " + q(parentTbl) + " VALUES (1, 'one" + strings.ReplaceAll(odd, "'", "''") + "'), (2, '`;--\n#')",
		"INSERT INTO " + q(injectTbl) + " VALUES (1)",
		"INSERT INTO " + q(dropTbl) + " VALUES (2), (3)",
		"INSERT INTO q VALUES (10)",
		"INSERT INTO `z/../q` VALUES (20), (21)",
		"INSERT INTO " + q(bigTbl) + " SELECT seq, CONCAT('r', seq) FROM seq_1_to_400",
		"INSERT INTO " + q(bigTbl+".0001") + " VALUES (7)",
		"ANALYZE TABLE " + q(bigTbl),
		"CREATE TRIGGER " + col("tr") + " BEFORE INSERT ON " + q(childTbl) + " FOR EACH ROW SET NEW." + col("s") + " = CONCAT(NEW." + col("s") + ", ';;$$//')",
		"INSERT INTO " + q(childTbl) + " (" + col("s") + ", " + col("b") + ", " + col("r") + ") VALUES ('a\\nb*/', 0x000a0d27605c01ff, 1), (NULL, NULL, 2), ('" + strings.ReplaceAll(odd, "'", "''") + "', '', NULL)",
		"CREATE DEFINER = " + col("who") + "@localhost PROCEDURE " + col("pr") + "() SQL SECURITY INVOKER BEGIN SELECT ';;$$//' AS " + col("x") + "; SELECT COUNT(*) FROM " + q(childTbl) + "; END",
		"CREATE FUNCTION " + col("fn") + "(" + col("a") + " INT) RETURNS INT DETERMINISTIC RETURN " + col("a") + " + (SELECT COUNT(*) FROM " + q(parentTbl) + ")",
		// " ENABLE " in the name: a copy's events are disabled by editing
		// the definition, which must not touch the name.
		"CREATE EVENT " + q("ev ENABLE "+odd) + " ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO INSERT INTO " + q(parentTbl) + " VALUES (3, 'ev')",
		"CREATE VIEW " + col("v") + " AS SELECT id, " + col("s") + " AS " + col("al") + " FROM " + q(childTbl),
		"CREATE VIEW " + col("a") + " AS SELECT " + col("al") + " FROM " + col("v") + " WHERE id > 1",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%q: %v", stmt, err)
		}
	}

	// A definition may hold bytes that are not UTF-8 (a binary literal,
	// written by a client with a binary character set); it is kept byte
	// for byte like the rest.
	server.Exec(t, "USE "+q(oddDB)+";\nSET NAMES binary;\nCREATE TRIGGER "+col("tb")+" BEFORE UPDATE ON "+q(parentTbl)+
		" FOR EACH ROW SET @"+q("x"+odd)+" = _binary'\xff\xfe\x80';\n")
}

// injected fails the test when a name ran as SQL: the table one name creates,
// or the canary database another drops.
func injected(t *testing.T, db *sql.DB, when string) {
	t.Helper()

	var pwned, canary int
	if err := db.QueryRow("SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'pwned'), (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'kept')", canaryDB).Scan(&pwned, &canary); err != nil {
		t.Fatal(err)
	}

	if pwned != 0 || canary != 1 {
		t.Fatalf("%s: a table name ran as SQL: %d tables named pwned, canary database %s has %d of its 1 table", when, pwned, canaryDB, canary)
	}
}

// loadExport writes snap as an export and loads it with the stock client the
// way the guide says, `gunzip -c FILE | mariadb [DB]`; it returns the file
// and the client's failure.
func loadExport(t *testing.T, r *repo.Repository, snap *repo.Snapshot, db ...string) (string, error) {
	t.Helper()

	file := filepath.Join(t.TempDir(), "export.sql.gz")

	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}

	zw := gzip.NewWriter(f)
	if err := Export(context.Background(), r, snap, zw); err != nil {
		t.Fatal(err)
	}

	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	f.Close()

	client, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatal("the stock mariadb client is missing: apt-get install -y mariadb-client")
	}

	cmd := exec.Command("sh", "-c", "gunzip -c \"$0\" | \"$@\"", file, client)
	cmd.Args = append(cmd.Args, append(server.ClientArgs(), db...)...)

	if out, err := cmd.CombinedOutput(); err != nil {
		return file, fmt.Errorf("gunzip -c | mariadb: %w\n%s", err, out)
	}

	return file, nil
}

// TestHostileNames: names that hold line breaks, quotes, backticks, comment
// markers, delimiters, backslashes and control bytes, for a database, tables,
// columns, keys, a trigger, routines, an event and views, come back whole
// from Lifeboat's own restore (under a new name and under their own) and
// from an export loaded by the stock client; and no name ever runs as SQL.
func TestHostileNames(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")

	oddSchema(t, db)

	old := chunkRows
	chunkRows = 100

	defer func() { chunkRows = old }()

	want := fingerprint(t, db, oddDB)
	wantPlain := fingerprint(t, db, plainDB)

	if len(want) != 15 {
		t.Fatalf("the hostile schema has %d objects, want 15: %v", len(want), want)
	}

	r := newRepo(t)

	snap, err := newSource(oddDB).Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	meta, _ := LoadMeta(snap)
	for _, tb := range meta.Databases[0].Tables {
		if tb.Name == bigTbl && len(tb.Bounds) < 3 {
			t.Fatalf("%q was not dumped in chunks (bounds %v): the chunk-name clash is not exercised", bigTbl, tb.Bounds)
		}
	}

	t.Run("restore under a new name", func(t *testing.T) {
		rep, err := newSource(oddDB).RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "names_copy"})
		if err != nil {
			t.Fatal(err)
		}

		if rep.Checked != 8 || rep.Objects != 7 {
			t.Fatalf("restore report: %+v, want 8 tables checked and 7 objects", rep)
		}

		compare(t, want, fingerprint(t, db, "names_copy"))
		injected(t, db, "restore")
	})

	t.Run("restore test", func(t *testing.T) {
		rep, err := newSource(oddDB).RestoreTest(ctx, r, snap, source.TestOptions{})
		if err != nil {
			t.Fatal(err)
		}

		if rep.Checked != 8 || len(rep.Problems) > 0 {
			t.Fatalf("restore test: %d tables checked, problems %q", rep.Checked, rep.Problems)
		}
	})

	t.Run("export into one database", func(t *testing.T) {
		if _, err := db.Exec("CREATE DATABASE names_export"); err != nil {
			t.Fatal(err)
		}

		file, err := loadExport(t, r, snap, "names_export")
		injected(t, db, "export")

		if err != nil {
			t.Fatal(err)
		}

		compare(t, want, fingerprint(t, db, "names_export"))

		// The export imports whole.
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()

		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}

		importStart := time.Now()

		imported, err := newSource(oddDB).Import(ctx, r, zr, "export.sql.gz", "names_imported", source.BackupOptions{})
		if err != nil {
			t.Fatal(err)
		}

		// Dated by the export's consistent point, which its header says.
		if !imported.Time.Before(importStart) {
			t.Errorf("the import is dated %v, not by the export's header", imported.Time)
		}

		if _, err := newSource(oddDB).RestoreDatabase(ctx, r, imported, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}

		injected(t, db, "import")
		compare(t, want, fingerprint(t, db, "names_imported"))
	})

	// Several databases: the export and the restore create them under their
	// own names, so the originals go first.
	multi, err := newSource(oddDB, plainDB).Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	dropBoth := func() {
		t.Helper()

		for _, d := range []string{oddDB, plainDB} {
			if _, err := db.Exec("DROP DATABASE IF EXISTS " + quoteIdent(d)); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("export of two databases", func(t *testing.T) {
		dropBoth()
		_, err := loadExport(t, r, multi)
		injected(t, db, "export")

		if err != nil {
			t.Fatal(err)
		}

		compare(t, want, fingerprint(t, db, oddDB))
		compare(t, wantPlain, fingerprint(t, db, plainDB))
	})

	t.Run("restore of two databases under their names", func(t *testing.T) {
		dropBoth()

		rep, err := newSource(oddDB, plainDB).RestoreDatabase(ctx, r, multi, RestoreOptions{})
		if err != nil {
			t.Fatal(err)
		}

		if rep.Checked != 9 {
			t.Fatalf("restore report: %+v, want 9 tables checked", rep)
		}

		injected(t, db, "restore")
		compare(t, want, fingerprint(t, db, oddDB))
		compare(t, wantPlain, fingerprint(t, db, plainDB))
	})
}

// TestExportNamesDoNotRunAsSQL: the attack on its own. An account that may
// create a table names it "t;\n<SQL>#"; the export's "-- table" comment must
// not end at the line break, so loading the export runs nothing of it (it
// used to load without an error, having created one table and dropped a
// database).
func TestExportNamesDoNotRunAsSQL(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")

	for _, stmt := range []string{
		"DROP DATABASE IF EXISTS names_attack",
		"DROP DATABASE IF EXISTS names_attack_load",
		"DROP DATABASE IF EXISTS " + canaryDB,
		"CREATE DATABASE " + canaryDB,
		"CREATE TABLE " + canaryDB + ".kept (i INT)",
		"CREATE DATABASE names_attack",
		"CREATE TABLE names_attack." + quoteIdent(injectTbl) + " (i INT)",
		"CREATE TABLE names_attack." + quoteIdent(dropTbl) + " (i INT)",
		"INSERT INTO names_attack." + quoteIdent(dropTbl) + " VALUES (1)",
		"CREATE DATABASE names_attack_load",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%q: %v", stmt, err)
		}
	}

	r := newRepo(t)

	snap, err := newSource("names_attack").Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	_, err = loadExport(t, r, snap, "names_attack_load")
	injected(t, db, "export")

	if err != nil {
		t.Fatal(err)
	}

	compare(t, fingerprint(t, db, "names_attack"), fingerprint(t, db, "names_attack_load"))
}

// TestPITRRefusesRenamesItCannotMake: mariadb-binlog's --rewrite-db cannot
// take FROM->TO when FROM holds "->": a recovery of database "names->pitr"
// under another name reported success with the archived row missing from
// the copy. It is refused before anything is restored, and the original is
// left as it is.
func TestPITRRefusesRenamesItCannotMake(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")

	for _, stmt := range []string{"DROP DATABASE IF EXISTS `names->pitr`", "CREATE DATABASE `names->pitr`", "CREATE TABLE `names->pitr`.t (i INT)"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}

	s := pitrSource(server, "names->pitr")
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	// A row after the full, in the archive: the replay must not lose it
	// nor insert it into the original.
	stop := streamer(t, s, r, &logBuffer{})

	if _, err := db.Exec("INSERT INTO `names->pitr`.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	at := time.Now()
	waitRestorable(t, s, r, at)
	stop()

	_, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "names_pitr_copy"}, Target: binlog.Target{Time: at}})
	var n int
	db.QueryRow("SELECT COUNT(*) FROM `names->pitr`.t").Scan(&n)

	if n != 1 {
		t.Errorf("the original database holds %d rows, want its 1", n)
	}

	if err == nil || !strings.Contains(err.Error(), `cannot replay the binlog of database "names->pitr" into "names_pitr_copy"`) || !strings.Contains(err.Error(), "under its own name") {
		t.Fatalf("a rename the binlog tools cannot make: %v", err)
	}

	db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'names_pitr_copy'").Scan(&n)

	if n != 0 {
		t.Errorf("the refused recovery created its target database")
	}
}
