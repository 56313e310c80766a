package mysql

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

// TestStreamClosesSegmentsWithinInterval streams with a sub-second segment
// interval while commits keep coming: every stored segment holds only events
// that arrived within the interval of its first, and it is durable soon after
// that interval ends, which is what keeps a commit's way to durable under a
// second.
func TestStreamClosesSegmentsWithinInterval(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMariaDB(t)
	srv.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, qty INT)")

	const interval = 250 * time.Millisecond

	s := pitrSource(srv, "shop")
	s.cfg.MySQL.Binlog.SegmentInterval = interval
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	type stored struct {
		seg     *binlog.Segment
		durable time.Time
	}

	var (
		mu   sync.Mutex
		segs []stored
	)

	a := s.Archiver(r, nil, "test")
	a.Stored = func(seg *binlog.Segment) {
		durable := time.Now()

		mu.Lock()
		segs = append(segs, stored{seg, durable})
		mu.Unlock()
	}

	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)

	go func() { done <- a.Stream(sctx) }()

	stop := func() {
		if cancel != nil {
			cancel()
			cancel = nil

			if err := <-done; err != nil {
				t.Errorf("streamer: %v", err)
			}
		}
	}
	defer stop()

	count := func() int {
		mu.Lock()
		defer mu.Unlock()

		return len(segs)
	}

	// Commit without pause until several segments are stored: each one
	// then spans a full interval of arriving events.
	const want = 8

	db := srv.DB(t, "shop")
	defer db.Close()

	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; count() < want; i++ {
		if _, err := db.Exec("INSERT INTO orders (qty) VALUES (?)", i); err != nil {
			t.Fatal(err)
		}

		if time.Now().After(deadline) {
			t.Fatalf("only %d segments stored in 2 minutes of commits, want %d", count(), want)
		}
	}

	stop()

	// An event read just as the interval ends is stamped a moment after
	// it: a scheduling delay, far below the interval itself.
	const slack = 100 * time.Millisecond

	var lags []time.Duration

	for _, st := range segs {
		seg := st.seg
		if seg.Events == 0 {
			continue
		}

		if seg.First.IsZero() || seg.Last.Before(seg.First) {
			t.Fatalf("segment %s:%d-%d: arrival labels first %s, last %s", seg.File, seg.Start, seg.End, seg.First, seg.Last)
		}

		if span := seg.Last.Sub(seg.First); span > interval+slack {
			t.Errorf("segment %s:%d-%d holds events that arrived over %s, more than the interval %s", seg.File, seg.Start, seg.End, span, interval)
		}

		// Arrival labels are whole milliseconds.
		if st.durable.Before(seg.Last.Truncate(time.Millisecond)) {
			t.Errorf("segment %s:%d-%d reported durable at %s, before its last event arrived at %s", seg.File, seg.Start, seg.End, st.durable, seg.Last)
		}

		lags = append(lags, st.durable.Sub(seg.First))
	}

	if len(lags) < want-1 {
		t.Fatalf("%d segments with events of %d stored", len(lags), len(segs))
	}

	// The first event waits the interval, then the write: half the
	// segments are durable within a second of it even on a loaded machine.
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })

	if med := lags[len(lags)/2]; med > interval+time.Second {
		t.Errorf("median time from a segment's first event to durable %s, want at most %s (the interval plus a second for the write): %v", med, interval+time.Second, lags)
	}

	t.Logf("first event to durable: %v", lags)
}
