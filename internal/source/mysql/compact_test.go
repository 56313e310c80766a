package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

// TestCompactedArchive archives a long run of small segments over several
// binlog files, the first ones by an incremental backup (event times to the
// second) and the rest by the streamer (arrival times to the millisecond),
// then compacts it in two stages: the older part into hourly pieces while the
// newer stays fresh, then everything into daily pieces while a point-in-time
// recovery that planned with the old segments is replaying. After each stage
// the archive equals the server's binlog files byte for byte, and recovery
// to recorded instants gives exactly the recorded checksums.
func TestCompactedArchive(t *testing.T) {
	ctx := context.Background()
	const name = "sml_compact"

	db := smlDatabase(t, server, name)
	s := pitrSource(server, name)
	// Small segments, so a few seconds of workload make hundreds.
	s.cfg.MySQL.Binlog.SegmentBytes = 8 << 10
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	var gate sync.RWMutex

	wctx, cancel := context.WithCancel(ctx)
	wait := gatedWorkload(wctx, server.DB(t, name), name, 2, 5*time.Millisecond, &gate)

	// The incremental's segments carry no arrival times, so its instants
	// are taken on a second's boundary, where event times are exact.
	var instants []instant

	for i := 0; i < 3; i++ {
		time.Sleep(400 * time.Millisecond) // the workload runs between two recorded instants; not a wait
		instants = append(instants, recordOnSecond(t, db, name, &gate))
	}

	// The incremental's last events are timed to their second: the
	// workload waits for the next one, so no later instant shares it.
	gate.Lock()

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental}); err != nil {
		t.Fatal(err)
	}

	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // to the next second, as said above; not a wait
	gate.Unlock()

	logs := &logBuffer{}
	stop := streamer(t, s, r, logs)

	for i := 0; i < 24; i++ {
		time.Sleep(300 * time.Millisecond) // the workload runs between two recorded instants; not a wait
		instants = append(instants, record(t, db, name, &gate))

		if i%6 == 5 {
			server.Exec(t, "FLUSH BINARY LOGS")
		}
	}

	cancel()

	if err := wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}

	waitRestorable(t, s, r, instants[len(instants)-1].at)
	stop()

	arch := loadArchive(t, r)
	before := len(arch.Segments)
	files := map[string]bool{}

	for _, seg := range arch.Segments {
		files[seg.File] = true
	}

	if before < 150 || len(files) < 4 {
		t.Fatalf("the archive holds %d segments over %d files, want at least 150 over 4", before, len(files))
	}

	// Stage one: what is older than the middle of the streamed part.
	now := time.Now()
	after := now.Sub(instants[15].at)
	opt := binlog.CompactOptions{Now: now, After: after}

	dry := opt
	dry.DryRun = true

	plan, err := binlog.Compact(ctx, r, "db", dry)
	if err != nil {
		t.Fatal(err)
	}

	if segIDs(loadArchive(t, r)) != segIDs(arch) {
		t.Fatalf("the dry run changed the archive")
	}

	res, err := binlog.Compact(ctx, r, "db", opt)
	if err != nil {
		t.Fatal(err)
	}

	t.Logf("stage one: %+v (%d files)", res, len(files))

	if *res != *plan {
		t.Errorf("the dry run said %+v, the run did %+v", plan, res)
	}

	arch = loadArchive(t, r)
	fresh, mixed := 0, false

	for _, seg := range arch.Segments {
		if seg.Merged > 1 && !seg.Last.Before(now.Add(-after)) {
			t.Errorf("a piece holds a fresh segment: %s:%d-%d, last event %s", seg.File, seg.Start, seg.End, seg.Last)
		}

		if seg.Labels["merged"] == "" && seg.Events > 0 && !seg.Last.Before(now.Add(-after)) {
			fresh++
		}

		mixed = mixed || seg.By == "incremental+stream"
	}

	if res.Pieces < len(files)-2 || res.After != len(arch.Segments) || res.After >= before/2 || fresh < 20 || !mixed {
		t.Fatalf("stage one: %+v, %d segments listed, %d fresh ones left, a piece mixing the incremental and the stream: %v", res, len(arch.Segments), fresh, mixed)
	}

	if again, err := binlog.Compact(ctx, r, "db", opt); err != nil || again.Pieces != 0 || again.Deleted != 0 {
		t.Fatalf("a second run changed something: %+v %v", again, err)
	}

	sameAsServer(t, r, server, arch)

	rng := rand.New(rand.NewPCG(3, 4))
	// Across the incremental, the piece mixing it with the stream, the
	// other pieces and the fresh segments.
	picks := rng.Perm(len(instants))[:20]
	for _, must := range []int{1, 3, len(instants) - 1} {
		if !slices.Contains(picks, must) {
			picks = append(picks[1:], must)
		}
	}

	sort.Ints(picks)

	for _, i := range picks {
		restoreInstant(t, s, r, db, instants[i], fmt.Sprintf("cmp_%d", i), nil)
	}

	// Stage two, while a recovery replays: three days on, every segment
	// and piece becomes one piece per file, deleting every segment the
	// recovery planned with.
	var stage2 *binlog.CompactResult

	last := instants[len(instants)-2]
	rep := restoreInstant(t, s, r, db, last, "cmp_during", func() {
		var err error
		if stage2, err = binlog.Compact(ctx, r, "db", binlog.CompactOptions{Now: now.Add(72 * time.Hour), After: after}); err != nil {
			t.Errorf("compaction during the recovery: %v", err)
		}
	})

	arch = loadArchive(t, r)
	t.Logf("stage two: %+v", stage2)

	gone := 0
	for _, st := range rep.Plan.Steps {
		if !strings.Contains(segIDs(arch), st.Seg.ID) {
			gone++
		}
	}

	if gone == 0 {
		t.Errorf("the compaction during the recovery deleted none of the %d segments it planned with", len(rep.Plan.Steps))
	}

	if stage2 == nil || stage2.Pieces == 0 || len(arch.Segments) > len(files)+2 {
		t.Fatalf("stage two: %+v, %d segments left over %d files", stage2, len(arch.Segments), len(files))
	}

	sameAsServer(t, r, server, arch)

	for _, i := range []int{0, 2, 5, 13, len(instants) - 1} {
		restoreInstant(t, s, r, db, instants[i], fmt.Sprintf("day_%d", i), nil)
	}

	if strings.Contains(logs.String(), "GAP") {
		t.Errorf("the streamer reported a gap:\n%s", logs)
	}
}

// recordOnSecond is record just after a second begins, with the workload
// held from before it, so the instant is exact for events timed to the second.
func recordOnSecond(t *testing.T, db *sql.DB, name string, gate *sync.RWMutex) instant {
	gate.Lock()
	defer gate.Unlock()

	// Past the last commit, then just into the next second: the instant's
	// place among events timed to the second; not a wait.
	time.Sleep(20 * time.Millisecond)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 30*time.Millisecond)))

	return instant{at: time.Now(), sums: tableSums(t, db, name)}
}

func loadArchive(t *testing.T, r *repo.Repository) *binlog.Archive {
	t.Helper()

	arch, err := binlog.Load(context.Background(), r, "db")
	if err != nil {
		t.Fatal(err)
	}

	return arch
}

func segIDs(arch *binlog.Archive) string {
	var out []string
	for _, s := range append(append([]*binlog.Segment{}, arch.Segments...), arch.Hidden...) {
		out = append(out, s.ID)
	}

	sort.Strings(out)

	return strings.Join(out, ",")
}

// restoreInstant recovers to in under target and compares every table's
// checksum with the recorded ones.
func restoreInstant(t *testing.T, s *Source, r *repo.Repository, db *sql.DB, in instant, target string, beforeReplay func()) *PITRReport {
	t.Helper()

	s.beforeReplay = beforeReplay
	defer func() { s.beforeReplay = nil }()

	rep, err := s.RestoreToPoint(context.Background(), r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: target}, Target: binlog.Target{Time: in.at}})
	if err != nil {
		t.Fatalf("recover to %s: %v", in.at.Format(time.RFC3339Nano), err)
	}

	if d := sameSums(in.sums, tableSums(t, db, target)); d != "" {
		t.Errorf("recovered to %s (%d transactions replayed): %s", in.at.Format(time.RFC3339Nano), rep.Replay.Transactions, d)
	}

	server.Exec(t, "DROP DATABASE "+target)

	return rep
}

// sameAsServer checks that the archive's visible segments follow each other
// without a hole or an overlap, file after file, and that their binlog bytes
// are the server's files byte for byte.
func sameAsServer(t *testing.T, r *repo.Repository, srv *testenv.MariaDB, arch *binlog.Archive) {
	t.Helper()

	if len(arch.Hidden) > 0 {
		t.Errorf("%d segments left hidden", len(arch.Hidden))
	}

	var prev *binlog.Segment

	for _, seg := range arch.Segments {
		if seg.Start == seg.End && seg.Next == "" {
			continue // where the chain begins
		}

		switch {
		case prev == nil:
		case prev.File == seg.File && prev.End != seg.Start:
			t.Fatalf("%s: %d-%d follows %d-%d", seg.File, seg.Start, seg.End, prev.Start, prev.End)
		case prev.File != seg.File && (prev.Next != seg.File || seg.Start != 4):
			t.Fatalf("%s:%d follows %s:%d, which names %q as the next file", seg.File, seg.Start, prev.File, prev.End, prev.Next)
		}

		prev = seg

		if seg.Events == 0 {
			continue
		}

		disk, err := os.ReadFile(filepath.Join(srv.BinlogDir(), seg.File))
		if err != nil {
			t.Fatal(err)
		}

		rc, err := r.OpenSegment(context.Background(), seg.Segment)
		if err != nil {
			t.Fatal(err)
		}

		got, err := io.ReadAll(rc)
		rc.Close()

		if err != nil {
			t.Fatalf("read segment %s:%d-%d: %v", seg.File, seg.Start, seg.End, err)
		}

		if int(seg.End) > len(disk) || int64(len(got)) < seg.BinlogBytes {
			t.Fatalf("segment %s:%d-%d: %d bytes stored, the server's file has %d", seg.File, seg.Start, seg.End, len(got), len(disk))
		}

		want := disk[seg.Start:seg.End]
		if seg.Start == 4 {
			// The server sends the format description with the "file in
			// use" flag cleared.
			want = append([]byte(nil), want...)
			want[21-4] &^= 1
		}

		if !bytes.Equal(got[:seg.BinlogBytes], want) {
			t.Fatalf("segment %s:%d-%d differs from the server's file", seg.File, seg.Start, seg.End)
		}
	}
}
