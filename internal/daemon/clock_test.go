package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/health"
	"lifeboat/internal/metrics"
	"lifeboat/internal/notify"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/source/files"
	"lifeboat/internal/testenv"
)

// TestJobsFromConfiguration: the daemon's job list is every schedule of the
// configuration, each counted on the lock that keeps two runs of it apart,
// and each fires when its cron expression says.
func TestJobsFromConfiguration(t *testing.T) {
	cfg := &config.Config{
		SourceNames: []string{"docs", "db"},
		Sources: map[string]*config.Source{
			"docs": {Name: "docs", Type: config.KindFiles, Schedule: map[string]string{"full": "0 2 * * *"}},
			"db": {Name: "db", Type: config.KindMySQL, Schedule: map[string]string{
				"incremental": "*/15 * * * *", "full": "0 3 * * 0",
			}},
		},
		Jobs:      config.Jobs{Verify: "0 4 * * *", Point: "30 1 * * *", RestoreTest: "0 5 * * 6", Prune: "0 6 * * *"},
		CopyNames: []string{"offsite", "manual"},
		Copies:    map[string]*config.Copy{"offsite": {Schedule: "0 7 * * *"}, "manual": {}},
		PlanNames: []string{"shop"},
		Plans:     map[string]*config.Plan{"shop": {Drill: "0 8 1 * *"}}, // the first of the month
	}

	d := &Daemon{Cfg: cfg, Ops: &ops.Executor{}}

	jobs, err := d.Jobs()
	if err != nil {
		t.Fatal(err)
	}

	// Sunday 2026-03-01 00:10 UTC.
	from := time.Date(2026, 3, 1, 0, 10, 0, 0, time.UTC)
	want := []struct{ name, lock, also, next string }{
		{"backup docs full", "docs", "[]", "2026-03-01T02:00:00Z"},
		{"backup db full", "db", "[]", "2026-03-01T03:00:00Z"},
		{"backup db incremental", "db", "[]", "2026-03-01T00:15:00Z"},
		{"verify", "repository", "[]", "2026-03-01T04:00:00Z"},
		{"backup every source (recovery point)", "point", "[docs db]", "2026-03-01T01:30:00Z"},
		{"replicate offsite", "replicate offsite", "[]", "2026-03-01T07:00:00Z"},
		{"restore test", "restore-test", "[]", "2026-03-07T05:00:00Z"},
		{"drill shop", "drill", "[]", "2026-03-01T08:00:00Z"},
		{"prune", "repository", "[]", "2026-03-01T06:00:00Z"},
	}

	if len(jobs) != len(want) {
		for _, j := range jobs {
			t.Log(j.Name)
		}

		t.Fatalf("%d jobs, want %d", len(jobs), len(want))
	}

	for i, w := range want {
		j := jobs[i]
		got := fmt.Sprintf("%s|%s|%v|%s", j.Name, j.Lock, j.Also, j.Next(from).Format(time.RFC3339))

		if exp := fmt.Sprintf("%s|%s|%s|%s", w.name, w.lock, w.also, w.next); got != exp {
			t.Errorf("job %d: %s, want %s", i, got, exp)
		}
	}

	// The longest gap between two runs, exported as the backup interval.
	if got := interval(jobs[2], from); got != 15*time.Minute {
		t.Errorf("interval of every 15 minutes: %s", got)
	}

	if got := interval(jobs[1], from); got != 7*24*time.Hour {
		t.Errorf("interval of weekly: %s", got)
	}

	// Without a way to replicate, a copy's schedule makes no job.
	d.Ops = nil

	if jobs, err := d.Jobs(); err != nil || len(jobs) != len(want)-1 {
		t.Errorf("without an executor: %d jobs (%v), want %d", len(jobs), err, len(want)-1)
	}

	// A schedule that does not parse names its job.
	cfg.Jobs.Verify = "every tuesday"
	if _, err := d.Jobs(); err == nil || !strings.Contains(err.Error(), "job verify") {
		t.Errorf("a bad schedule: %v", err)
	}
}

// harness is a daemon on a temporary repository with one files source,
// "docs", in the given tier, on a fake clock; notifications go to a webhook
// the test reads.
type harness struct {
	d      *Daemon
	r      *repo.Repository
	fake   *clock.Fake
	audit  string
	hook   *webhook
	folder string
}

func newHarness(t *testing.T, start time.Time, schedule map[string]string, rpo time.Duration) *harness {
	t.Helper()

	ctx := context.Background()
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	path := filepath.Join(t.TempDir(), "repo")
	pw := repo.Password{Value: "daemon-clock", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(context.Background()) })

	folder := t.TempDir()
	if err := os.WriteFile(filepath.Join(folder, "a.txt"), []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}

	sc := &config.Source{Name: "docs", Type: config.KindFiles, Tier: "gold", Paths: []string{folder}, Schedule: schedule}
	hook := newWebhook(t)
	cfg := &config.Config{
		Tiers:       map[string]config.Tier{"gold": {RTO: time.Hour, RPO: rpo}},
		SourceNames: []string{"docs"},
		Sources:     map[string]*config.Source{"docs": sc},
		Notify:      config.Notify{Webhook: &config.Webhook{URL: hook.srv.URL, Format: "json"}},
	}

	h := &harness{r: r, fake: clock.NewFake(start), audit: filepath.Join(t.TempDir(), "audit.jsonl"), hook: hook, folder: folder}
	h.d = &Daemon{
		Cfg: cfg, Repo: r, Sources: map[string]source.Source{"docs": files.New(sc)},
		Log: slog.New(slog.DiscardHandler), Audit: &audit.Log{Path: h.audit}, Metrics: metrics.New("test"),
		Notify: notify.New(cfg.Notify, func(string) string { return "" }, nil), Clock: h.fake, Version: "test",
		inline: true,
	}

	return h
}

// run runs the daemon until the test ends.
func (h *harness) run(t *testing.T) {
	t.Helper()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	go func() { done <- h.d.Run(ctx, l) }()

	t.Cleanup(func() {
		cancel()

		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
}

// lastRun is when the daemon recorded the job's last run, zero before one.
func (h *harness) lastRun(job string) (time.Time, error) {
	recs, err := h.r.Records(context.Background(), "job")
	if err != nil {
		return time.Time{}, err
	}

	return time.Parse(time.RFC3339Nano, recs[job]["last"])
}

// waitRun waits until the daemon recorded a run of job started at at.
func (h *harness) waitRun(t *testing.T, job string, at time.Time) {
	t.Helper()

	testenv.EventuallyNoError(t, time.Minute, func() error {
		last, err := h.lastRun(job)
		if err != nil {
			return err
		}

		if !last.Equal(at) {
			return fmt.Errorf("the last run recorded is at %s", last.UTC().Format(time.RFC3339))
		}

		return nil
	}, "a run of "+job+" at "+at.Format(time.RFC3339))
}

// asleep waits until the scheduler waits on the fake clock, so moving it
// wakes the scheduler rather than racing it. The jobs run inline: the
// scheduler waits again only once the last run's bookkeeping is done, so
// the next run does not find it still busy.
func (h *harness) asleep(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, time.Minute, func() bool { return h.fake.Waiters() > 0 }, "the scheduler to wait for its next run")
}

func (h *harness) records(t *testing.T, action string) []audit.Record {
	t.Helper()

	recs, err := audit.Read(h.audit)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}

	var out []audit.Record

	for _, r := range recs {
		if r.Action == action {
			out = append(out, r)
		}
	}

	return out
}

// metric is the daemon's /metrics line that starts with prefix, or "".
func (h *harness) metric(t *testing.T, prefix string) string {
	t.Helper()

	rec := httptest.NewRecorder()
	h.d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))

	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}

	return ""
}

// TestScheduledBackupsFollowTheClock: a daemon that never ran catches the
// source's backup up at start, then backs up when the clock reaches each
// hour of its schedule, and not a second before.
func TestScheduledBackupsFollowTheClock(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	h := newHarness(t, start, map[string]string{"full": "0 * * * *"}, 24*time.Hour)
	h.run(t)

	// Never ran: the run is caught up at once, at the clock's time.
	h.waitRun(t, "backup docs full", start)
	h.asleep(t)

	// A second before the hour nothing has run. (Other loops wait on the
	// same clock, the metrics' refresh among them, and wake meanwhile: the
	// check is what was recorded once they wait again, not whether
	// something is waiting at the instant of the advance.)
	h.fake.Advance(29*time.Minute + 59*time.Second)
	h.asleep(t)

	if last, _ := h.lastRun("backup docs full"); !last.Equal(start) {
		t.Fatalf("a run before the hour: %s", last)
	}

	for _, at := range []time.Time{start.Add(30 * time.Minute), start.Add(90 * time.Minute)} {
		h.asleep(t)
		h.fake.Advance(at.Sub(h.fake.Now()))
		h.waitRun(t, "backup docs full", at)
	}

	snaps, err := h.r.Snapshots(context.Background(), "docs")
	if err != nil || len(snaps) != 3 {
		t.Fatalf("%d snapshots after three runs (%v)", len(snaps), err)
	}

	if n := len(h.records(t, "backup")); n != 3 {
		t.Errorf("%d backup audit records, want 3", n)
	}

	if got := h.metric(t, "lifeboat_backup_schedule_interval_seconds{"); !strings.HasSuffix(got, " 3600") {
		t.Errorf("backup interval metric: %q, want an hour", got)
	}
}

// TestSkippedWhileTheSourceIsBusy: a scheduled backup that finds its source
// locked by another backup (one from the command line) is skipped, audited
// as refused and counted, and the next scheduled run goes through.
func TestSkippedWhileTheSourceIsBusy(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	h := newHarness(t, start, map[string]string{"full": "0 * * * *"}, 24*time.Hour)

	cli, err := h.r.LockSources([]string{"docs"}, "lifeboat backup docs")
	if err != nil {
		t.Fatal(err)
	}

	h.run(t)
	h.waitRun(t, "backup docs full", start)

	skipped := h.records(t, "job skipped")
	if len(skipped) != 1 || skipped[0].Source != "docs" || skipped[0].Outcome != audit.Refused ||
		!strings.Contains(skipped[0].Detail, "lifeboat backup docs") {
		t.Fatalf("skipped runs audited: %+v, want one refused run naming the backup holding the source", skipped)
	}

	if got := h.metric(t, `lifeboat_jobs_skipped_total{job="backup docs full"}`); !strings.HasSuffix(got, " 1") {
		t.Errorf("skipped runs metric: %q", got)
	}

	if n := len(h.records(t, "backup")); n != 0 {
		t.Fatalf("%d backups ran while the source was locked", n)
	}

	cli.Release()
	h.asleep(t)
	h.fake.Advance(30 * time.Minute)
	h.waitRun(t, "backup docs full", start.Add(30*time.Minute))

	if b := h.records(t, "backup"); len(b) != 1 || b[0].Outcome != audit.OK {
		t.Fatalf("the run after the source was free: %+v", b)
	}
}

// TestRefreshReadsTheHealthOnlyWhenTheRepositoryMoved: a refresh with
// nothing written since the last reuses its health (with the RPO at the
// new time, as TestRPOBreachFollowsTheClock checks); one after a backup
// reads it again.
func TestRefreshReadsTheHealthOnlyWhenTheRepositoryMoved(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), nil, time.Hour)

	last := func() *health.Health {
		h.d.mu.Lock()
		defer h.d.mu.Unlock()

		return h.d.healthAt
	}

	if err := h.d.Backup(ctx, "docs", "full"); err != nil {
		t.Fatal(err)
	}

	h.d.refresh(ctx)

	first := last()
	if first == nil || len(first.Sources) == 0 || first.Sources[0].Restorable.IsZero() {
		t.Fatalf("after a backup and a refresh the daemon keeps %+v, want the backup restorable", first)
	}

	h.fake.Advance(time.Minute)
	h.d.refresh(ctx)

	if last() != first {
		t.Fatal("a refresh with nothing written read the health again")
	}

	if err := h.d.Backup(ctx, "docs", "full"); err != nil {
		t.Fatal(err)
	}

	h.d.refresh(ctx)

	if now := last(); now == first || now == nil || !now.Sources[0].Restorable.After(first.Sources[0].Restorable) {
		t.Fatalf("after a second backup the refresh kept %+v, want the new backup read", now)
	}
}

// TestRPOBreachFollowsTheClock: the daemon notifies an RPO breach when its
// clock passes the tier's objective since the newest backup, not at the
// objective itself, and the recovery once a new backup is within it.
func TestRPOBreachFollowsTheClock(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), nil, time.Hour)

	nctx, cancel := context.WithCancel(ctx)
	defer cancel()

	go h.d.Notify.Run(nctx)

	newest := func() time.Time {
		t.Helper()

		if err := h.d.Backup(ctx, "docs", "full"); err != nil {
			t.Fatal(err)
		}

		snaps, err := h.r.Snapshots(ctx, "docs")
		if err != nil || len(snaps) == 0 {
			t.Fatalf("snapshots: %d (%v)", len(snaps), err)
		}

		var at time.Time

		for _, s := range snaps {
			if s.Time.After(at) {
				at = s.Time
			}
		}

		return at
	}

	first := newest()

	// The clock stands exactly the objective after the backup: still
	// within it.
	h.fake.Advance(first.Add(time.Hour).Sub(h.fake.Now()))
	h.d.refresh(ctx)

	// A millisecond later it is not.
	h.fake.Advance(time.Millisecond)
	h.d.refresh(ctx)

	ev := h.hook.wait(t, notify.RPOBreach)
	if ev.Subject != "rpo docs" || ev.Source != "docs" ||
		!strings.Contains(ev.Message, "RPO of docs is 1h0m0s against the gold tier's objective of 1h0m0s") {
		t.Errorf("breach: %+v", ev)
	}

	// A backup taken after the first (on the wall clock kopia stamps
	// snapshots with) is less than the objective old on the daemon's clock.
	if second := newest(); !second.After(first.Add(time.Millisecond)) {
		t.Fatalf("the second backup is stamped %s, the first %s: not after the millisecond the clock moved", second, first)
	}

	h.d.refresh(ctx)
	h.hook.wait(t, notify.RPOOK)

	// Events are delivered in order: had the refresh at the objective sent
	// one, it would come first.
	if got := h.hook.kinds(); got != "[rpo_breach rpo_recovered]" {
		t.Errorf("notifications %s, want the breach and its recovery only", got)
	}
}

// webhook receives the notifier's JSON events.
type webhook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []notify.Event
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()

	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)

		var ev notify.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}

		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)

	return w
}

func (w *webhook) kinds() string {
	w.mu.Lock()
	defer w.mu.Unlock()

	var k []string
	for _, ev := range w.events {
		k = append(k, ev.Kind)
	}

	return fmt.Sprint(k)
}

// wait waits for the first event of kind.
func (w *webhook) wait(t *testing.T, kind string) notify.Event {
	t.Helper()

	var got notify.Event

	testenv.EventuallyNoError(t, 30*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()

		for _, ev := range w.events {
			if ev.Kind == kind {
				got = ev
				return nil
			}
		}

		return fmt.Errorf("received %d other events", len(w.events))
	}, "a "+kind+" notification")

	return got
}
