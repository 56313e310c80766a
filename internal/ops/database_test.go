package ops

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
	"lifeboat/internal/testenv"
)

// dbFixture adds a database source, "db", on a private MariaDB holding
// database shop, backed up as a full and then an incremental (one more row).
type dbFixture struct {
	*fixture
	srv               *testenv.MariaDB
	full, incremental *repo.Snapshot
}

func newDBFixture(t *testing.T) *dbFixture {
	t.Helper()

	ctx := context.Background()
	srv := testenv.StartMariaDB(t)
	srv.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(50)); INSERT INTO shop.orders (item) VALUES ('first'), ('second')")

	f := newFixture(t)
	sc := &config.Source{Name: "db", Type: config.KindMySQL, Tier: "critical", MySQL: config.MySQL{
		Socket: srv.Socket, User: "root", Databases: []string{"shop"}, Workers: 2, Host: "127.0.0.1", Port: srv.Port,
		Binlog: config.Binlog{ServerID: 4243, SegmentSeconds: 1, SegmentBytes: 16 << 20},
	}}

	src, ok := sources.New(sc, func(string) string { return "" })
	if !ok {
		t.Fatal("no source for type mysql")
	}

	f.e.Cfg.Sources["db"], f.e.Sources["db"] = sc, src

	full, err := f.e.Backup(ctx, Backup{Source: "db", Type: repo.TypeFull}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The binlog stamps events in whole seconds: the row added after the
	// full is told apart from it, and from the incremental's end, by time
	// only in a second of its own.
	nextSecond(full.Time)
	srv.Exec(t, "INSERT INTO shop.orders (item) VALUES ('third')")
	nextSecond(time.Now())

	inc, err := f.e.Backup(ctx, Backup{Source: "db", Type: repo.TypeIncremental}, nil)
	if err != nil {
		t.Fatal(err)
	}

	return &dbFixture{fixture: f, srv: srv, full: full, incremental: inc}
}

// nextSecond waits until the wall clock, which the server stamps binlog
// events with, is in a later second than after.
func nextSecond(after time.Time) {
	for !time.Now().Truncate(time.Second).After(after) {
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *dbFixture) rows(t *testing.T, db string) int {
	t.Helper()

	var n int
	if err := d.srv.DB(t, "").QueryRow("SELECT COUNT(*) FROM `" + db + "`.orders").Scan(&n); err != nil {
		t.Fatalf("count the rows of %s: %v", db, err)
	}

	return n
}

// last checks the newest audit record: action, source db, outcome, a
// detail holding detail, and for a run that succeeded its duration (a
// refusal can take less than the millisecond it is rounded to).
func (d *dbFixture) last(t *testing.T, action, outcome, detail string) {
	t.Helper()

	recs := d.records(t)
	rec := recs[len(recs)-1]

	if rec.Action != action || rec.Source != "db" || rec.Outcome != outcome || !strings.Contains(rec.Detail, detail) || outcome == audit.OK && rec.Seconds <= 0 {
		t.Errorf("audit record %+v: want %s of db, %s, detail with %q, and its duration", rec, action, outcome, detail)
	}
}

// TestDatabaseRestores: a full restores as it is, an incremental by
// recovering the full and the binlog up to where it ends, a dry run only
// writes its plan; each sends its events and writes its audit record.
func TestDatabaseRestores(t *testing.T) {
	d := newDBFixture(t)
	ctx := context.Background()

	var (
		ev  events
		out bytes.Buffer
	)

	res, err := d.e.RestoreDatabase(ctx, DatabaseRestore{Source: "db", Snapshot: d.full.ID, DatabaseOptions: DatabaseOptions{
		Database: "shop_full", Out: &out, Asked: "restore db --snapshot full",
	}}, ev.observe)
	if err != nil {
		t.Fatal(err)
	}

	if res.Restored == nil || res.Point != nil || res.Restored.Tables != 1 || res.Restored.Rows != 2 || d.rows(t, "shop_full") != 2 {
		t.Fatalf("restore of the full: %+v", res)
	}

	if kinds := ev.kinds(); kinds[0] != Started || kinds[len(kinds)-1] != Finished || !slices.Contains(kinds, Step) {
		t.Errorf("events %v: want Started, a step, then Finished", kinds)
	}

	d.last(t, "restore", audit.OK, "restore db --snapshot full")

	res, err = d.e.RestoreDatabase(ctx, DatabaseRestore{Source: "db", Snapshot: "latest", DatabaseOptions: DatabaseOptions{
		Database: "shop_inc", Out: &out, Asked: "restore db",
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}

	if res.Point == nil || res.Point.Plan.Full.Snap.ID != d.full.ID || res.Point.Target.File == "" || d.rows(t, "shop_inc") != 3 {
		t.Fatalf("restore of the incremental: %+v", res)
	}

	if !strings.Contains(out.String(), "incremental backup "+shortID(d.incremental.ID)+" ends at binlog ") {
		t.Errorf("the recovery did not say where the incremental ends:\n%s", out.String())
	}

	d.last(t, "restore", audit.OK, "restore db")

	out.Reset()

	if _, err := d.e.RestoreDatabase(ctx, DatabaseRestore{Source: "db", Snapshot: d.full.ID, DatabaseOptions: DatabaseOptions{
		Database: "shop_dry", DryRun: true, Out: &out,
	}}, nil); err != nil {
		t.Fatal(err)
	}

	if want := "restore full backup " + shortID(d.full.ID) + " taken at "; !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), "no binlog to replay") {
		t.Errorf("dry run of a full wrote %q, want %q...", out.String(), want)
	}

	var n int
	d.srv.DB(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_dry'").Scan(&n)

	if n != 0 {
		t.Error("the dry run created the database")
	}

	_, err = d.e.RestoreDatabase(ctx, DatabaseRestore{Source: "db", Snapshot: d.incremental.ID, DatabaseOptions: DatabaseOptions{
		Database: "shop_t", Tables: []string{"orders"}, Out: &out,
	}}, nil)

	var re *RequestError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "--tables restores single tables from a full backup, and "+shortID(d.incremental.ID)+" is a incremental backup") {
		t.Errorf("tables from an incremental: %v", err)
	}
}

// TestRecoverToPoint: a dry run writes the plan and changes nothing; the
// recovery gives back the database as it was at the newest restorable
// instant; an instant before the oldest full is refused, audited.
func TestRecoverToPoint(t *testing.T) {
	d := newDBFixture(t)
	ctx := context.Background()

	at, err := source.Restorable(ctx, d.e.Repo, d.e.Sources["db"])
	if err != nil || at.IsZero() {
		t.Fatalf("newest restorable instant: %v, %v", at, err)
	}

	var out bytes.Buffer

	opt := DatabaseOptions{Database: "shop_pit", DryRun: true, Out: &out}

	if _, err := d.e.RecoverToPoint(ctx, PointInTime{Source: "db", Target: binlog.Target{Time: at}, DatabaseOptions: opt}, nil); err != nil {
		t.Fatal(err)
	}

	if !strings.Contains(out.String(), shortID(d.full.ID)) {
		t.Errorf("the plan does not name the full it starts from (%s):\n%s", shortID(d.full.ID), out.String())
	}

	var ev events

	opt.DryRun, opt.Asked = false, "restore db --to-time now"

	res, err := d.e.RecoverToPoint(ctx, PointInTime{Source: "db", Target: binlog.Target{Time: at}, DatabaseOptions: opt}, ev.observe)
	if err != nil {
		t.Fatal(err)
	}

	if res.Plan.Full.Snap.ID != d.full.ID || !res.Target.Time.Equal(at) || res.Replay.Transactions < 1 || d.rows(t, "shop_pit") != 3 {
		t.Fatalf("recovery to %s: full %s, %d transactions replayed, %d rows", at, res.Plan.Full.Snap.ID, res.Replay.Transactions, d.rows(t, "shop_pit"))
	}

	if kinds := ev.kinds(); kinds[0] != Started || kinds[len(kinds)-1] != Finished {
		t.Errorf("events %v: want Started first and Finished last", kinds)
	}

	d.last(t, "restore", audit.OK, "restore db --to-time now")

	before := d.full.Time.Add(-time.Hour)

	_, err = d.e.RecoverToPoint(ctx, PointInTime{Source: "db", Target: binlog.Target{Time: before}, DatabaseOptions: DatabaseOptions{Database: "shop_early", Out: &out}}, nil)

	var pe *binlog.PlanError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "is before the oldest restorable instant of source db") {
		t.Fatalf("recovery to before the oldest full: %v", err)
	}

	d.last(t, "restore", audit.Failed, "is before the oldest restorable instant")
}

// TestExportAndImport: an export of the latest backup, an incremental,
// writes the full before it (and says so); importing that file takes it in
// as a new full; an unknown snapshot and a missing file are refused.
func TestExportAndImport(t *testing.T) {
	d := newDBFixture(t)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "shop.sql.gz")

	var instead []*repo.Snapshot

	res, err := d.e.Export(ctx, Export{Source: "db", Snapshot: "latest", Output: file, Asked: "export db -o shop.sql.gz",
		Instead: func(asked, full *repo.Snapshot) { instead = append(instead, asked, full) }}, nil)
	if err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(file)
	if err != nil || fi.Size() != res.Size || res.Snapshot.ID != d.full.ID {
		t.Fatalf("export wrote %v (%v), result %+v, want the full %s", fi, err, res, d.full.ID)
	}

	if len(instead) != 2 || instead[0].ID != d.incremental.ID || instead[1].ID != d.full.ID {
		t.Errorf("Instead was told %v, want the incremental and the full", instead)
	}

	d.last(t, "export", audit.OK, "export db -o shop.sql.gz")

	_, err = d.e.Export(ctx, Export{Source: "db", Snapshot: "0123456789ab", Output: filepath.Join(t.TempDir(), "x.sql")}, nil)
	if !errors.Is(err, repo.ErrSnapshotNotFound) || !strings.Contains(err.Error(), "0123456789ab") {
		t.Fatalf("export of an unknown snapshot: %v", err)
	}

	d.last(t, "export", audit.Failed, "0123456789ab")

	imp, err := d.e.Import(ctx, Import{Source: "db", File: file, Database: "shop", Asked: "import db shop.sql.gz"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	if imp.Snapshot.Type != repo.TypeFull || imp.Snapshot.Files != 1 {
		t.Errorf("import took in %+v, want a full of one table", imp.Snapshot)
	}

	d.last(t, "import", audit.OK, "import db shop.sql.gz")

	missing := filepath.Join(t.TempDir(), "none.sql")

	_, err = d.e.Import(ctx, Import{Source: "db", File: missing}, nil)

	var re *RequestError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "import: open "+missing) {
		t.Errorf("import of a missing file: %v", err)
	}
}
