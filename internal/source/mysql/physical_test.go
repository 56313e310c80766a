package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/scratchdb"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

// needBackupTool fails (never skips) when mariadb-backup is missing.
func needBackupTool(t *testing.T) {
	t.Helper()

	for _, n := range []string{"mariadb-backup", "mbstream"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed: apt-get install -y mariadb-backup (scripts/install-deps.sh test installs it)", n)
		}
	}
}

func physicalSource(m *testenv.MariaDB) *Source {
	return New(&config.Source{Name: "phys", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: m.Socket, User: "root", Workers: 2, Host: "127.0.0.1", Port: m.Port, Mode: config.ModePhysical,
	}}, func(string) string { return "" })
}

// checksums are CHECKSUM TABLE and COUNT(*) of every table of db.
func checksums(t *testing.T, db *sql.DB, schema string) map[string]string {
	t.Helper()

	rows, err := db.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1", schema)
	if err != nil {
		t.Fatal(err)
	}

	var names []string

	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}

	rows.Close()

	if len(names) == 0 {
		t.Fatalf("database %s has no tables", schema)
	}

	out := map[string]string{}

	for _, n := range names {
		q := quoteIdent(schema) + "." + quoteIdent(n)

		var name, sum sql.NullString

		var count int64

		if err := db.QueryRow("CHECKSUM TABLE "+q).Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}

		if err := db.QueryRow("SELECT COUNT(*) FROM " + q).Scan(&count); err != nil {
			t.Fatal(err)
		}

		out[n] = fmt.Sprintf("%s/%d", sum.String, count)
	}

	return out
}

func equalSums(t *testing.T, what string, want, got map[string]string) {
	t.Helper()

	if len(want) != len(got) {
		t.Errorf("%s: %d tables, want %d", what, len(got), len(want))
	}

	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: table %s is %s, want %s", what, k, got[k], v)
		}
	}
}

// openRestored starts a private server on a restored data directory.
func openRestored(t *testing.T, dir string) *scratchdb.Server {
	t.Helper()

	srv, err := scratchdb.Start(t.Context(), dir, scratchdb.Options{})
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { srv.Stop(context.Background()) })

	return srv
}

func seedShop(m *testenv.MariaDB, t *testing.T) {
	m.Exec(t, `CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(40), qty INT, doc JSON, img BLOB);
CREATE TABLE shop.log (msg TEXT) ENGINE=Aria;
USE shop;
INSERT INTO shop.orders (item, qty, doc, img) SELECT CONCAT('item', seq), seq % 7, JSON_OBJECT('n', seq), REPEAT(CHAR(seq % 256), 300) FROM seq_1_to_3000;
INSERT INTO shop.log VALUES ('created');`)
}

// TestPhysicalFullAndIncrementals takes a physical full and two
// incrementals with changes between them, restores each into a fresh data
// directory, and checks a server started there has every table equal to
// the source's at that backup.
func TestPhysicalFullAndIncrementals(t *testing.T) {
	needBackupTool(t)

	m := testenv.StartMariaDB(t)
	seedShop(m, t)

	ctx := t.Context()
	r := newRepo(t)
	src := physicalSource(m)
	db := m.DB(t, "")

	changes := []string{
		"",
		"USE shop; UPDATE shop.orders SET qty = qty + 1 WHERE id % 3 = 0; INSERT INTO shop.log VALUES ('first'); CREATE TABLE shop.extra (k INT PRIMARY KEY); INSERT INTO shop.extra SELECT seq FROM seq_1_to_500",
		"USE shop; DELETE FROM shop.orders WHERE id > 2500; INSERT INTO shop.extra SELECT seq FROM seq_501_to_900; INSERT INTO shop.log VALUES ('second')",
	}

	var (
		snaps []*repo.Snapshot
		want  []map[string]string
	)

	for i, change := range changes {
		if change != "" {
			m.Exec(t, change)
		}

		typ := repo.TypeIncremental
		if i == 0 {
			typ = repo.TypeFull
		}

		snap, err := src.Backup(ctx, r, source.BackupOptions{Type: typ})
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}

		if snap.Type != typ {
			t.Fatalf("backup %d is a %s, want %s", i, snap.Type, typ)
		}

		phys, ok := LoadPhysical(snap)
		if !ok || phys.ToLSN == 0 || len(phys.Chain) != i {
			t.Fatalf("backup %d records %+v, want an LSN and a chain of %d", i, phys, i)
		}

		f, ok := FullOf(snap)
		if i == 0 && (!ok || f.Coord.File == "" || f.GTID == "") {
			t.Fatalf("the physical full records no binlog position or GTID: %+v", f)
		}

		snaps = append(snaps, snap)
		want = append(want, checksums(t, db, "shop"))
	}

	// An incremental holds only what changed: much less than the full.
	if snaps[1].Bytes >= snaps[0].Bytes {
		t.Errorf("the first incremental stores %d bytes, the full %d: not an incremental", snaps[1].Bytes, snaps[0].Bytes)
	}

	for i, snap := range snaps {
		dir := filepath.Join(t.TempDir(), "datadir")

		rep, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Datadir: dir})
		if err != nil {
			t.Fatalf("restore of backup %d: %v", i, err)
		}

		if !strings.Contains(rep.Physical, fmt.Sprintf("%d incremental(s)", i)) {
			t.Errorf("restore of backup %d says %q", i, rep.Physical)
		}

		srv := openRestored(t, dir)
		equalSums(t, fmt.Sprintf("restore of backup %d", i), want[i], checksums(t, srv.DB(), "shop"))
	}
}

// TestPhysicalRestoreRefusesNonEmptyDatadir keeps what a datadir holds.
func TestPhysicalRestoreRefusesNonEmptyDatadir(t *testing.T) {
	needBackupTool(t)

	m := testenv.StartMariaDB(t)
	seedShop(m, t)

	r := newRepo(t)
	src := physicalSource(m)

	snap, err := src.Backup(t.Context(), r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	keep := filepath.Join(dir, "ibdata1")

	if err := os.WriteFile(keep, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = src.RestoreDatabase(t.Context(), r, snap, RestoreOptions{Datadir: dir})
	if !errors.Is(err, source.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "needs an empty or new one") {
		t.Fatalf("restore into a non-empty datadir: %v", err)
	}

	if b, _ := os.ReadFile(keep); string(b) != "precious" {
		t.Errorf("the datadir's file was changed: %q", b)
	}

	// A logical restore option makes no sense for a physical backup.
	if _, err := src.RestoreDatabase(t.Context(), r, snap, RestoreOptions{Database: "x"}); err == nil || !strings.Contains(err.Error(), "--target-datadir") {
		t.Errorf("restore of a physical backup to a database: %v", err)
	}
}

// TestPhysicalArchiveStartsWithPhysicalFull: the binlog streamer of a
// physical source with no backup yet starts the archive with a physical
// full, and backup --dry-run's line says what a backup would copy.
func TestPhysicalArchiveStartsWithPhysicalFull(t *testing.T) {
	needBackupTool(t)

	m := testenv.StartMariaDB(t)
	seedShop(m, t)

	r := newRepo(t)
	src := physicalSource(m)
	src.cfg.MySQL.Binlog = config.Binlog{ServerID: 4242, SegmentSeconds: 1, SegmentBytes: 16 << 20}

	if line, _ := src.Preview(t.Context()); !strings.Contains(line, "whole server") {
		t.Errorf("preview: %q", line)
	}

	stop := streamer(t, src, r, &logBuffer{})

	testenv.EventuallyNoError(t, 60*time.Second, func() error {
		snaps, err := r.Snapshots(context.Background(), "phys")
		if err != nil {
			return err
		}

		for _, s := range snaps {
			if _, ok := LoadPhysical(s); ok && s.Type == repo.TypeFull {
				return nil
			}
		}

		return fmt.Errorf("%d snapshots, no physical full", len(snaps))
	}, "the streamer's physical full")
	stop()
}

// TestPhysicalRestoreTestRecordsSums: the first restore test of a physical
// snapshot records each table's row count and checksum; later tests and
// restores compare with that record, and a difference fails naming the
// table.
func TestPhysicalRestoreTestRecordsSums(t *testing.T) {
	needBackupTool(t)

	m := testenv.StartMariaDB(t)
	seedShop(m, t)

	ctx := t.Context()
	r := newRepo(t)
	src := physicalSource(m)
	src.cfg.MySQL.Databases = []string{"shop"}
	want := checksums(t, m.DB(t, ""), "shop")

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	first, err := src.RestoreTest(ctx, r, snap, source.TestOptions{})
	if err != nil || !first.OK() || !strings.Contains(first.Checks, "recorded now") {
		t.Fatalf("first restore test: %+v, %v", first, err)
	}

	rec, err := recordedSums(ctx, r, snap.ID)
	if err != nil || len(rec) != len(want) {
		t.Fatalf("record of %d tables (%v), want %d", len(rec), err, len(want))
	}

	for name, w := range want {
		got := rec["`shop`."+quoteIdent(name)]
		if fmt.Sprintf("%s/%d", got.Sum, got.Rows) != w {
			t.Errorf("table %s recorded as %+v, the source holds %s", name, got, w)
		}
	}

	second, err := src.RestoreTest(ctx, r, snap, source.TestOptions{})
	if err != nil || !second.OK() || !strings.Contains(second.Checks, "compared with the record") {
		t.Fatalf("second restore test: %+v, %v", second, err)
	}

	// The data directory belongs to another account (the server's): what
	// the private server comparing the copy wrote is given to it too.
	dir := filepath.Join(t.TempDir(), "datadir")
	owner := os.Geteuid()

	if os.Geteuid() == 0 {
		owner = 65534
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}

		if err := os.Chown(dir, owner, owner); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Log("not root: the data directory is the test's own, so the owner check below checks the test's account")
	}

	rep, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Datadir: dir})
	if err != nil || rep.Checked != len(want) || !strings.Contains(rep.Physical, "equal to the record") {
		t.Fatalf("restore: %+v, %v", rep, err)
	}

	filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if fi, serr := os.Lstat(p); serr == nil {
			if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != owner {
				t.Errorf("%s is owned by %d, not the data directory's owner %d", p, st.Uid, owner)
			}
		}

		return err
	})

	// A record that no longer matches the copy: the test and the restore
	// fail naming the table, and the restored data directory stays.
	orders := "`shop`.`orders`"
	bad := rec[orders]
	bad.Rows++
	rec[orders] = bad

	if err := putSums(ctx, r, snap.ID, rec); err != nil {
		t.Fatal(err)
	}

	third, err := src.RestoreTest(ctx, r, snap, source.TestOptions{})
	if err != nil || third.OK() || !strings.Contains(strings.Join(third.Problems, "\n"), "table "+orders+": 3000 rows, but 3001 were recorded") {
		t.Fatalf("restore test against a different record: %+v, %v", third, err)
	}

	dir2 := filepath.Join(t.TempDir(), "datadir")

	_, err = src.RestoreDatabase(ctx, r, snap, RestoreOptions{Datadir: dir2})
	if err == nil || !strings.Contains(err.Error(), "table "+orders+": 3000 rows") {
		t.Fatalf("restore against a different record: %v", err)
	}

	if _, err := os.Stat(filepath.Join(dir2, "shop", "orders.ibd")); err != nil {
		t.Errorf("the restored data directory was removed: %v", err)
	}
}
