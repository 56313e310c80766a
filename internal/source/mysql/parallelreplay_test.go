package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// trickySchema holds what parallel replay must order right: a parent whose
// deletes cascade to children (and orphans written without foreign key
// checks), a unique key whose values are deleted and
// inserted again (also in another letter case) in close transactions, a
// table without a primary key, and a journal of the workload's
// transactions.
const trickySchema = `
CREATE TABLE fk_parent (id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB;
CREATE TABLE fk_child (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, v INT NOT NULL,
  FOREIGN KEY (parent_id) REFERENCES fk_parent (id) ON DELETE CASCADE) ENGINE=InnoDB;
CREATE TABLE uq (id INT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(20) NOT NULL, n INT NOT NULL, UNIQUE KEY (code)) ENGINE=InnoDB;
CREATE TABLE nopk (a INT, b VARCHAR(40)) ENGINE=InnoDB;
CREATE TABLE journal (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL) ENGINE=InnoDB`

// trickyStep runs one random transaction of the tricky workload; errors a
// concurrent change causes (a parent deleted meanwhile) roll it back.
func trickyStep(ctx context.Context, db *sql.DB, name string, rng *rand.Rand, k int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}

	q := func(s string, args ...any) {
		if err == nil {
			_, err = tx.ExecContext(ctx, strings.ReplaceAll(s, "DB.", "`"+name+"`."), args...)
		}
	}

	p := rng.IntN(40)

	switch rng.IntN(7) {
	case 0:
		q("INSERT IGNORE INTO DB.fk_parent VALUES (?, ?)", p, fmt.Sprint("parent ", k))
		q("INSERT INTO DB.fk_child (parent_id, v) SELECT id, ? FROM DB.fk_parent WHERE id = ?", k, p)
	case 1:
		q("DELETE FROM DB.fk_parent WHERE id = ?", p)
	case 2:
		q("UPDATE DB.fk_child SET v = v + 1, parent_id = (SELECT MIN(id) FROM DB.fk_parent) WHERE id % 40 = ?", p)
	case 3:
		// Unique key churn: the value leaves in one transaction and comes
		// back, in another case, in the next.
		q("DELETE FROM DB.uq WHERE code = ?", fmt.Sprint("c", p))
	case 4:
		code := fmt.Sprint("c", p)
		if k%2 == 0 {
			code = strings.ToUpper(code)
		}

		q("INSERT INTO DB.uq (code, n) VALUES (?, ?) ON DUPLICATE KEY UPDATE n = n + 1", code, k)
	case 5:
		// A session without foreign key checks leaves an orphan: the
		// replay must apply it as logged.
		q("SET SESSION foreign_key_checks = 0")
		q("INSERT INTO DB.fk_child (parent_id, v) VALUES (?, ?)", 1000+p, k)
		q("SET SESSION foreign_key_checks = 1")
	default:
		q("INSERT INTO DB.nopk VALUES (?, ?)", p, fmt.Sprint("row ", k))
		q("UPDATE DB.nopk SET b = CONCAT(b, '+') WHERE a = ?", (p+1)%40)
		q("DELETE FROM DB.nopk WHERE a = ? LIMIT 1", (p+2)%40)
	}

	q("INSERT INTO DB.journal (k) VALUES (?)", k)

	if err != nil {
		tx.Rollback() //nolint:errcheck
		return nil
	}

	return tx.Commit()
}

// trickyWorkload runs the tricky workload on workers connections until ctx
// ends; holding gate stops it between transactions.
func trickyWorkload(ctx context.Context, db *sql.DB, name string, workers int, gate *sync.RWMutex) (wait func() error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)

	for w := range workers {
		wg.Add(1)

		go func() {
			defer wg.Done()

			rng := rand.New(rand.NewPCG(uint64(w), 11))

			for ctx.Err() == nil {
				mu.Lock()
				next++
				k := next
				mu.Unlock()

				gate.RLock()
				err := trickyStep(ctx, db, name, rng, k)
				gate.RUnlock()
				time.Sleep(2 * time.Millisecond) // paces the load generator; not a wait

				if err != nil && ctx.Err() == nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()

					return
				}
			}
		}()
	}

	return func() error { wg.Wait(); return first }
}

// TestParallelReplay runs the booking workload and the tricky one together
// while the binlog streams, with a DDL change, a new table, a
// statement-logged change and a temporary table in the middle; recovery to
// several recorded instants with four replay connections and
// with the serial pipe both give exactly the recorded checksums. Stopping a
// parallel replay leaves the full plus a prefix of the binlog, and a
// replay error names the transaction and what the database holds.
func TestParallelReplay(t *testing.T) {
	ctx := context.Background()
	const name = "sml_par"

	db := smlDatabase(t, server, name)
	for _, stmt := range strings.Split(trickySchema, ";") {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}

	s := pitrSource(server, name)
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	logs := &logBuffer{}
	stop := streamer(t, s, r, logs)

	var gate sync.RWMutex

	wctx, cancel := context.WithCancel(ctx)
	waitBooking := gatedWorkload(wctx, server.DB(t, name), name, 2, 5*time.Millisecond, &gate)
	waitTricky := trickyWorkload(wctx, server.DB(t, name), name, 3, &gate)

	var instants []instant

	for i := range 10 {
		time.Sleep(400 * time.Millisecond) // the workload runs between two recorded instants; not a wait
		instants = append(instants, record(t, db, name, &gate))

		if i == 4 {
			gate.Lock()
			server.Exec(t, "ALTER TABLE "+name+".uq ADD COLUMN extra INT NOT NULL DEFAULT 7")
			server.Exec(t, "CREATE TABLE "+name+".late (id INT PRIMARY KEY, v INT)")
			server.Exec(t, "INSERT INTO "+name+".late VALUES (1, 1), (2, 2)")
			gate.Unlock()
		}

		// Statement-logged changes are barriers; a temporary table makes
		// the rest of the replay serial, in one session.
		if i == 6 {
			server.Exec(t, "SET SESSION binlog_format = 'STATEMENT'; UPDATE "+name+".late SET v = v + 1")
		}

		if i == 7 {
			server.Exec(t, "SET SESSION binlog_format = 'STATEMENT'; CREATE TEMPORARY TABLE "+name+".tmp (x INT); "+
				"INSERT INTO "+name+".tmp VALUES (5), (6); INSERT INTO "+name+".late SELECT 100 + x, x FROM "+name+".tmp")
		}
	}

	cancel()

	if err := errors.Join(waitBooking(), waitTricky()); err != nil {
		t.Fatalf("workload: %v", err)
	}

	waitRestorable(t, s, r, instants[len(instants)-1].at)
	stop()

	for _, i := range []int{2, 5, 9} {
		in := instants[i]

		for _, workers := range []int{4, 1} {
			target := fmt.Sprintf("par_%d_%d", i, workers)

			rep, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: target}, Target: binlog.Target{Time: in.at}, ReplayWorkers: workers})
			if err != nil {
				t.Fatalf("recover to instant %d with %d replay workers: %v", i, workers, err)
			}

			if d := sameSums(in.sums, tableSums(t, db, target)); d != "" {
				t.Errorf("instant %d, %d replay workers (%d transactions replayed): %s", i, workers, rep.Replay.Transactions, d)
			}

			server.Exec(t, "DROP DATABASE "+target)
		}
	}

	t.Run("stopped", func(t *testing.T) { stoppedReplay(t, s, r, db) })
	t.Run("error", func(t *testing.T) { failedReplay(t, s, r, db, name) })
}

// stoppedReplay stops a parallel replay after 20 commits
// committed: the copy equals a serial recovery to the last one committed.
func stoppedReplay(t *testing.T, s *Source, r *repo.Repository, db *sql.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		mu        sync.Mutex
		committed int
		last      string
	)

	s.replayCommitted = func(gtid string) {
		mu.Lock()
		defer mu.Unlock()

		committed++
		if committed == 20 {
			last = gtid
			cancel()
		}
	}
	defer func() { s.replayCommitted = nil }()

	_, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "par_stopped"}, ReplayWorkers: 4})
	if err == nil || !strings.Contains(err.Error(), "the database holds the full plus the transactions committed so far, in their order") {
		t.Fatalf("a stopped replay: want an error saying what the database holds, got %v", err)
	}

	if last == "" {
		t.Fatal("the replay ended before 20 commits: make the workload longer")
	}

	g, err := binlog.ParseGTID(last)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.RestoreToPoint(context.Background(), r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "par_prefix"}, Target: binlog.Target{GTID: &g}, ReplayWorkers: 1}); err != nil {
		t.Fatal(err)
	}

	if d := sameSums(tableSums(t, db, "par_prefix"), tableSums(t, db, "par_stopped")); d != "" {
		t.Errorf("the stopped replay is not the full plus the binlog up to %s: %s", last, d)
	}

	server.Exec(t, "DROP DATABASE par_stopped")
	server.Exec(t, "DROP DATABASE par_prefix")
}

// failedReplay drops a table of the copy before the replay: the replay
// stops at the first transaction writing to it, names it, and the copy
// holds the full plus every transaction before it; the source is untouched.
func failedReplay(t *testing.T, s *Source, r *repo.Repository, db *sql.DB, name string) {
	before := tableSums(t, db, name)

	s.beforeReplay = func() { server.Exec(t, "DROP TABLE par_failed.nopk") }
	_, err := s.RestoreToPoint(context.Background(), r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "par_failed"}, ReplayWorkers: 4})
	s.beforeReplay = nil

	if err == nil {
		t.Fatal("the replay into a copy without one of its tables succeeded")
	}

	msg := err.Error()
	m := regexp.MustCompile(`replaying the binlog failed at transaction \d+ of the replay \(GTID ([0-9-]+), committed at [^)]+\): ERROR 1146: .*nopk.* doesn't exist; the database holds the full backup plus every transaction before it \(the last one applied had GTID ([0-9-]+)\)`).FindStringSubmatch(msg)

	if m == nil {
		t.Fatalf("the error does not name the transaction and what the database holds: %v", err)
	}

	g, err := binlog.ParseGTID(m[2])
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.RestoreToPoint(context.Background(), r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "par_before"}, Target: binlog.Target{GTID: &g}, ReplayWorkers: 1}); err != nil {
		t.Fatal(err)
	}

	want := tableSums(t, db, "par_before")
	delete(want, "nopk")

	if d := sameSums(want, tableSums(t, db, "par_failed")); d != "" {
		t.Errorf("after the failed replay the copy is not the full plus the binlog up to %s: %s", m[2], d)
	}

	if d := sameSums(before, tableSums(t, db, name)); d != "" {
		t.Errorf("the source database changed: %s", d)
	}

	for _, d := range []string{"par_failed", "par_before"} {
		server.Exec(t, "DROP DATABASE "+d)
	}

	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}

	sort.Strings(names)
	t.Logf("failed at GTID %s; compared %s", m[1], strings.Join(names, ", "))
}
