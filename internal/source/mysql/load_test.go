package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"lifeboat/examples/sml-library/smlgen"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

// TestBackupUnderLoadIsConsistent backs up the Smart Library while a workload
// books and cancels on four connections; the restored copy must keep every
// invariant (no double booking, counters equal to bookings), which it would
// not if tables were read at different moments.
func TestBackupUnderLoadIsConsistent(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")

	if err := smlgen.CreateSchema(ctx, db, "sml_load"); err != nil {
		t.Fatal(err)
	}

	sc := smlgen.ScaleFor(50000)
	if err := smlgen.Generate(ctx, db, "sml_load", sc); err != nil {
		t.Fatal(err)
	}

	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)

	var st *smlgen.Stats

	go func() {
		var err error
		st, err = smlgen.Workload(wctx, db, "sml_load", 4, sc)
		done <- err
	}()

	time.Sleep(500 * time.Millisecond) // the load runs before the backup starts; pacing, not a wait

	r := newRepo(t)
	src := newSource("sml_load")

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})

	time.Sleep(300 * time.Millisecond) // and a while after it ends; pacing, not a wait
	stop()

	if werr := <-done; werr != nil {
		t.Fatalf("workload: %v", werr)
	}

	if err != nil {
		t.Fatal(err)
	}

	if st.Booked.Load()+st.Cancelled.Load() < 50 {
		t.Fatalf("the workload barely ran (%d booked, %d cancelled): the test proves nothing", st.Booked.Load(), st.Cancelled.Load())
	}

	meta, _ := LoadMeta(snap)
	t.Logf("workload %d booked / %d cancelled; writes blocked %d ms for the consistent point", st.Booked.Load(), st.Cancelled.Load(), meta.LockedMillis)

	if _, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sml_load_restored"}); err != nil {
		t.Fatal(err)
	}

	if err := smlgen.CheckInvariants(ctx, db, "sml_load_restored"); err != nil {
		t.Fatalf("restored copy of a backup taken under load: %v", err)
	}
}

// waitForQuery blocks until a query matching pattern runs on the server.
func waitForQuery(t *testing.T, db *sql.DB, pattern string) {
	t.Helper()

	testenv.Eventually(t, 20*time.Second, func() bool {
		var n int
		db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ?", pattern).Scan(&n)

		return n > 0
	}, fmt.Sprintf("a query like %q to start", pattern))
}

func bigTable(t *testing.T, srv *testenv.MariaDB, dbname string) {
	t.Helper()

	srv.Exec(t, "CREATE DATABASE "+dbname+"; CREATE TABLE "+dbname+".a_big (id INT PRIMARY KEY, pad VARCHAR(200)); "+
		"CREATE TABLE "+dbname+".z_victim (id INT PRIMARY KEY); INSERT INTO "+dbname+".z_victim VALUES (1);")

	db := srv.DB(t, "")

	var b strings.Builder

	for batch := 0; batch < 300; batch++ {
		b.Reset()
		b.WriteString("INSERT INTO " + dbname + ".a_big VALUES ")

		for i := 0; i < 1000; i++ {
			if i > 0 {
				b.WriteByte(',')
			}

			fmt.Fprintf(&b, "(%d, REPEAT('x', 200))", batch*1000+i)
		}

		if _, err := db.Exec(b.String()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTableDroppedMidDump(t *testing.T) {
	ctx := context.Background()
	bigTable(t, server, "mid_drop")

	db := server.DB(t, "")
	r := newRepo(t)
	src := newSource("mid_drop")
	src.cfg.MySQL.Workers = 1

	errc := make(chan error, 1)
	go func() {
		_, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
		errc <- err
	}()

	waitForQuery(t, db, "SELECT %a_big%")

	if _, err := db.Exec("DROP TABLE mid_drop.z_victim"); err != nil {
		t.Fatal(err)
	}

	err := <-errc
	if err == nil {
		t.Fatal("a backup missing a dropped table succeeded")
	}

	t.Log(err)

	for _, want := range []string{"nothing was saved", "z_victim", "back up again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}

	if snaps, _ := r.Snapshots(ctx, ""); len(snaps) != 0 {
		t.Fatalf("listed %d snapshots after a failed dump", len(snaps))
	}
}

func TestServerKilledMidDump(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMariaDB(t)
	bigTable(t, srv, "mid_kill")

	db := srv.DB(t, "")
	r := newRepo(t)
	src := New(newSource().cfg, func(string) string { return "" })
	src.cfg.MySQL.Socket, src.cfg.MySQL.Databases, src.cfg.MySQL.Workers = srv.Socket, []string{"mid_kill"}, 1

	errc := make(chan error, 1)
	go func() {
		_, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
		errc <- err
	}()

	waitForQuery(t, db, "SELECT %a_big%")
	db.Close()

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}

	err := <-errc
	if err == nil {
		t.Fatal("a backup whose server died succeeded")
	}

	t.Log(err)

	if !strings.Contains(err.Error(), "nothing was saved") && !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("message does not say what happened: %v", err)
	}

	if snaps, _ := r.Snapshots(ctx, ""); len(snaps) != 0 {
		t.Fatalf("listed %d snapshots after the server died", len(snaps))
	}
}
