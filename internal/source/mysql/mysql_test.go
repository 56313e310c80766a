package mysql

import (
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

var server *testenv.MariaDB

func TestMain(m *testing.M) {
	var err error

	server, err = testenv.Start(context.Background(), "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	code := m.Run()
	server.Stop()
	os.Exit(code)
}

func sakilaDir(t *testing.T) string {
	t.Helper()

	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", "..", "shared", "data", "sakila"))
	if _, err := os.Stat(filepath.Join(dir, "sakila-schema.sql")); err != nil {
		t.Fatalf("the Sakila database is missing at %s (the shared data folder beside the repository)", dir)
	}

	return dir
}

var loadSakilaOnce = map[string]bool{}

// loadSakila loads Sakila (plus an event, which Sakila lacks) once per run.
func loadSakila(t *testing.T) {
	t.Helper()

	if loadSakilaOnce["sakila"] {
		return
	}

	dir := sakilaDir(t)
	server.LoadFile(t, filepath.Join(dir, "sakila-schema.sql"))
	server.LoadFile(t, filepath.Join(dir, "sakila-data.sql"))
	server.Exec(t, "CREATE EVENT sakila.nightly_cleanup ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 03:00:00' DISABLE DO DELETE FROM sakila.rental WHERE return_date < '2000-01-01'")
	loadSakilaOnce["sakila"] = true
}

func newRepo(t *testing.T) *repo.Repository {
	t.Helper()

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "repo")
	pw := repo.Password{Value: "db-test", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(ctx) })

	return r
}

func newSource(dbs ...string) *Source {
	return New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: server.Socket, User: "root", Databases: dbs, Workers: 3, Host: "127.0.0.1", Port: server.Port,
	}}, func(string) string { return "" })
}

// fingerprint is everything a faithful restore must give back, per object.
func fingerprint(t *testing.T, db *sql.DB, name string) map[string]string {
	t.Helper()

	out := map[string]string{}
	q := func(query string, args ...any) []string {
		rows, err := db.Query(query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()

		var res []string

		for rows.Next() {
			var s string
			rows.Scan(&s)
			res = append(res, s)
		}

		return res
	}

	for _, tbl := range q("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", name) {
		var n, create, cs string

		qualified := quoteIdent(name) + "." + quoteIdent(tbl)

		db.QueryRow("SHOW CREATE TABLE "+qualified).Scan(&n, &create)
		db.QueryRow("CHECKSUM TABLE "+qualified).Scan(&n, &cs)

		var count int64

		db.QueryRow("SELECT COUNT(*) FROM " + qualified).Scan(&count)
		out["table "+tbl] = fmt.Sprintf("rows=%d checksum=%s\n%s", count, cs, create)
	}

	show := func(kind, obj string, col int) string {
		rows, err := db.Query("SHOW CREATE " + kind + " " + quoteIdent(name) + "." + quoteIdent(obj))
		if err != nil {
			t.Fatalf("show create %s %s: %v", kind, obj, err)
		}
		defer rows.Close()

		cols, _ := rows.Columns()
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))

		for i := range vals {
			ptrs[i] = &vals[i]
		}

		rows.Next()
		rows.Scan(ptrs...)

		// The definition and the settings it runs under; not the database
		// collation column, which names the database.
		return vals[col].String + " | " + vals[col+1].String
	}

	for _, v := range q("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?", name) {
		out["view "+v] = strings.ReplaceAll(show("VIEW", v, 1), quoteIdent(name)+".", "")
	}

	for _, r := range q("SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?", name) {
		kind, obj, _ := strings.Cut(r, " ")
		out[strings.ToLower(kind)+" "+obj] = show(kind, obj, 2)
	}

	for _, tr := range q("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", name) {
		out["trigger "+tr] = show("TRIGGER", tr, 2)
	}

	for _, ev := range q("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?", name) {
		out["event "+ev] = show("EVENT", ev, 3)
	}

	return out
}

func compare(t *testing.T, want, got map[string]string) {
	t.Helper()

	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}

	for k := range got {
		keys[k] = true
	}

	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}

	sort.Strings(sorted)

	for _, k := range sorted {
		if want[k] != got[k] {
			t.Errorf("%s differs:\nwant %s\ngot  %s", k, want[k], got[k])
		}
	}
}

func TestSakilaRoundTrip(t *testing.T) {
	ctx := context.Background()

	loadSakila(t)

	db := server.DB(t, "")
	r := newRepo(t)
	src := newSource("sakila")

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}

	meta, err := LoadMeta(snap)
	if err != nil {
		t.Fatal(err)
	}

	if meta.BinlogFile == "" || meta.BinlogPos == 0 || meta.ServerVersion == "" || meta.ConsistentAt == "" || meta.SQLMode == "" {
		t.Fatalf("incomplete metadata: %+v", meta)
	}

	kinds := map[string]int{}
	for _, o := range meta.Databases[0].Objects {
		kinds[o.Kind]++
	}

	if len(meta.Databases[0].Tables) != 16 || kinds["view"] != 7 || kinds["trigger"] != 6 || kinds["procedure"] != 3 || kinds["function"] != 3 || kinds["event"] != 1 {
		t.Fatalf("dumped %d tables and %v", len(meta.Databases[0].Tables), kinds)
	}

	for _, tbl := range meta.Databases[0].Tables {
		if tbl.Name == "rental" && tbl.Rows != 16044 {
			t.Fatalf("rental: recorded %d rows", tbl.Rows)
		}
	}

	want := fingerprint(t, db, "sakila")

	rep, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sakila_restored"})
	if err != nil {
		t.Fatal(err)
	}

	if rep.Checked != 16 || rep.Objects != 20 {
		t.Fatalf("restore report: %+v", rep)
	}

	compare(t, want, fingerprint(t, db, "sakila_restored"))

	// Restoring over it again is refused, then allowed with a safety backup.
	_, err = src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sakila_restored"})
	if !errors.Is(err, source.ErrTargetNotEmpty) {
		t.Fatalf("want a refusal, got %v", err)
	}

	db.Exec("DELETE FROM sakila_restored.payment WHERE payment_id < 100")

	rep, err = src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sakila_restored", Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}

	if rep.Safety == nil || rep.Safety.Role != repo.RoleSafety {
		t.Fatalf("no safety snapshot: %+v", rep)
	}

	compare(t, want, fingerprint(t, db, "sakila_restored"))

	safetyMeta, _ := LoadMeta(rep.Safety)
	for _, tbl := range safetyMeta.Databases[0].Tables {
		if tbl.Name == "payment" && tbl.Rows != 16049-99 {
			t.Fatalf("the safety snapshot should hold the replaced state: payment had %d rows", tbl.Rows)
		}
	}

	// One table on its own, into another database, with its triggers.
	rep, err = src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sakila_actor", Tables: []string{"actor", "film"}})
	if err != nil {
		t.Fatal(err)
	}

	if rep.Objects != 3 {
		t.Fatalf("film's three triggers should come back with it: %d objects", rep.Objects)
	}

	var n int
	db.QueryRow("SELECT COUNT(*) FROM sakila_actor.actor").Scan(&n)

	if n != 200 {
		t.Fatalf("actor restored with %d rows", n)
	}
}

func TestTypesRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")

	for _, stmt := range []string{
		"CREATE DATABASE IF NOT EXISTS types_src CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
		`CREATE TABLE types_src.t (
			id INT PRIMARY KEY,
			b BLOB, bin BINARY(4), vb VARBINARY(10),
			j JSON, g GEOMETRY, p POINT,
			d DECIMAL(30,10), f FLOAT, dbl DOUBLE,
			dt DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(3), y YEAR, dd DATE,
			bits BIT(10), e ENUM('a','b','c'), s SET('x','y','z'),
			txt TEXT, nul VARCHAR(10), emp VARCHAR(10),
			gen INT AS (id * 2) VIRTUAL, gens VARCHAR(40) AS (CONCAT(e, '-', id)) PERSISTENT
		)`,
		`INSERT INTO types_src.t (id, b, bin, vb, j, g, p, d, f, dbl, dt, ts, tm, y, dd, bits, e, s, txt, nul, emp) VALUES
			(1, 0x00FF0A0D275C1A, 0x00010203, X'', '{"k": [1, "två", null]}', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), POINT(1.5, -2.25),
			 12345678901234567890.0123456789, 1.17549e-38, 2.2250738585072014e-308, '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999999',
			 '-838:59:59.999', 2155, '1000-01-01', b'1010101010', 'b', 'x,z', 'line1\nline2\ttab ''quote'' \\ back 🚀', NULL, ''),
			(2, '', NULL, NULL, NULL, NULL, NULL, -0.0000000001, -0, 0, '1970-01-01 00:00:00', NULL, '00:00:00', 1901, '9999-12-31', b'0', 'a', '', '', NULL, '')`,
		// A zero date, allowed only under the source's permissive sql_mode.
		"CREATE TABLE types_src.zero (id INT PRIMARY KEY, d DATE, dt DATETIME)",
		"SET SESSION sql_mode = ''",
		"INSERT INTO types_src.zero VALUES (1, '0000-00-00', '0000-00-00 00:00:00')",
		// No primary key, duplicate rows.
		"CREATE TABLE types_src.nopk (a INT, b VARCHAR(3)) ENGINE=InnoDB",
		"INSERT INTO types_src.nopk VALUES (1,'x'),(1,'x'),(NULL,NULL)",
		// FLOAT at full precision (the text protocol prints 6 digits).
		"CREATE TABLE types_src.floats (id INT PRIMARY KEY, f FLOAT, d DOUBLE)",
		"INSERT INTO types_src.floats VALUES (1, 1.2345678, 1.2345678901234567), (2, 16777216, -0.1), (3, 3.4028234e38, 1e-300), (4, NULL, NULL)",
		// AUTO_INCREMENT not leading the primary key: keys cannot be deferred.
		"CREATE TABLE types_src.tenant_ai (tenant INT, id INT AUTO_INCREMENT, v INT, PRIMARY KEY (tenant, id), KEY (id), KEY (v))",
		"INSERT INTO types_src.tenant_ai (tenant, v) VALUES (1, 10), (2, 20), (1, 30)",
		// A foreign key onto another table's UNIQUE key (not its primary key).
		"CREATE TABLE types_src.parent (id INT PRIMARY KEY, code VARCHAR(10), UNIQUE KEY (code))",
		"CREATE TABLE types_src.child (id INT PRIMARY KEY, code VARCHAR(10), KEY (code), CONSTRAINT fk_code FOREIGN KEY (code) REFERENCES types_src.parent (code))",
		"INSERT INTO types_src.parent VALUES (1, 'a'), (2, 'b')",
		"INSERT INTO types_src.child VALUES (1, 'a'), (2, 'b'), (3, 'a')",
		// A non-transactional table.
		"CREATE TABLE types_src.aria (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=Aria",
		"INSERT INTO types_src.aria VALUES (1,'one'),(2,'two')",
	} {
		c, _ := db.Conn(ctx)
		c.ExecContext(ctx, "SET SESSION sql_mode = ''")

		if _, err := c.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}

		c.Close()
	}

	r := newRepo(t)
	src := newSource("types_src")
	src.cfg.MySQL.Workers = 1 // the child table may then load before its parent's keys exist

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	meta, _ := LoadMeta(snap)
	if meta.LockedMillis <= 0 {
		t.Fatalf("the lock held for the non-transactional table was not measured: %+v", meta)
	}

	want := fingerprint(t, db, "types_src")

	if _, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "types_dst"}); err != nil {
		t.Fatal(err)
	}

	compare(t, want, fingerprint(t, db, "types_dst"))

	var gen int

	var gens string

	db.QueryRow("SELECT gen, gens FROM types_dst.t WHERE id = 1").Scan(&gen, &gens)

	if gen != 2 || gens != "b-1" {
		t.Fatalf("generated columns: %d %q", gen, gens)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)

	check := func(t *testing.T, src *Source, want ...string) {
		t.Helper()

		_, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
		if err == nil {
			t.Fatal("backup succeeded")
		}

		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("message lacks %q: %v", w, err)
			}
		}

		if snaps, _ := r.Snapshots(ctx, ""); len(snaps) != 0 {
			t.Fatalf("a failed backup listed %d snapshots", len(snaps))
		}
	}

	server.Exec(t, "CREATE USER IF NOT EXISTS 'weak'@'localhost' IDENTIFIED BY 'weakpw'; GRANT SELECT ON *.* TO 'weak'@'localhost'")
	server.Exec(t, "CREATE USER IF NOT EXISTS 'weak'@'127.0.0.1' IDENTIFIED BY 'weakpw'; GRANT SELECT ON *.* TO 'weak'@'127.0.0.1'")
	server.Exec(t, "CREATE DATABASE IF NOT EXISTS faults; CREATE TABLE IF NOT EXISTS faults.t (id INT PRIMARY KEY)")

	t.Run("wrong password", func(t *testing.T) {
		s := newSource("faults")
		s.cfg.MySQL.User, s.cfg.MySQL.PasswordEnv = "weak", "DBPW"
		s.getenv = func(string) string { return "not-the-password" }
		check(t, s, "refused user \"weak\"", "wrong password")
	})

	t.Run("password env unset", func(t *testing.T) {
		s := newSource("faults")
		s.cfg.MySQL.PasswordEnv = "DBPW"
		check(t, s, "password_env DBPW is not set")
	})

	t.Run("unreachable", func(t *testing.T) {
		s := newSource("faults")
		s.cfg.MySQL.Socket, s.cfg.MySQL.Port = "", 1
		check(t, s, "cannot reach the database server at 127.0.0.1:1", "is it running")
	})

	t.Run("no such database", func(t *testing.T) {
		check(t, newSource("no_such_db"), `database "no_such_db" does not exist`)
	})

	t.Run("missing privilege", func(t *testing.T) {
		s := newSource("faults")
		s.cfg.MySQL.User, s.cfg.MySQL.PasswordEnv = "weak", "DBPW"
		s.getenv = func(string) string { return "weakpw" }
		check(t, s, "lacks a privilege", "RELOAD")
	})
}

// TestExportLoadsInStockClient: the export is one gzip file that the stock
// client loads, as the guide does (`gunzip -c FILE | mariadb DB`), giving
// back the same tables, data, views, routines, triggers and events.
func TestExportLoadsInStockClient(t *testing.T) {
	ctx := context.Background()

	loadSakila(t)

	db := server.DB(t, "")
	r := newRepo(t)
	src := newSource("sakila")

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	server.Exec(t, "CREATE DATABASE sakila_export CHARACTER SET utf8mb4")

	if _, err := loadExport(t, r, snap, "sakila_export"); err != nil {
		t.Fatal(err)
	}

	compare(t, fingerprint(t, db, "sakila"), fingerprint(t, db, "sakila_export"))
}

// TestImportMysqldumpFile takes a stock mariadb-dump file of Sakila into the
// repository; restoring it gives back the same database.
func TestImportMysqldumpFile(t *testing.T) {
	ctx := context.Background()

	loadSakila(t)

	dumpBin, err := exec.LookPath("mariadb-dump")
	if err != nil {
		t.Fatal("mariadb-dump is missing: apt-get install -y mariadb-client")
	}

	file := filepath.Join(t.TempDir(), "sakila.sql.gz")
	cmd := exec.Command("sh", "-c", "\"$@\" | gzip > "+file, "sh", dumpBin)
	cmd.Args = append(cmd.Args, append(server.ClientArgs(), "--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "sakila")...)

	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-dump: %v %s", err, out)
	}

	f, _ := os.Open(file)
	defer f.Close()

	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}

	r := newRepo(t)
	src := newSource("sakila")
	importStart := time.Now()

	snap, err := src.Import(ctx, r, zr, "sakila.sql.gz", "", source.BackupOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}

	// The snapshot is dated by the dump, not by the import.
	if !snap.Time.Before(importStart) || importStart.Sub(snap.Time) > time.Minute {
		t.Fatalf("imported snapshot dated %v; the dump was made just before %v", snap.Time, importStart)
	}

	meta, _ := LoadMeta(snap)
	if meta.Databases[0].Name != "sakila" || snap.Extra["imported-from"] != "sakila.sql.gz" || snap.Type != repo.TypeFull {
		t.Fatalf("import recorded %s, %v, %s", meta.Databases[0].Name, snap.Extra["imported-from"], snap.Type)
	}

	// The server's binlog position at the import is no position of the
	// dump's data: none is recorded, and the dump's own time is its instant.
	if at, _ := time.Parse(time.RFC3339Nano, meta.ConsistentAt); meta.BinlogFile != "" || meta.GTID != "" || !at.Equal(snap.Time) {
		t.Fatalf("import recorded binlog %q, GTID %q, consistent at %s for a dump of %s", meta.BinlogFile, meta.GTID, meta.ConsistentAt, snap.Time)
	}

	db := server.DB(t, "")

	var scratch int
	db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'lifeboat_import_%'").Scan(&scratch)

	if scratch != 0 {
		t.Fatal("the scratch database was left behind")
	}

	if _, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sakila_imported"}); err != nil {
		t.Fatal(err)
	}

	compare(t, fingerprint(t, db, "sakila"), fingerprint(t, db, "sakila_imported"))

	// Not a dump at all.
	_, err = src.Import(ctx, r, strings.NewReader("-- just a comment\n"), "empty.sql", "", source.BackupOptions{})
	if err == nil || !strings.Contains(err.Error(), "no SQL statements") {
		t.Fatalf("empty file: %v", err)
	}

	// An old dump taken in today does not become the latest backup.
	old, err := src.Import(ctx, r, strings.NewReader("CREATE TABLE t (id INT);\n-- Dump completed on 2020-01-02 03:04:05\n"), "old.sql", "sakila", source.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}

	if latest, _ := r.Find(ctx, "db", "latest"); old.Time.Year() != 2020 || latest.ID != snap.ID {
		t.Fatalf("old dump dated %v; latest is %s, want %s", old.Time, latest.ID, snap.ID)
	}

	// A truncated dump is refused, not taken as the latest backup.
	_, err = src.Import(ctx, r, strings.NewReader("CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n"), "cut.sql", "x", source.BackupOptions{})
	if err == nil || !strings.Contains(err.Error(), "may be truncated") {
		t.Fatalf("truncated file: %v", err)
	}

	// Statements against the whole server are refused; the dump's own DROP
	// DATABASE is left out, so the live database survives.
	_, err = src.Import(ctx, r, strings.NewReader("/*!40000 DROP DATABASE IF EXISTS `sakila`*/;\nCHANGE MASTER TO MASTER_HOST='evil';\n-- Dump completed\n"), "evil.sql", "x", source.BackupOptions{})
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("server-wide statement: %v", err)
	}

	var left int
	db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sakila'").Scan(&left)

	if left < 16 {
		t.Fatalf("an import dropped the live database: %d tables left", left)
	}
}

// TestAccountsRebuildABlankServer: with accounts: true, users and grants come
// back on a server that has lost them, and their passwords still work.
func TestAccountsRebuildABlankServer(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMariaDB(t)
	srv.Exec(t, `CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1);
		CREATE USER 'app'@'localhost' IDENTIFIED BY 'app-secret'; GRANT SELECT, INSERT ON app.* TO 'app'@'localhost';
		CREATE USER 'report'@'%' IDENTIFIED BY 'r3port'; GRANT SELECT ON app.t TO 'report'@'%';`)

	r := newRepo(t)
	src := New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: srv.Socket, User: "root", Databases: []string{"app"}, Workers: 2, Accounts: true,
	}}, func(string) string { return "" })

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	// The disaster: the database and the accounts are gone.
	srv.Exec(t, "DROP DATABASE app; DROP USER 'app'@'localhost'; DROP USER 'report'@'%';")

	rep, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}

	if rep.Accounts != 2 {
		t.Fatalf("restored %d accounts, want 2", rep.Accounts)
	}

	app := New(&config.Source{Name: "check", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: srv.Socket, User: "app", PasswordEnv: "PW", Workers: 1,
	}}, func(string) string { return "app-secret" })

	db, err := connect(ctx, "check", app.cfg.MySQL, app.getenv)
	if err != nil {
		t.Fatalf("the restored account cannot log in with its password: %v", err)
	}
	defer db.Close()

	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM app.t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("restored grants: %v (%d rows)", err, n)
	}

	if _, err := db.Exec("DROP TABLE app.t"); err == nil {
		t.Fatal("the restored account has more rights than it had")
	}
}

// TestBigTableInChunks: a table over twice the chunk size is dumped and loaded
// as primary-key ranges in parallel, and still restores and exports whole.
func TestBigTableInChunks(t *testing.T) {
	ctx := context.Background()
	old := chunkRows
	chunkRows = 1000

	defer func() { chunkRows = old }()

	db := server.DB(t, "")
	server.Exec(t, "CREATE DATABASE chunks; CREATE TABLE chunks.big (id BIGINT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE chunks.small (id INT PRIMARY KEY)")

	var b strings.Builder

	b.WriteString("INSERT INTO chunks.big VALUES ")

	for i := 0; i < 10000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}

		// Gaps in the keys: ranges are by key, not by row number.
		fmt.Fprintf(&b, "(%d, 'row %d')", i*3+7, i)
	}

	if _, err := db.Exec(b.String()); err != nil {
		t.Fatal(err)
	}

	db.Exec("ANALYZE TABLE chunks.big")

	r := newRepo(t)
	src := newSource("chunks")

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	meta, _ := LoadMeta(snap)

	var big *Table

	for _, tb := range meta.Databases[0].Tables {
		if tb.Name == "big" {
			big = tb
		}
	}

	if len(big.Bounds) < 5 || big.Rows != 10000 || snap.Files != int64(len(big.Bounds)) {
		t.Fatalf("big: %d bounds, %d rows; snapshot has %d files", len(big.Bounds), big.Rows, snap.Files)
	}

	want := fingerprint(t, db, "chunks")

	if _, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "chunks_restored"}); err != nil {
		t.Fatal(err)
	}

	compare(t, want, fingerprint(t, db, "chunks_restored"))

	// The check after a restore catches a changed row.
	db.Exec("UPDATE chunks_restored.big SET v = 'tampered' WHERE id = 7")

	bad, _, err := src.checkTables(ctx, db, plannedDB{src: meta.Databases[0], target: "chunks_restored", tables: meta.Databases[0].Tables}, nil)
	if err != nil || len(bad) != 1 || !strings.HasPrefix(bad[0], "big:") {
		t.Fatalf("a tampered row went unnoticed: %v %v", bad, err)
	}
}

// TestNoBackslashEscapesSource: a server whose sql_mode reads backslashes
// literally still gets back exactly the strings it had.
func TestNoBackslashEscapesSource(t *testing.T) {
	ctx := context.Background()

	srv, err := testenv.StartWith(ctx, "", "--sql-mode=NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	db := srv.DB(t, "")
	if _, err := db.Exec("CREATE DATABASE nbe"); err != nil {
		t.Fatal(err)
	}

	if _, err := db.Exec("CREATE TABLE nbe.t (id INT PRIMARY KEY, s VARCHAR(100), b VARBINARY(20))"); err != nil {
		t.Fatal(err)
	}

	if _, err := db.Exec(`INSERT INTO nbe.t VALUES (1, 'back\slash and ''quote'' \n not a newline', 'x\y'), (2, CONCAT('real', CHAR(10), 'newline', CHAR(0), 'nul'), NULL)`); err != nil {
		t.Fatal(err)
	}

	// An account whose name holds a quote and a backslash is read back
	// whatever the server's quoting rules.
	if _, err := db.Exec(`CREATE USER 'o''dd\'@'localhost'`); err != nil {
		t.Fatal(err)
	}

	r := newRepo(t)
	src := New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: srv.Socket, User: "root", Databases: []string{"nbe"}, Workers: 2, Accounts: true,
	}}, func(string) string { return "" })

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	if meta, _ := LoadMeta(snap); len(meta.Accounts) != 1 || meta.Accounts[0].User != `o'dd\` {
		t.Fatalf("accounts recorded: %+v", meta.Accounts)
	}

	if _, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "nbe_copy"}); err != nil {
		t.Fatal(err)
	}

	compare(t, fingerprint(t, db, "nbe"), fingerprint(t, db, "nbe_copy"))
}

// TestDumpStatementRetriedAfterDeadlock: a dump statement InnoDB rolls back
// as a deadlock victim (parallel chunk loads of one table can deadlock) is
// run again and succeeds; the deadlock really happened.
func TestDumpStatementRetriedAfterDeadlock(t *testing.T) {
	ctx := context.Background()
	server.Exec(t, "CREATE DATABASE deadlock; CREATE TABLE deadlock.t (id INT PRIMARY KEY, v INT NOT NULL);"+
		"INSERT INTO deadlock.t SELECT seq, 0 FROM deadlock.seq_1_to_100")

	db := server.DB(t, "deadlock")
	db.SetMaxOpenConns(4)

	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	loader, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer loader.Close()

	// The other transaction holds rows 2..100, so it weighs more and the
	// loader's one-statement transaction is the one InnoDB rolls back.
	if _, err := other.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}

	if _, err := other.ExecContext(ctx, "UPDATE t SET v = v + 1 WHERE id >= 2"); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)

	// Locks row 1, then waits for row 2.
	go func() { done <- execRetrying(ctx, loader, "UPDATE t SET v = v + 10 WHERE id IN (1, 2)") }()

	testenv.Eventually(t, 20*time.Second, func() bool {
		// Only this test's two transactions run on the private server now,
		// so any lock wait is the loader's (its query text is not always
		// filled in while it waits).
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'").Scan(&n); err != nil {
			t.Logf("read the lock waits: %v", err)
		}

		return n > 0
	}, "the loader's update to hold row 1 and wait for row 2")

	// Waits for row 1: a deadlock.
	if _, err := other.ExecContext(ctx, "UPDATE t SET v = v + 1 WHERE id = 1"); err != nil {
		t.Fatalf("the heavier transaction was rolled back instead: %v", err)
	}

	if _, err := other.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}

	if err := <-done; err != nil {
		t.Fatalf("the statement was not run again after the deadlock: %v", err)
	}

	var v1, v2 int
	db.QueryRow("SELECT (SELECT v FROM t WHERE id = 1), (SELECT v FROM t WHERE id = 2)").Scan(&v1, &v2)

	if v1 != 11 || v2 != 11 {
		t.Fatalf("rows 1 and 2: %d and %d, want 11 and 11 (both updates once each)", v1, v2)
	}

	var typ, name, status string
	db.QueryRow("SHOW ENGINE INNODB STATUS").Scan(&typ, &name, &status)

	if !strings.Contains(status, "LATEST DETECTED DEADLOCK") {
		t.Fatal("no deadlock was detected: the test did not provoke one")
	}
}
