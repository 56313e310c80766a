package mysql

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

// TestRecoveryChoosesItsWay: a source with a logical full, then a physical
// full, and the binlog across both. Into a data directory the physical
// chain is used where it reaches the target and a logical full loaded into
// a new server where it does not; a scratch recovery (a drill's) takes the
// way of the shorter estimate made of the recorded restore speeds, and
// each says which it chose and what it estimated.
func TestRecoveryChoosesItsWay(t *testing.T) {
	needBackupTool(t)

	ctx := context.Background()

	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE md; CREATE TABLE md.t (id INT PRIMARY KEY, domain INT)")

	s := New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: m.Socket, User: "root", Workers: 2, Host: "127.0.0.1", Port: m.Port, Databases: []string{"md"},
		Binlog: config.Binlog{ServerID: 4242, SegmentSeconds: 1, SegmentBytes: 16 << 20},
	}}, func(string) string { return "" })
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull, Mode: config.ModeLogical}); err != nil {
		t.Fatal(err)
	}

	stop := streamer(t, s, r, &logBuffer{})
	defer stop()

	gtids := map[int]string{}
	insert := func(from, to int) {
		for i := from; i <= to; i++ {
			m.Exec(t, fmt.Sprintf("INSERT INTO md.t VALUES (%d, %d)", i, i%2))

			var g string
			if err := m.DB(t, "").QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&g); err != nil {
				t.Fatal(err)
			}

			gtids[i] = g
		}
	}

	insert(1, 5)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull, Mode: config.ModePhysical}); err != nil {
		t.Fatal(err)
	}

	insert(6, 9)
	waitArchived(t, s, r, gtids[9])
	stop()

	target := func(k int) binlog.Target {
		g, err := binlog.ParseGTID(gtids[k])
		if err != nil {
			t.Fatal(err)
		}

		return binlog.Target{GTID: &g}
	}

	// Into a data directory, the physical full reaches row 8.
	var out bytes.Buffer

	dir := filepath.Join(t.TempDir(), "datadir")

	rep, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Datadir: dir}, Target: target(8), Out: &out})
	if err != nil {
		t.Fatalf("recovery into a data directory: %v", err)
	}

	if !strings.HasPrefix(rep.Choice, "restore: using the physical full of ") || !strings.Contains(rep.Choice, "rather than the logical full of ") ||
		!strings.Contains(out.String(), rep.Choice) {
		t.Errorf("choice %q, output %s", rep.Choice, out.String())
	}

	// The recovery measured its copy speed into the repository (its replay,
	// under a kilobyte, is too small to measure).
	if sp, ok, err := records.State[restoreSpeeds](ctx, r, "db", speedsState); err != nil || !ok || sp.PhysicalCopy <= 0 {
		t.Errorf("speeds recorded after a physical recovery: %+v %v %v", sp, ok, err)
	}

	srv := openRestored(t, dir)
	checkRowsUpTo(t, srv.DB(), "md", 8, "physical recovery to row 8")
	srv.Stop(ctx) //nolint:errcheck // a scratch copy

	// Row 3 is before the physical full: a logical full loaded into a new
	// server in the data directory.
	dir = filepath.Join(t.TempDir(), "datadir")

	rep, err = s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Datadir: dir}, Target: target(3)})
	if err != nil {
		t.Fatalf("recovery into a data directory before the physical full: %v", err)
	}

	if !strings.HasPrefix(rep.Choice, "restore: using the logical full of ") || !strings.Contains(rep.Choice, "no physical backup reaches") ||
		!strings.Contains(rep.Restore.Physical, "loaded into a new server in "+dir) {
		t.Errorf("choice %q, restore %q", rep.Choice, rep.Restore.Physical)
	}

	srv = openRestored(t, dir)
	checkRowsUpTo(t, srv.DB(), "md", 3, "logical recovery into a data directory to row 3")
	srv.Stop(ctx) //nolint:errcheck // a scratch copy

	// A scratch recovery: the recorded speeds decide.
	for _, c := range []struct {
		speeds restoreSpeeds
		want   string
	}{
		{restoreSpeeds{LogicalLoad: 1, PhysicalCopy: 1e9, ReplaySerial: 1e6, ReplayParallel: 1e6}, "physical"},
		{restoreSpeeds{LogicalLoad: 1e9, PhysicalCopy: 1, ReplaySerial: 1e6, ReplayParallel: 1e6}, "logical"},
	} {
		if err := records.PutState(ctx, r, "db", speedsState, c.speeds); err != nil {
			t.Fatal(err)
		}

		dir := filepath.Join(t.TempDir(), "datadir")
		copyDB := "md_" + c.want

		out.Reset()

		rep, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Datadir: dir, Database: copyDB, Scratch: true}, Target: target(9), Out: &out})
		if err != nil {
			t.Fatalf("scratch recovery (%s expected): %v", c.want, err)
		}

		other := map[string]string{"physical": "logical", "logical": "physical"}[c.want]
		if !strings.HasPrefix(rep.Choice, "restore: using the "+c.want+" full of ") || !strings.Contains(rep.Choice, "rather than the "+other+" full of ") ||
			!strings.Contains(out.String(), "estimated from earlier restores") {
			t.Errorf("speeds %+v: choice %q, output %s", c.speeds, rep.Choice, out.String())
		}

		if c.want == "physical" {
			srv := openRestored(t, dir)
			checkRowsUpTo(t, srv.DB(), "md", 9, "scratch recovery, physical")
			srv.Stop(ctx) //nolint:errcheck // a scratch copy
		} else {
			checkRowsUpTo(t, m.DB(t, ""), copyDB, 9, "scratch recovery, logical")
		}
	}
}

// TestDrillCopyServed: a drill's recovery (Scratch, both ways open) that
// takes the physical way is served by a private server under the scratch
// name: its tables checked, assertions run there, stopped by DropDatabase.
func TestDrillCopyServed(t *testing.T) {
	needBackupTool(t)

	ctx := context.Background()

	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE md; CREATE TABLE md.t (id INT PRIMARY KEY, domain INT); USE md; INSERT INTO md.t SELECT seq, seq % 2 FROM seq_1_to_7")

	s := New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: m.Socket, User: "root", Workers: 2, Host: "127.0.0.1", Port: m.Port, Databases: []string{"md"},
	}}, func(string) string { return "" })
	r := newRepo(t)

	for _, mode := range []string{config.ModeLogical, config.ModePhysical} {
		if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull, Mode: mode}); err != nil {
			t.Fatalf("%s full: %v", mode, err)
		}
	}

	if db, err := s.OneDatabase(ctx, r); err != nil || db != "md" {
		t.Fatalf("OneDatabase with a newer physical full: %q, %v", db, err)
	}

	if err := records.PutState(ctx, r, "db", speedsState, restoreSpeeds{LogicalLoad: 1, PhysicalCopy: 1e9, ReplaySerial: 1e6, ReplayParallel: 1e6}); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "datadir")

	rec, err := s.Recover(ctx, r, "", time.Time{}, RestoreOptions{Scratch: true, Database: "lifeboat_drill_t", Datadir: dir})
	if err != nil {
		t.Fatal(err)
	}

	if rec.Datadir != dir || rec.Databases[0] != "lifeboat_drill_t" || rec.Tables != 1 || rec.Rows != 7 || !strings.Contains(rec.Choice, "using the physical full") {
		t.Fatalf("recovered %+v", rec)
	}

	if probs, err := s.Assert(ctx, "lifeboat_drill_t", []string{"SELECT COUNT(*) = 7 FROM t", "SELECT COUNT(*) = 6 FROM t"}, true); err != nil || len(probs) != 1 || !strings.Contains(probs[0], "= 6") {
		t.Fatalf("assertions in the served copy: %v, %v", probs, err)
	}

	if err := s.DropDatabase(ctx, "lifeboat_drill_t"); err != nil {
		t.Fatal(err)
	}

	if s.copies.get("lifeboat_drill_t") != nil {
		t.Error("the served copy is still known after DropDatabase")
	}

	// The server is gone: a server started on the directory now finds it
	// shut down cleanly.
	srv := openRestored(t, dir)
	checkRowsUpTo(t, srv.DB(), "md", 7, "the drill's copy after its server stopped")
}

// waitArchived waits until an archived segment ends at GTID position pos's
// last transaction.
func waitArchived(t *testing.T, s *Source, r *repo.Repository, pos string) {
	t.Helper()

	want := pos[strings.LastIndex(pos, ",")+1:]

	testenv.EventuallyNoError(t, 30*time.Second, func() error {
		arch, err := s.loadArchive(context.Background(), r)
		if err != nil {
			return err
		}

		for _, sg := range arch.Segments {
			if sg.GTIDLast == want {
				return nil
			}
		}

		return fmt.Errorf("no archived segment ends at %s", want)
	}, "the archive holds GTID "+want)
}
