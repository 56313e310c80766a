package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
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

// pitrSource is a source on srv's socket (which survives restarts) with
// short segments so tests wait little.
func pitrSource(srv *testenv.MariaDB, dbs ...string) *Source {
	return New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: srv.Socket, User: "root", Databases: dbs, Workers: 3, Host: "127.0.0.1", Port: srv.Port,
		Binlog: config.Binlog{ServerID: 4242, SegmentSeconds: 1, SegmentBytes: 16 << 20},
	}}, func(string) string { return "" })
}

// logBuffer collects a test's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.b.String()
}

// streamer runs the binlog streamer until the returned stop is called.
func streamer(t *testing.T, s *Source, r *repo.Repository, log *logBuffer) (stop func()) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	a := s.Archiver(r, slog.New(slog.NewTextHandler(log, nil)), "test")

	go func() { done <- a.Stream(ctx) }()

	var once sync.Once

	stop = func() {
		once.Do(func() {
			cancel()

			if err := <-done; err != nil {
				t.Errorf("streamer: %v", err)
			}
		})
	}

	t.Cleanup(stop)

	return stop
}

// waitRestorable waits until the source can be recovered to t.
func waitRestorable(t *testing.T, s *Source, r *repo.Repository, at time.Time) {
	t.Helper()

	testenv.EventuallyNoError(t, 30*time.Second, func() error {
		got, err := s.Restorable(context.Background(), r)
		if err != nil {
			return err
		}

		if got.Before(at) {
			return fmt.Errorf("newest restorable %s", got.Format(time.RFC3339Nano))
		}

		return nil
	}, "the archive to reach "+at.Format(time.RFC3339Nano))
}

// tableSums is every table's CHECKSUM TABLE of database name.
func tableSums(t *testing.T, db *sql.DB, name string) map[string]string {
	t.Helper()

	rows, err := db.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1", name)
	if err != nil {
		t.Fatal(err)
	}

	var tables []string

	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}

	rows.Close()

	out := map[string]string{}

	for _, tbl := range tables {
		var n, sum sql.NullString
		if err := db.QueryRow(fmt.Sprintf("CHECKSUM TABLE `%s`.`%s`", name, tbl)).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}

		var count int64
		db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM `%s`.`%s`", name, tbl)).Scan(&count)
		out[tbl] = fmt.Sprintf("%d rows, checksum %s", count, sum.String)
	}

	return out
}

func sameSums(want, got map[string]string) string {
	var diffs []string

	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s", k, v, got[k]))
		}
	}

	for k, v := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected table (%s)", k, v))
		}
	}

	sort.Strings(diffs)

	return strings.Join(diffs, "; ")
}

// gatedWorkload runs the booking workload with workers connections; holding
// gate stops it between transactions, so an instant can be recorded exactly.
// Each worker pauses pause between transactions.
func gatedWorkload(ctx context.Context, db *sql.DB, name string, workers int, pause time.Duration, gate *sync.RWMutex) (wait func() error) {
	sc := smlgen.ScaleFor(2000)
	st := &smlgen.Stats{}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)

	for w := 0; w < workers; w++ {
		wg.Add(1)

		go func(w int) {
			defer wg.Done()

			rng := rand.New(rand.NewPCG(uint64(w), 7))

			for ctx.Err() == nil {
				gate.RLock()
				_, err := smlgen.Step(ctx, db, name, rng, sc, st)
				gate.RUnlock()
				time.Sleep(pause) // paces the load generator; not a wait

				if err != nil && ctx.Err() == nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()

					return
				}
			}
		}(w)
	}

	return func() error { wg.Wait(); return first }
}

func smlDatabase(t *testing.T, srv *testenv.MariaDB, name string) *sql.DB {
	t.Helper()

	srv.Exec(t, "CREATE DATABASE "+name)
	db := srv.DB(t, name)

	if err := smlgen.CreateSchema(context.Background(), db, name); err != nil {
		t.Fatal(err)
	}

	if err := smlgen.Generate(context.Background(), db, name, smlgen.ScaleFor(2000)); err != nil {
		t.Fatal(err)
	}

	return db
}

type instant struct {
	at   time.Time
	sums map[string]string
}

// record pauses the workload, waits until the last commit has surely reached
// the streamer, and notes the time and every table's checksum.
func record(t *testing.T, db *sql.DB, name string, gate *sync.RWMutex) instant {
	gate.Lock()
	defer gate.Unlock()

	// The instant falls after the last commit has reached the streamer
	// (a recovery to an instant includes what had arrived by then; under load
	// that can take tens of milliseconds); not a wait.
	time.Sleep(150 * time.Millisecond)
	at := time.Now()

	return instant{at: at, sums: tableSums(t, db, name)}
}

// TestPITRToRecordedInstants streams the binlog while the booking workload
// runs (with a rotation in the middle), recording every half second the time
// and every table's checksum; recovery to 20 random recorded instants gives
// exactly those checksums.
func TestPITRToRecordedInstants(t *testing.T) {
	ctx := context.Background()
	const name = "sml_pitr"

	db := smlDatabase(t, server, name)
	s := pitrSource(server, name)
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	logs := &logBuffer{}
	stop := streamer(t, s, r, logs)

	var gate sync.RWMutex

	wctx, cancel := context.WithCancel(ctx)
	wait := gatedWorkload(wctx, server.DB(t, name), name, 3, 5*time.Millisecond, &gate)

	var instants []instant

	for i := 0; i < 24; i++ {
		time.Sleep(500 * time.Millisecond) // the workload runs between two recorded instants; not a wait
		instants = append(instants, record(t, db, name, &gate))

		if i == 10 {
			server.Exec(t, "FLUSH BINARY LOGS")
		}
	}

	cancel()

	if err := wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}

	waitRestorable(t, s, r, instants[len(instants)-1].at)
	stop()

	rng := rand.New(rand.NewPCG(1, 2))
	picks := rng.Perm(len(instants))[:20]
	sort.Ints(picks)

	for _, i := range picks {
		in := instants[i]
		target := fmt.Sprintf("pitr_%d", i)

		rep, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: target}, Target: binlog.Target{Time: in.at}})
		if err != nil {
			t.Fatalf("recover to instant %d (%s): %v", i, in.at.Format(time.RFC3339Nano), err)
		}

		if d := sameSums(in.sums, tableSums(t, db, target)); d != "" {
			t.Errorf("instant %d (%s, %d transactions replayed): %s", i, in.at.Format(time.RFC3339Nano), rep.Replay.Transactions, d)
		}

		server.Exec(t, "DROP DATABASE "+target)
	}

	if strings.Contains(logs.String(), "GAP") {
		t.Errorf("the streamer reported a gap:\n%s", logs)
	}
}

// TestPITRAroundDropTable drops the bookings table in the middle of the
// workload (the application then recreates it and goes on booking); recovery
// to just before the drop, by time and by position, gives back every booking
// committed before it, and skipping the drop's GTID gives back every booking
// from before and after it.
func TestPITRAroundDropTable(t *testing.T) {
	ctx := context.Background()
	const name = "sml_drop"

	db := smlDatabase(t, server, name)
	s := pitrSource(server, name)
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	stop := streamer(t, s, r, &logBuffer{})

	var gate sync.RWMutex

	wctx, cancel := context.WithCancel(ctx)
	wait := gatedWorkload(wctx, server.DB(t, name), name, 2, 5*time.Millisecond, &gate)

	time.Sleep(2 * time.Second) // two seconds of workload before the drop; not a wait

	// The drop, in a quiet moment so its position and time are exact.
	gate.Lock()
	cancel()
	gate.Unlock()

	if err := wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}

	var create, tbl string
	if err := db.QueryRow("SHOW CREATE TABLE bookings").Scan(&tbl, &create); err != nil {
		t.Fatal(err)
	}

	before := ids(t, db, name)
	// The instant falls after the last commit has reached the streamer
	// (a recovery to an instant includes what had arrived by then; under load
	// that can take tens of milliseconds); not a wait.
	time.Sleep(150 * time.Millisecond)
	beforeAt := time.Now()
	pos := masterPos(t, db)

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := conn.ExecContext(ctx, "DROP TABLE bookings"); err != nil {
		t.Fatal(err)
	}

	var dropGTID string
	conn.QueryRowContext(ctx, "SELECT @@SESSION.last_gtid").Scan(&dropGTID)
	conn.Close()

	// The application notices, recreates the table and goes on taking
	// bookings (for next year's slots).
	if _, err := db.Exec(strings.Replace(create, "CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)); err != nil {
		t.Fatal(err)
	}

	var maxID int64
	for _, b := range before {
		var id int64
		fmt.Sscanf(b, "%d:", &id)
		maxID = max(maxID, id)
	}

	for i := int64(1); i <= 40; i++ {
		if _, err := db.Exec("INSERT INTO bookings (id, user_id, room_id, slot_date, slot_hour, notes) VALUES (?, ?, ?, ?, 9, 'after the drop')",
			maxID+i, 1+i%50, 1+i%20, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(i)).Format(time.DateOnly)); err != nil {
			t.Fatal(err)
		}
	}

	after := ids(t, db, name)
	if len(after) != 40 || len(before) == 0 {
		t.Fatalf("bookings: %d before the drop, %d after, want some and 40", len(before), len(after))
	}

	waitRestorable(t, s, r, time.Now())
	stop()

	g, err := binlog.ParseGTID(dropGTID)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		how    string
		target binlog.Target
		want   []string
	}{
		{"by time", binlog.Target{Time: beforeAt}, before},
		{"by position", binlog.Target{File: pos.File, Pos: pos.Pos}, before},
		{"by GTID", binlog.Target{GTID: &binlog.GTID{Domain: g.Domain, Server: g.Server, Seq: g.Seq - 1}}, before},
		{"skipping the drop", binlog.Target{Skip: []binlog.GTID{g}}, append(append([]string{}, before...), after...)},
	} {
		target := "drop_" + strings.ReplaceAll(c.how, " ", "_")

		if _, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: target}, Target: c.target}); err != nil {
			t.Fatalf("recover %s: %v", c.how, err)
		}

		got := ids(t, db, target)
		if strings.Join(got, ",") != strings.Join(sortedIDs(c.want), ",") {
			t.Errorf("recover %s: %d bookings, want %d", c.how, len(got), len(c.want))
		}

		server.Exec(t, "DROP DATABASE "+target)
	}

	// The original database was never touched by the recoveries.
	if got := ids(t, db, name); strings.Join(got, ",") != strings.Join(after, ",") {
		t.Errorf("the live database changed: %d bookings, want %d", len(got), len(after))
	}
}

func ids(t *testing.T, db *sql.DB, name string) []string {
	t.Helper()

	rows, err := db.Query(fmt.Sprintf("SELECT CONCAT(id, ':', status) FROM `%s`.bookings ORDER BY id", name))
	if err != nil {
		t.Fatalf("bookings of %s: %v", name, err)
	}
	defer rows.Close()

	var out []string

	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}

	return sortedIDs(out)
}

func sortedIDs(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)

	return out
}

func masterPos(t *testing.T, db *sql.DB) binlog.Coord {
	t.Helper()

	m := &Meta{ServerVersion: "mariadb"}
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if err := readBinlogPosition(context.Background(), c, m); err != nil {
		t.Fatal(err)
	}

	return binlog.Coord{File: m.BinlogFile, Pos: uint32(m.BinlogPos)}
}

// TestStreamerRidesThroughRestartsAndRotation keeps streaming across a
// rotation, a clean restart and a crash of the server: no gap is recorded,
// every archived byte equals the server's own binlog files, and recovery to
// the end gives the live data.
func TestStreamerRidesThroughRestartsAndRotation(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMariaDB(t)
	srv.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(50), qty INT)")

	s := pitrSource(srv, "shop")
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	logs := &logBuffer{}
	stop := streamer(t, s, r, logs)

	insert := func(n int, what string) {
		t.Helper()

		db := srv.DB(t, "shop")
		for i := 0; i < n; i++ {
			if _, err := db.Exec("INSERT INTO orders (item, qty) VALUES (?, ?)", what, i); err != nil {
				t.Fatalf("insert %s: %v", what, err)
			}
		}

		db.Close()
	}

	insert(50, "before rotation")
	srv.Exec(t, "FLUSH BINARY LOGS")
	insert(50, "after rotation")
	// The restart comes once the streamer has archived these.
	waitRestorable(t, s, r, time.Now())

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}

	insert(50, "after restart")
	// And the crash once it has archived these.
	waitRestorable(t, s, r, time.Now())

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}

	insert(50, "after crash")

	waitRestorable(t, s, r, time.Now())
	stop()

	arch, err := binlog.Load(ctx, r, "db")
	if err != nil {
		t.Fatal(err)
	}

	if len(arch.Gaps) > 0 || strings.Contains(logs.String(), "GAP") {
		t.Fatalf("gaps recorded: %+v\n%s", arch.Gaps, logs)
	}

	// Each archived range is byte for byte the server's file.
	files := map[string]bool{}

	for _, seg := range arch.Segments {
		if seg.Events == 0 {
			continue
		}

		files[seg.File] = true

		disk, err := os.ReadFile(filepath.Join(srv.BinlogDir(), seg.File))
		if err != nil {
			t.Fatal(err)
		}

		rc, err := r.OpenSegment(ctx, seg.Segment)
		if err != nil {
			t.Fatal(err)
		}

		var got bytes.Buffer
		_, err = got.ReadFrom(rc)
		rc.Close()

		if err != nil {
			t.Fatalf("read segment: %v", err)
		}

		if int(seg.End) > len(disk) {
			t.Fatalf("segment %s:%d-%d is beyond the server's file of %d bytes", seg.File, seg.Start, seg.End, len(disk))
		}

		a, b := got.Bytes()[:seg.BinlogBytes], disk[seg.Start:seg.End]
		if seg.Start == 4 {
			// The server sends the format description with the "file in
			// use" flag cleared; a crashed file still has it set on disk.
			b = append([]byte(nil), b...)
			b[21-4] &^= 1
		}

		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("segment %s:%d-%d differs from the server's file at offset %d: %x vs %x", seg.File, seg.Start, seg.End, int(seg.Start)+i, a[i:min(i+8, len(a))], b[i:min(i+8, len(b))])
			}
		}
	}

	if len(files) < 4 {
		t.Errorf("archived %d binlog files, want at least 4 (rotation, restart, crash): %v", len(files), files)
	}

	if _, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "shop_end"}}); err != nil {
		t.Fatal(err)
	}

	live := srv.DB(t, "")
	if d := sameSums(tableSums(t, live, "shop"), tableSums(t, live, "shop_end")); d != "" {
		t.Errorf("recovered to the end: %s", d)
	}
}

// TestPurgedBinlogStartsNewChain stops the streamer, purges the binlog it
// needs, and starts it again: it records the gap, says so, takes a full
// backup and goes on; instants in the gap are refused with a message naming
// what can be restored, and instants after it recover.
func TestPurgedBinlogStartsNewChain(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMariaDB(t)
	srv.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(50))")

	s := pitrSource(srv, "shop")
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	stop := streamer(t, s, r, &logBuffer{})
	srv.Exec(t, "INSERT INTO shop.orders (item) VALUES ('streamed')")
	waitRestorable(t, s, r, time.Now())
	stop()

	// While nobody streams: changes, rotations, and a purge of what the
	// archive needs next.
	srv.Exec(t, "INSERT INTO shop.orders (item) VALUES ('lost'); FLUSH BINARY LOGS; INSERT INTO shop.orders (item) VALUES ('lost too'); FLUSH BINARY LOGS")

	inGap := time.Now()
	cur := masterPos(t, srv.DB(t, ""))
	srv.Exec(t, "PURGE BINARY LOGS TO '"+cur.File+"'")
	time.Sleep(1100 * time.Millisecond) // the next chain starts in a later second than inGap (events are timed to the second); not a wait

	logs := &logBuffer{}
	stop = streamer(t, s, r, logs)

	secondFull := func() error {
		snaps, err := r.Snapshots(ctx, "db")
		if n := countType(snaps, repo.TypeFull); err == nil && n != 2 {
			return fmt.Errorf("%d fulls", n)
		}

		return err
	}
	if err := testenv.Poll(30*time.Second, secondFull); err != nil {
		t.Fatalf("no full backup after the gap: %v\n%s", err, logs)
	}

	srv.Exec(t, "INSERT INTO shop.orders (item) VALUES ('new chain')")
	// The target is taken once the archive holds the row: a recovery to an
	// instant includes what the streamer had received by then, and under
	// load the row can reach it a few milliseconds after the INSERT returns.
	waitRestorable(t, s, r, time.Now())
	end := time.Now()
	waitRestorable(t, s, r, end)
	stop()

	if !strings.Contains(logs.String(), "BINLOG GAP") || !strings.Contains(logs.String(), "no longer has binlog file") {
		t.Fatalf("the gap was not reported:\n%s", logs)
	}

	arch, err := binlog.Load(ctx, r, "db")
	if err != nil {
		t.Fatal(err)
	}

	if len(arch.Gaps) != 1 {
		t.Fatalf("%d gaps recorded, want 1", len(arch.Gaps))
	}

	snaps, _ := r.Snapshots(ctx, "db")
	if fulls := countType(snaps, repo.TypeFull); fulls != 2 {
		t.Fatalf("%d full backups, want 2 (the first and the one after the gap)", fulls)
	}

	_, err = s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "x"}, Target: binlog.Target{Time: inGap}})

	var pe *binlog.PlanError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "falls in a recorded gap") || !strings.Contains(err.Error(), "restorable instants are up to") {
		t.Fatalf("recovery into the gap: %v", err)
	}

	if _, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "after_gap"}, Target: binlog.Target{Time: end}}); err != nil {
		t.Fatal(err)
	}

	var items string
	srv.DB(t, "").QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM after_gap.orders").Scan(&items)

	if items != "streamed,lost,lost too,new chain" {
		t.Errorf("after the gap: %q", items)
	}
}

func countType(snaps []*repo.Snapshot, typ string) int {
	n := 0

	for _, s := range snaps {
		if s.Type == typ && s.Role == repo.RoleBackup {
			n++
		}
	}

	return n
}

// TestIncrementalAndDifferential takes binlog incrementals and a
// differential over the replication protocol, without the streamer, and
// restores each: Lifeboat finds the full and the chain.
func TestIncrementalAndDifferential(t *testing.T) {
	ctx := context.Background()
	server.Exec(t, "CREATE DATABASE shop_inc; CREATE TABLE shop_inc.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(50))")

	s := pitrSource(server, "shop_inc")
	r := newRepo(t)
	live := server.DB(t, "")

	full, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	var (
		snaps []*repo.Snapshot
		sums  []map[string]string
	)

	for i, typ := range []string{repo.TypeIncremental, repo.TypeIncremental, repo.TypeDifferential} {
		server.Exec(t, fmt.Sprintf("INSERT INTO shop_inc.orders (item) VALUES ('step %d a'), ('step %d b'); UPDATE shop_inc.orders SET item = CONCAT(item, '!') WHERE id = 1", i, i))

		snap, err := s.Backup(ctx, r, source.BackupOptions{Type: typ})
		if err != nil {
			t.Fatalf("%s backup: %v", typ, err)
		}

		if snap.Type != typ || snap.Base == "" {
			t.Fatalf("%s backup came out as %s (base %q)", typ, snap.Type, snap.Base)
		}

		snaps = append(snaps, snap)
		sums = append(sums, tableSums(t, live, "shop_inc"))
	}

	server.Exec(t, "INSERT INTO shop_inc.orders (item) VALUES ('not backed up')")

	ranges := make([]BinlogRange, len(snaps))
	for i, snap := range snaps {
		if err := json.Unmarshal([]byte(snap.Extra[binlogLabel]), &ranges[i]); err != nil {
			t.Fatal(err)
		}
	}

	fm, _ := LoadMeta(full)

	// The first incremental and the differential start at the full; the
	// second incremental where the first ended.
	if ranges[0].FromFile != fm.BinlogFile || uint64(ranges[0].FromPos) != fm.BinlogPos ||
		ranges[2].FromFile != fm.BinlogFile || uint64(ranges[2].FromPos) != fm.BinlogPos ||
		ranges[1].FromFile != ranges[0].ToFile || ranges[1].FromPos != ranges[0].ToPos {
		t.Fatalf("ranges do not chain: full at %s:%d, %+v", fm.BinlogFile, fm.BinlogPos, ranges)
	}

	for i, br := range ranges {
		target := fmt.Sprintf("shop_inc_%d", i)

		if _, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: target}, Target: binlog.Target{File: br.ToFile, Pos: br.ToPos}}); err != nil {
			t.Fatalf("restore %s %d: %v", snaps[i].Type, i, err)
		}

		if d := sameSums(sums[i], tableSums(t, live, target)); d != "" {
			t.Errorf("restore of %s %d: %s", snaps[i].Type, i, d)
		}
	}

	// The newest restorable instant is when the differential read the
	// server's position.
	got, err := s.Restorable(ctx, r)
	if err != nil || !got.Equal(ranges[2].At) {
		t.Errorf("restorable %s (%v), want %s", got, err, ranges[2].At)
	}
}

// TestPITRRefusals: each input the archive cannot serve gets a message that
// names the problem and what is possible instead, and changes nothing.
func TestPITRRefusals(t *testing.T) {
	ctx := context.Background()
	server.Exec(t, "CREATE DATABASE shop_bad; CREATE TABLE shop_bad.t (id INT PRIMARY KEY)")

	s := pitrSource(server, "shop_bad")
	r := newRepo(t)

	if _, err := s.RestoreToPoint(ctx, r, PITROptions{Target: binlog.Target{Time: time.Now()}}); err == nil || !strings.Contains(err.Error(), "has no full backup") {
		t.Errorf("no full: %v", err)
	}

	full, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	fm, _ := LoadMeta(full)

	for _, c := range []struct {
		target binlog.Target
		want   []string
	}{
		{binlog.Target{Time: time.Now().Add(-24 * time.Hour)}, []string{"before the oldest restorable instant", fm.ConsistentAt[:19]}},
		{binlog.Target{Time: time.Now().Add(time.Hour)}, []string{"is in the future"}},
		{binlog.Target{Time: time.Now().Add(-time.Second)}, []string{"before the oldest restorable instant"}},
		{binlog.Target{File: "mysql-bin.000999", Pos: 4}, []string{"is not in the binlog archive"}},
		{binlog.Target{GTID: &binlog.GTID{Domain: 0, Server: 1, Seq: 1 << 40}}, []string{"is not in the binlog archive"}},
	} {
		_, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "never"}, Target: c.target})

		var pe *binlog.PlanError
		if !errors.As(err, &pe) {
			t.Errorf("%s: %v, want a plan error", c.target, err)
			continue
		}

		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.target, err, w)
			}
		}
	}

	time.Sleep(1100 * time.Millisecond) // now moves a second past the full (events are timed to the second); not a wait

	// After the full, with nothing archived since: the archive does not
	// reach now, and says how far it reaches.
	_, err = s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "never"}, Target: binlog.Target{Time: time.Now()}})
	if err == nil || !strings.Contains(err.Error(), "after the newest restorable instant") || !strings.Contains(err.Error(), "binlog stream db") {
		t.Errorf("beyond the archive: %v", err)
	}

	var n int
	server.DB(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'never'").Scan(&n)

	if n != 0 {
		t.Errorf("a refused recovery created its target database")
	}

	// The same server id as the server's own is refused before connecting.
	same := pitrSource(server, "shop_bad")
	same.cfg.MySQL.Binlog.ServerID = 1

	var ce *binlog.ConfigError
	if err := same.Archiver(r, nil, "test").Stream(ctx); !errors.As(err, &ce) || !strings.Contains(err.Error(), "server_id 1 is the server's own") {
		t.Errorf("same server id: %v", err)
	}
}

// TestBinlogServerProblems: a server without a binlog, one logging
// statements, and a user without replication rights.
func TestBinlogServerProblems(t *testing.T) {
	ctx := context.Background()

	t.Run("binlog off", func(t *testing.T) {
		srv, err := testenv.StartWith(ctx, "", "--skip-log-bin")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop()

		s := pitrSource(srv)
		r := newRepo(t)

		var ce *binlog.ConfigError

		err = s.Archiver(r, nil, "test").Stream(ctx)
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "binary log is off") || !strings.Contains(err.Error(), "log_bin = mysql-bin") || !strings.Contains(err.Error(), "binlog_format = ROW") {
			t.Errorf("stream: %v", err)
		}

		if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
			t.Fatal(err)
		}

		if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "log_bin = mysql-bin") {
			t.Errorf("incremental: %v", err)
		}
	})

	t.Run("statement format", func(t *testing.T) {
		srv, err := testenv.StartWith(ctx, "", "--binlog-format=MIXED")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop()

		s := pitrSource(srv)
		logs := &logBuffer{}

		if _, err := s.Archiver(newRepo(t), slog.New(slog.NewTextHandler(logs, nil)), "test").CheckServer(ctx); err != nil {
			t.Fatal(err)
		}

		if !strings.Contains(logs.String(), "binlog_format is not ROW") || !strings.Contains(logs.String(), "SET GLOBAL binlog_format = 'ROW'") {
			t.Errorf("no warning with the fix: %s", logs)
		}
	})

	t.Run("privileges", func(t *testing.T) {
		server.Exec(t, `CREATE DATABASE IF NOT EXISTS shop_priv; CREATE TABLE IF NOT EXISTS shop_priv.t (id INT PRIMARY KEY);
			CREATE OR REPLACE VIEW shop_priv.v AS SELECT id FROM shop_priv.t;
			CREATE USER IF NOT EXISTS 'lb_reader'@'localhost' IDENTIFIED BY 'pw1';
			GRANT SELECT, SHOW VIEW, RELOAD, LOCK TABLES ON *.* TO 'lb_reader'@'localhost';
			CREATE USER IF NOT EXISTS 'lb_monitor'@'localhost' IDENTIFIED BY 'pw2';
			GRANT SELECT, SHOW VIEW, RELOAD, LOCK TABLES, BINLOG MONITOR ON *.* TO 'lb_monitor'@'localhost';
			CREATE USER IF NOT EXISTS 'lb_noview'@'localhost' IDENTIFIED BY 'pw3';
			GRANT SELECT, RELOAD, LOCK TABLES, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'lb_noview'@'localhost'`)

		for _, c := range []struct{ user, pw, want string }{
			{"lb_reader", "pw1", "GRANT REPLICATION SLAVE, REPLICATION CLIENT"},  // cannot list the binlog
			{"lb_monitor", "pw2", "GRANT REPLICATION SLAVE, REPLICATION CLIENT"}, // cannot connect as a replica
			{"lb_noview", "pw3", "lacks a privilege"},                            // cannot take the first full
			{"lb_reader", "Xq9-not-the-password", "wrong password or unknown user"},
		} {
			s := pitrSource(server, "shop_priv")
			s.cfg.MySQL.User, s.cfg.MySQL.PasswordEnv = c.user, "PW"
			s.getenv = func(string) string { return c.pw }

			var ce *binlog.ConfigError

			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := s.Archiver(newRepo(t), nil, "test").Stream(ctx)

			cancel()

			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want a configuration error saying %q", c.user, err, c.want)
			}

			if err != nil && strings.Contains(err.Error(), c.pw) {
				t.Errorf("%s: the error shows the password: %v", c.user, err)
			}
		}
	})
}
