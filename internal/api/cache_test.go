package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/clock"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// counter is a computation that counts its runs and answers the run's
// number, after release is closed when it is set.
type counter struct {
	runs    atomic.Int64
	release chan struct{}
}

func (c *counter) compute(ctx context.Context) (any, error) {
	n := c.runs.Add(1)

	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	return n, nil
}

func TestReadCacheReusesWhileFresh(t *testing.T) {
	var (
		c   readCache
		cnt counter
	)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()

	for _, at := range []time.Duration{0, time.Second, readFresh - time.Millisecond} {
		v, err := c.get(ctx, "k", t0.Add(at), cnt.compute)
		if err != nil || v != int64(1) {
			t.Fatalf("read at +%s: %v, %v; want the first computation's 1", at, v, err)
		}
	}

	// Another key is its own.
	if v, _ := c.get(ctx, "other", t0, cnt.compute); v != int64(2) {
		t.Fatalf("another key answered %v, want its own computation (2)", v)
	}

	if n := cnt.runs.Load(); n != 2 {
		t.Fatalf("%d computations, want 2 (one per key)", n)
	}
}

func TestReadCacheStaleAnswersWhileANewOneRuns(t *testing.T) {
	var (
		c   readCache
		cnt counter
	)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()

	if v, _ := c.get(ctx, "k", t0, cnt.compute); v != int64(1) {
		t.Fatalf("first read: %v", v)
	}

	// Past readFresh: the last value at once, a new computation behind it.
	cnt.release = make(chan struct{})

	if v, err := c.get(ctx, "k", t0.Add(readFresh), cnt.compute); err != nil || v != int64(1) {
		t.Fatalf("stale read: %v, %v; want the last value (1) without waiting", v, err)
	}

	if v, _ := c.get(ctx, "k", t0.Add(readFresh+time.Second), cnt.compute); v != int64(1) {
		t.Fatalf("stale read while the new one runs: %v", v)
	}

	close(cnt.release)
	testenv.Eventually(t, 10*time.Second, func() bool {
		v, _ := c.get(ctx, "k", t0.Add(readFresh+2*time.Second), cnt.compute)
		return v == int64(2)
	}, "the background computation's value to be answered")

	if n := cnt.runs.Load(); n != 2 {
		t.Fatalf("%d computations, want 2: reads during one start no other", n)
	}

	// Past readStale since the last began: a read waits for a new one.
	if v, _ := c.get(ctx, "k", t0.Add(readFresh+readStale), cnt.compute); v != int64(3) {
		t.Fatalf("read past readStale answered %v, want a new computation (3)", v)
	}
}

// A value computed at a version is kept while the version holds, past
// readFresh; once it moves, the value is answered while a new computation
// runs (within readStale) and the new one is kept at the new version.
func TestReadCacheKeepsAValueWhileItsVersionHolds(t *testing.T) {
	var (
		c   readCache
		cnt counter
	)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()

	for _, at := range []time.Duration{0, readFresh, readStale - time.Millisecond} {
		if v, err := c.getAt(ctx, "k", t0.Add(at), "rev 1", cnt.compute); err != nil || v != int64(1) {
			t.Fatalf("read at +%s, same version: %v, %v; want the first computation's 1", at, v, err)
		}
	}

	if n := cnt.runs.Load(); n != 1 {
		t.Fatalf("%d computations while the version held, want 1", n)
	}

	// The version moves: the last value at once, a new computation behind.
	cnt.release = make(chan struct{})
	late := t0.Add(readStale - time.Millisecond)

	if v, err := c.getAt(ctx, "k", late, "rev 2", cnt.compute); err != nil || v != int64(1) {
		t.Fatalf("first read at a new version: %v, %v; want the last value (1) without waiting", v, err)
	}

	close(cnt.release)
	testenv.Eventually(t, 10*time.Second, func() bool {
		v, _ := c.getAt(ctx, "k", late, "rev 2", cnt.compute)
		return v == int64(2)
	}, "the computation at the new version to be answered")

	// At the same version past readStale: still answered, while a new
	// computation runs behind it (its value is kept).
	cnt.release = make(chan struct{})
	older := late.Add(readStale)

	if v, err := c.getAt(ctx, "k", older, "rev 2", cnt.compute); err != nil || v != int64(2) {
		t.Fatalf("read past readStale at the same version: %v, %v; want the kept value (2) at once", v, err)
	}

	close(cnt.release)
	testenv.Eventually(t, 10*time.Second, func() bool {
		v, _ := c.getAt(ctx, "k", older, "rev 2", cnt.compute)
		return v == int64(3)
	}, "the value computed behind it to be answered")

	// A version older than readStale that has moved is not answered: the
	// read waits for a new computation.
	if v, _ := c.getAt(ctx, "k", older.Add(readStale), "rev 3", cnt.compute); v != int64(4) {
		t.Fatalf("read past readStale at a new version: %v, want a new computation (4)", v)
	}

	// Without a version (none could be told), readFresh holds as for get.
	if v, _ := c.getAt(ctx, "k", older.Add(readStale+readFresh-time.Millisecond), "", cnt.compute); v != int64(4) {
		t.Fatalf("versionless read within readFresh: %v, want the last value (4)", v)
	}

	// An invalidation drops a value even at its version.
	c.invalidate()

	if v, _ := c.getAt(ctx, "k", older.Add(readStale), "rev 3", cnt.compute); v != int64(5) {
		t.Fatalf("read after invalidate at the same version: %v, want a new computation (5)", v)
	}
}

func TestReadCacheConcurrentReadsShareOneComputation(t *testing.T) {
	var (
		c   readCache
		cnt = counter{release: make(chan struct{})}
		wg  sync.WaitGroup
		got [20]any
	)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	for i := range got {
		wg.Go(func() {
			got[i], _ = c.get(context.Background(), "k", t0, cnt.compute)
		})
	}

	testenv.Eventually(t, 10*time.Second, func() bool { return cnt.runs.Load() == 1 }, "the computation to start")

	// A reader that leaves does not fail the computation the others wait on.
	gone, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := c.get(gone, "k", t0, cnt.compute); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled read: %v, want context.Canceled", err)
	}

	close(cnt.release)
	wg.Wait()

	for i, v := range got {
		if v != int64(1) {
			t.Fatalf("reader %d got %v, want the one computation's 1", i, v)
		}
	}

	if n := cnt.runs.Load(); n != 1 {
		t.Fatalf("%d computations for 20 concurrent reads, want 1", n)
	}
}

func TestReadCacheInvalidate(t *testing.T) {
	var (
		c   readCache
		cnt counter
	)

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()

	c.get(ctx, "k", t0, cnt.compute) //nolint:errcheck // value checked below
	c.invalidate()

	if v, _ := c.get(ctx, "k", t0, cnt.compute); v != int64(2) {
		t.Fatalf("read after invalidate: %v, want a new computation (2)", v)
	}

	// A computation begun before an invalidation is neither joined nor
	// kept: it may have read before the change.
	cnt.release = make(chan struct{})
	c.invalidate()

	before := make(chan any)

	go func() {
		v, _ := c.get(ctx, "k", t0, cnt.compute)
		before <- v
	}()

	testenv.Eventually(t, 10*time.Second, func() bool { return cnt.runs.Load() == 3 }, "the computation before the change to start")
	c.invalidate()

	after := make(chan any)

	go func() {
		v, _ := c.get(ctx, "k", t0, cnt.compute)
		after <- v
	}()

	testenv.Eventually(t, 10*time.Second, func() bool { return cnt.runs.Load() == 4 }, "a read after the change to start its own computation")
	close(cnt.release)

	if v := <-before; v != int64(3) {
		t.Errorf("the read before the change got %v, want its computation's 3", v)
	}

	if v := <-after; v != int64(4) {
		t.Errorf("the read after the change got %v, want its own computation's 4", v)
	}

	cnt.release = nil

	if v, _ := c.get(ctx, "k", t0, cnt.compute); v != int64(4) {
		t.Errorf("next read: %v, want the value computed after the change (4), not the one before", v)
	}
}

func TestReadCacheErrorsAreNotKept(t *testing.T) {
	var c readCache

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	broken := errors.New("repository unreachable")

	if _, err := c.get(ctx, "k", t0, func(context.Context) (any, error) { return nil, broken }); !errors.Is(err, broken) {
		t.Fatalf("a failed computation answered %v, want its error", err)
	}

	v, err := c.get(ctx, "k", t0, func(context.Context) (any, error) { return "ok", nil })
	if err != nil || v != "ok" {
		t.Fatalf("the read after a failure: %v, %v; want a new computation", v, err)
	}
}

// snapshotCount is how many snapshots GET /api/v1/snapshots lists.
func (f *fixture) snapshotCount(t *testing.T) int {
	t.Helper()

	code, out := f.call(t, "GET", "/api/v1/snapshots", "", bearer(access.Viewer)...)

	var snaps []repo.Snapshot
	if err := json.Unmarshal([]byte(out), &snaps); code != http.StatusOK || err != nil {
		t.Fatalf("snapshots: %d %s (%v)", code, out, err)
	}

	return len(snaps)
}

func TestReadsFollowChanges(t *testing.T) {
	f := newFixture(t)

	// Read (and so keep) the empty repository's answers first.
	if n := f.snapshotCount(t); n != 0 {
		t.Fatalf("a fresh repository lists %d snapshots", n)
	}

	if code, out := f.call(t, "GET", "/api/v1/sources", "", bearer(access.Viewer)...); code != http.StatusOK || strings.Contains(out, "last_type") {
		t.Fatalf("sources before a backup: %d %s", code, out)
	}

	// A backup through the API is seen by the reads right after its end.
	if _, end := f.follow(t, f.start(t, access.Operator, "/api/v1/sources/data/backup", "").ID, access.Viewer); end.State != JobSucceeded {
		t.Fatalf("backup: %+v", end)
	}

	if n := f.snapshotCount(t); n != 1 {
		t.Fatalf("after the API's backup: %d snapshots listed, want 1", n)
	}

	if code, out := f.call(t, "GET", "/api/v1/sources", "", bearer(access.Viewer)...); code != http.StatusOK || !strings.Contains(out, `"last_type":"full"`) {
		t.Fatalf("sources after the API's backup: %d %s", code, out)
	}

	// One behind the API's back (a scheduled job's) within readFresh and
	// the computation that follows.
	if _, err := f.srv.Exec.Backup(t.Context(), ops.Backup{Source: "data", Type: repo.TypeFull}, nil); err != nil {
		t.Fatal(err)
	}

	testenv.Eventually(t, readStale, func() bool { return f.snapshotCount(t) == 2 }, "the second backup to be listed")

	// The RPO is now's, even when the health was computed before.
	type status struct {
		Now     time.Time `json:"now"`
		Sources []struct {
			Restorable time.Time `json:"restorable"`
			RPO        float64   `json:"rpo_seconds"`
		} `json:"sources"`
	}

	var first status

	read := func(st *status) {
		code, out := f.call(t, "GET", "/api/v1/status", "", bearer(access.Viewer)...)
		if err := json.Unmarshal([]byte(out), st); code != http.StatusOK || err != nil || len(st.Sources) != 1 || st.Sources[0].Restorable.IsZero() {
			t.Fatalf("status: %d %s (%v)", code, out, err)
		}

		if got, want := st.Sources[0].RPO, st.Now.Sub(st.Sources[0].Restorable).Seconds(); got < want-0.001 || got > want+0.001 {
			t.Fatalf("rpo_seconds %.3f at %s, want now less restorable: %.3f", got, st.Now, want)
		}
	}

	// Reads a second apart (the first may still be the health from
	// before the second backup, the next not).
	read(&first)
	testenv.Eventually(t, readStale, func() bool {
		var st status

		read(&st)

		if !st.Sources[0].Restorable.Equal(first.Sources[0].Restorable) {
			first = st
			return false
		}

		return st.Now.Sub(first.Now) >= time.Second
	}, "a status a second after another with the same newest restorable instant")
}

// statusOf reads GET /api/v1/status as a viewer.
func (f *fixture) status(t *testing.T) Status {
	t.Helper()

	code, out := f.call(t, "GET", "/api/v1/status", "", bearer(access.Viewer)...)

	var st Status
	if err := json.Unmarshal([]byte(out), &st); code != http.StatusOK || err != nil || len(st.Sources) != 1 {
		t.Fatalf("status: %d %s (%v)", code, out, err)
	}

	return st
}

// Concurrent status requests share one answer, computed once; the answer
// and the reads under it are kept while nothing changes, and a change made
// through the API is in the very next answer.
func TestAnswersAreSharedAndFollowChanges(t *testing.T) {
	clk := clock.NewFake(clock.Real{}.Now())
	f := newFixtureAt(t, clk)

	var wg sync.WaitGroup

	bodies := make([]string, 20)

	for i := range bodies {
		wg.Go(func() {
			code, out := f.call(t, "GET", "/api/v1/status", "", bearer(access.Viewer)...)
			if code != http.StatusOK {
				t.Errorf("status: %d %s", code, out)
			}

			bodies[i] = out
		})
	}

	wg.Wait()

	for _, key := range []string{"answer status", "health", "overview"} {
		if n := f.srv.reads.computed(key); n != 1 {
			t.Fatalf("20 concurrent status requests computed %q %d times, want once", key, n)
		}
	}

	for i, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("answer %d differs from the first:\n%s\n%s", i, b, bodies[0])
		}
	}

	// Past the answer's second, the first request gets it at once while
	// the next is built; the next requests get the new one.
	made := clk.Now()
	clk.Advance(answerFresh)

	if st := f.status(t); !st.Now.Equal(made) {
		t.Fatalf("status a second on: made at %s, want the last answer (made at %s) while the next is built", st.Now, made)
	}

	testenv.Eventually(t, 10*time.Second, func() bool { return f.status(t).Now.Equal(clk.Now()) }, "the answer built a second on")

	// Past answerStale no answer is reused: a new one (its RPO is the new
	// now's), from the same health: the repository has not moved, past
	// readFresh too.
	clk.Advance(readFresh)

	if st := f.status(t); !st.Now.Equal(clk.Now()) || st.Sources[0].LastType != "" || st.RunningJobs != 0 {
		t.Fatalf("status at %s: now %s, %+v", clk.Now(), st.Now, st)
	}

	if a, h := f.srv.reads.computed("answer status"), f.srv.reads.computed("health"); a != 3 || h != 1 {
		t.Fatalf("after readFresh with nothing changed: %d answers, %d health computations; want 3 and still 1", a, h)
	}

	// A backup through the API: the answers right after its start and its
	// end say so, within the same second.
	j := f.start(t, access.Operator, "/api/v1/sources/data/backup", "")
	if st := f.status(t); st.RunningJobs != 1 && st.Sources[0].LastType == "" {
		t.Fatalf("status after the backup started: %+v, want it running (or done)", st)
	}

	if _, end := f.follow(t, j.ID, access.Viewer); end.State != JobSucceeded {
		t.Fatalf("backup: %+v", end)
	}

	if st := f.status(t); st.RunningJobs != 0 || st.Sources[0].LastType != repo.TypeFull || st.Sources[0].Restorable.IsZero() {
		t.Fatalf("status after the backup ended: %+v, want no job running and the full backup restorable", st)
	}

	// One behind the API's back (a scheduled job's) moves the repository:
	// read within readFresh, when the reads are computed again.
	if _, err := f.srv.Exec.Backup(t.Context(), ops.Backup{Source: "data", Type: repo.TypeFull}, nil); err != nil {
		t.Fatal(err)
	}

	clk.Advance(readFresh)
	testenv.Eventually(t, 10*time.Second, func() bool { return f.snapshotCount(t) == 2 }, "the second backup to be listed")
}
