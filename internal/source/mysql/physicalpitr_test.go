package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/examples/sml-library/smlgen"
	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

func physicalPITRSource(m *testenv.MariaDB, workers int) *Source {
	return New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: m.Socket, User: "root", Workers: workers, Host: "127.0.0.1", Port: m.Port, Mode: config.ModePhysical,
		Binlog: config.Binlog{ServerID: 4242, SegmentSeconds: 1, SegmentBytes: 16 << 20},
	}}, func(string) string { return "" })
}

type gtidInstant struct {
	instant
	gtid string
}

// recordGTID is record plus the server's GTID position at the instant,
// all read while the workload is held.
func recordGTID(t *testing.T, db *sql.DB, name string, gate *sync.RWMutex) gtidInstant {
	gate.Lock()
	defer gate.Unlock()

	time.Sleep(150 * time.Millisecond) // as record: the last commit reaches the streamer; not a wait

	var g string
	if err := db.QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&g); err != nil {
		t.Fatal(err)
	}

	return gtidInstant{instant: instant{at: time.Now(), sums: tableSums(t, db, name)}, gtid: g}
}

// TestPhysicalPITR streams the binlog while the booking workload runs,
// with a physical full before and a physical incremental in the middle;
// recovery into a fresh data directory to 10 random recorded instants (by
// time, and some by GTID) gives exactly the recorded checksums, and the
// replay by parallel replication gives what a one-worker replay gives.
func TestPhysicalPITR(t *testing.T) {
	needBackupTool(t)

	ctx := context.Background()
	const name = "sml_phys"

	m := testenv.StartMariaDB(t)
	db := smlDatabase(t, m, name)
	s := physicalPITRSource(m, 4)
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	logs := &logBuffer{}
	stop := streamer(t, s, r, logs)

	var gate sync.RWMutex

	wctx, cancel := context.WithCancel(ctx)
	wait := gatedWorkload(wctx, m.DB(t, name), name, 3, 5*time.Millisecond, &gate)

	var (
		instants  []gtidInstant
		underLoad *repo.Snapshot
	)

	for i := 0; i < 14; i++ {
		time.Sleep(300 * time.Millisecond) // the workload runs between two recorded instants; not a wait
		instants = append(instants, recordGTID(t, db, name, &gate))

		if i == 6 {
			inc, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental})
			if err != nil {
				t.Fatalf("physical incremental under load: %v", err)
			}

			underLoad = inc
		}
	}

	cancel()

	if err := wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}

	waitRestorable(t, s, r, instants[len(instants)-1].at)
	stop()

	// The incremental taken under the workload, restored on its own,
	// keeps the application's invariants.
	dir := filepath.Join(t.TempDir(), "datadir")
	if _, err := s.RestoreDatabase(ctx, r, underLoad, RestoreOptions{Datadir: dir}); err != nil {
		t.Fatal(err)
	}

	if err := smlgen.CheckInvariants(ctx, openRestored(t, dir).DB(), name); err != nil {
		t.Errorf("the physical incremental taken under load: %v", err)
	}

	rng := rand.New(rand.NewPCG(3, 4))
	picks := rng.Perm(len(instants))[:10]
	sort.Ints(picks)

	serial := physicalPITRSource(m, 1)

	for n, i := range picks {
		in := instants[i]
		target := binlog.Target{Time: in.at}

		if n%3 == 2 {
			g, err := binlog.ParseGTID(in.gtid)
			if err != nil {
				t.Fatalf("GTID %q: %v", in.gtid, err)
			}

			target = binlog.Target{GTID: &g}
		}

		got := recoverPhysical(t, s, r, target)
		if d := sameSums(in.sums, got); d != "" {
			t.Errorf("instant %d (%s): %s", i, target, d)
		}

		// The serial replay of the same recovery, for some of them.
		if n%4 == 0 {
			if d := sameSums(got, recoverPhysical(t, serial, r, target)); d != "" {
				t.Errorf("instant %d (%s): one worker and four differ: %s", i, target, d)
			}
		}
	}
}

// recoverPhysical recovers s to target into a fresh data directory and
// returns the checksums a server started there reads.
func recoverPhysical(t *testing.T, s *Source, r *repo.Repository, target binlog.Target) map[string]string {
	t.Helper()

	dir := filepath.Join(t.TempDir(), "datadir")

	rep, err := s.RestoreToPoint(context.Background(), r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Datadir: dir}, Target: target})
	if err != nil {
		t.Fatalf("recover to %s: %v", target, err)
	}

	if rep.Restore == nil || rep.Restore.Physical == "" {
		t.Fatalf("recover to %s did not restore a physical backup: %+v", target, rep.Restore)
	}

	srv := openRestored(t, dir)
	defer srv.Stop(context.Background())

	if err := smlgen.CheckInvariants(context.Background(), srv.DB(), "sml_phys"); err != nil {
		t.Errorf("recovered to %s: %v", target, err)
	}

	return tableSums(t, srv.DB(), "sml_phys")
}

// TestPhysicalPITRTwoDomains: the binlog holds transactions of two GTID
// domains, a large one of domain 1 followed by small ones of domain 0;
// the parallel replay into the scratch server waits for the last GTID of
// both domains, so the recovered instant holds both domains' last
// transactions and the position reached is the source's.
func TestPhysicalPITRTwoDomains(t *testing.T) {
	needBackupTool(t)

	ctx := context.Background()

	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE md")
	m.Exec(t, "CREATE TABLE md.a (id INT PRIMARY KEY, v VARCHAR(20))")
	m.Exec(t, "CREATE TABLE md.b (id INT PRIMARY KEY, v VARCHAR(200))")

	s := physicalPITRSource(m, 4)
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	stop := streamer(t, s, r, &logBuffer{})
	defer stop()

	// One session per domain: gtid_domain_id is a session setting.
	c, err := m.DB(t, "md").Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	for _, q := range []string{
		"SET SESSION gtid_domain_id = 1",
		"INSERT INTO b SELECT seq, REPEAT('x', 150) FROM seq_1_to_60000",
		"UPDATE b SET v = 'domain 1' WHERE id <= 30000",
		"INSERT INTO b VALUES (0, 'last of domain 1')",
		"SET SESSION gtid_domain_id = 0",
		"INSERT INTO a VALUES (1, 'first')",
		"INSERT INTO a VALUES (2, 'last of domain 0')",
	} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	var want string
	if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&want); err != nil {
		t.Fatal(err)
	}

	if !strings.Contains(want, ",") {
		t.Fatalf("the source's binlog position %q names one domain; the test needs two", want)
	}

	var lastA string
	if err := c.QueryRowContext(ctx, "SELECT @@SESSION.last_gtid").Scan(&lastA); err != nil {
		t.Fatal(err)
	}

	// The streamer stamps a transaction with the time it arrived (the
	// large one delays those after it), so the instant recovered to is
	// taken once the archive holds the binlog's last transaction. The
	// target is a time: a GTID names one domain's transaction only.
	testenv.EventuallyNoError(t, 30*time.Second, func() error {
		arch, err := s.loadArchive(ctx, r)
		if err != nil {
			return err
		}

		for _, sg := range arch.Segments {
			if sg.GTIDLast == lastA {
				return nil
			}
		}

		return fmt.Errorf("no archived segment ends at %s", lastA)
	}, "the archive holds GTID "+lastA)

	at := time.Now()
	waitRestorable(t, s, r, at)

	dir := filepath.Join(t.TempDir(), "datadir")

	rep, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Datadir: dir}, Target: binlog.Target{Time: at}})
	if err != nil {
		t.Fatalf("recover to %s: %v", at, err)
	}

	if got := rep.Replay.Position(); sortedPos(got) != sortedPos(want) {
		t.Errorf("the replay reached %q, the source is at %q", got, want)
	}

	srv := openRestored(t, dir)

	for _, q := range []struct{ sql, want string }{
		{"SELECT v FROM md.b WHERE id = 0", "last of domain 1"},
		{"SELECT v FROM md.a WHERE id = 2", "last of domain 0"},
		{"SELECT COUNT(*) FROM md.b WHERE v = 'domain 1'", "30000"},
		{"SELECT COUNT(*) FROM md.b", "60001"},
	} {
		var got string
		if err := srv.DB().QueryRowContext(ctx, q.sql).Scan(&got); err != nil {
			t.Errorf("%s on the recovered copy: %v", q.sql, err)
		} else if got != q.want {
			t.Errorf("%s on the recovered copy: %q, want %q", q.sql, got, q.want)
		}
	}

	var applied string
	if err := srv.DB().QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_slave_pos").Scan(&applied); err != nil {
		t.Fatal(err)
	}

	if sortedPos(applied) != sortedPos(want) {
		t.Errorf("the recovered copy applied up to %q, the source is at %q", applied, want)
	}
}

// sortedPos is a GTID position with its domains in order.
func sortedPos(p string) string {
	parts := strings.Split(p, ",")
	sort.Strings(parts)

	return strings.Join(parts, ",")
}
