// Package daemon is `lifeboat daemon`: every source's scheduled backups, the
// repository's verify and prune jobs and the binlog streamers in one process,
// with /metrics, /healthz and /readyz on loopback, notifications when
// something breaks or mends, and every action in the audit log. It only wires
// the other packages together; each job is what the matching command does.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/binlog"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/health"
	"lifeboat/internal/metrics"
	"lifeboat/internal/notify"
	"lifeboat/internal/ops"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/schedule"
	"lifeboat/internal/source"
)

// Daemon is one running daemon.
type Daemon struct {
	Cfg     *config.Config
	Repo    *repo.Repository
	Sources map[string]source.Source
	Log     *slog.Logger
	Audit   *audit.Log
	Metrics *metrics.Metrics
	Notify  *notify.Notifier
	Clock   schedule.Clock
	Version string
	// Ops runs the operations the jobs request (nil: no copies are
	// replicated and the audit log is not copied into the repository).
	Ops *ops.Executor
	// Password opens the copies; Getenv reads their S3 credentials.
	Password repo.Password
	Getenv   func(string) string
	// Refresh is how often restorable instants and the repository size are
	// re-read.
	Refresh time.Duration
	// Front, when set, serves the HTTP endpoint: the API around the
	// daemon's own handler, over TLS (internal/api). Nil serves plain HTTP.
	Front Front

	// inline runs the jobs in the scheduler's loop, one after another: on a
	// fake clock a run is then over, bookkeeping included, once the
	// scheduler waits on the clock again.
	inline bool

	ready   atomic.Bool
	opsOnce sync.Once
	ops     *ops.Executor
	mu      sync.Mutex
	// size is the repository's size as last walked, at sized.
	size  int64
	sized time.Time
	// healthAt is the health last computed, at the repository's revision
	// healthRev: the next refresh reuses it when the revision has not
	// moved.
	healthAt  *health.Health
	healthRev int64
}

// Front is the HTTP front door the daemon's endpoint is served through.
type Front interface {
	HTTPServer(base http.Handler) *http.Server
	Serve(srv *http.Server, l net.Listener) error
}

// ErrListen means the HTTP port cannot be bound.
var ErrListen = errors.New("cannot listen")

// Listen binds the HTTP endpoint, so a port in use is reported before
// anything starts.
func (d *Daemon) Listen() (net.Listener, error) {
	l, err := net.Listen("tcp", d.Cfg.Server.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w on server.listen %s: %v: another lifeboat daemon or another program has it; stop that or set server.listen in %s", ErrListen, d.Cfg.Server.Listen, err, d.Cfg.File)
	}

	// Logged at start, so it is on the terminal and in the journal.
	if w := ExposedWarning(d.Cfg.Server.Listen, l.Addr()); w != "" && d.Log != nil {
		if d.Front != nil {
			w = "server.listen " + d.Cfg.Server.Listen + " is not a loopback address: the endpoint answers HTTPS only, /metrics and the API need a token, " +
				"and /healthz and /readyz answer every network that reaches it; firewall the port to the networks that need it"
		}

		d.Log.Warn(w, "listen", l.Addr().String())
	}

	return l, nil
}

// ExposedWarning says why listening (on addr, configured as listen) beyond
// loopback needs care, or is "" for a loopback address. The endpoint has no
// authentication, and /metrics names the sources, plans and copies.
func ExposedWarning(listen string, addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return ""
	}

	return "server.listen " + listen + " is not a loopback address: /metrics, /healthz and /readyz are served without authentication " +
		"to every network that reaches it; bind 127.0.0.1 and put a proxy with authentication in front, or firewall the port"
}

// The HTTP endpoint's timeouts: its answers take milliseconds, so these only
// cut off slow or idle clients that would otherwise hold a connection (and a
// goroutine) forever.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 10 * time.Second
	httpWriteTimeout      = 30 * time.Second
	httpIdleTimeout       = 60 * time.Second
)

// Server is the HTTP server of the endpoint, with its timeouts.
func (d *Daemon) Server() *http.Server {
	if d.Front != nil {
		return d.Front.HTTPServer(d.Handler())
	}

	return &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
	}
}

// Handler serves /metrics, /healthz and /readyz.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", d.Metrics.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}

		fmt.Fprintln(w, "ready")
	})

	return mux
}

// Jobs builds the scheduled jobs from the configuration.
func (d *Daemon) Jobs() ([]*schedule.Job, error) {
	var jobs []*schedule.Job

	add := func(name, lock, spec string, run func(context.Context) error) error {
		j, err := schedule.NewJob(name, lock, spec, run)
		if err == nil {
			jobs = append(jobs, j)
		}

		return err
	}

	for _, name := range d.Cfg.SourceNames {
		sc := d.Cfg.Sources[name]

		types := make([]string, 0, len(sc.Schedule))
		for t := range sc.Schedule {
			types = append(types, t)
		}

		sort.Strings(types)

		for _, typ := range types {
			if err := add("backup "+name+" "+typ, name, sc.Schedule[typ], func(ctx context.Context) error { return d.Backup(ctx, name, typ) }); err != nil {
				return nil, err
			}
		}
	}

	if d.Cfg.Jobs.Verify != "" {
		if err := add("verify", "repository", d.Cfg.Jobs.Verify, d.Verify); err != nil {
			return nil, err
		}
	}

	if d.Cfg.Jobs.Point != "" {
		j, err := schedule.NewJob("backup every source (recovery point)", "point", d.Cfg.Jobs.Point, d.PointBackup)
		if err != nil {
			return nil, err
		}

		j.Also = d.Cfg.SourceNames
		jobs = append(jobs, j)
	}

	for _, name := range d.Cfg.CopyNames {
		if spec := d.Cfg.Copies[name].Schedule; spec != "" && d.Ops != nil {
			if err := add("replicate "+name, "replicate "+name, spec, func(ctx context.Context) error { return d.replicate(ctx, name) }); err != nil {
				return nil, err
			}
		}
	}

	if d.Cfg.Jobs.RestoreTest != "" {
		if err := add("restore test", "restore-test", d.Cfg.Jobs.RestoreTest, d.RestoreTest); err != nil {
			return nil, err
		}
	}

	for _, name := range d.Cfg.PlanNames {
		if spec := d.Cfg.Plans[name].Drill; spec != "" {
			if err := add("drill "+name, "drill", spec, func(ctx context.Context) error { return d.Drill(ctx, name) }); err != nil {
				return nil, err
			}
		}
	}

	if d.Cfg.Jobs.Prune != "" {
		if err := add("prune", "repository", d.Cfg.Jobs.Prune, d.Prune); err != nil {
			return nil, err
		}
	}

	return jobs, nil
}

// Run runs until ctx ends: the HTTP endpoint on l, the streamers and the
// scheduler. On stop, running jobs get the configured stop timeout.
func (d *Daemon) Run(ctx context.Context, l net.Listener) error {
	if d.Clock == nil {
		d.Clock = schedule.RealClock{}
	}

	// The metrics' ages and the notices' times go by the daemon's clock too.
	if d.Metrics != nil && d.Metrics.Clock == nil {
		d.Metrics.Clock = d.Clock
	}

	if d.Notify != nil && d.Notify.Clock == nil {
		d.Notify.Clock = d.Clock
	}

	if d.Refresh <= 0 {
		d.Refresh = 30 * time.Second
	}

	jobs, err := d.Jobs()
	if err != nil {
		return err
	}

	// The daemon may write at any moment: no prune --reclaim-now while it
	// runs.
	locks, err := d.Repo.LockRepository(false, "lifeboat daemon")
	if err != nil {
		return err
	}
	defer locks.Release()

	srv := d.Server()

	go func() {
		serve := srv.Serve
		if d.Front != nil {
			serve = func(l net.Listener) error { return d.Front.Serve(srv, l) }
		}

		if err := serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.Log.Error("HTTP endpoint stopped", "err", err)
		}
	}()
	defer func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			d.Log.Warn("stop the HTTP endpoint", "err", err)
		}
	}()

	d.objectives(jobs)

	go d.Notify.Run(ctx)

	var wg sync.WaitGroup

	d.background(ctx, &wg)

	d.audit(audit.Record{Action: "daemon start", Outcome: audit.OK, Detail: fmt.Sprintf("%d jobs", len(jobs))})
	d.ready.Store(true)

	var runErr error

	if len(jobs) > 0 {
		s := &schedule.Scheduler{
			Jobs: jobs, Clock: d.Clock, Concurrency: d.Cfg.Daemon.Concurrency, Jitter: d.Cfg.Daemon.Jitter,
			StopTimeout: d.Cfg.Daemon.StopTimeout, Log: d.Log,
			LastRun: d.lastRun,
			Done:    d.done,
			Inline:  d.inline,
		}
		runErr = s.Run(ctx)
	} else {
		<-ctx.Done()
	}

	wg.Wait()
	d.ready.Store(false)
	d.audit(audit.Record{Action: "daemon stop", Outcome: audit.OK})

	return runErr
}

// objectives exports what the schedules, tiers and plans promise: the
// interval between backups, the RPO and RTO objectives.
func (d *Daemon) objectives(jobs []*schedule.Job) {
	for _, j := range jobs {
		typ := ""
		if _, err := fmt.Sscanf(j.Name, "backup %s %s", new(string), &typ); err == nil {
			d.Metrics.BackupInterval.WithLabelValues(j.Lock, typ).Set(interval(j, d.Clock.Now()).Seconds())
		}
	}

	for _, name := range d.Cfg.SourceNames {
		d.Metrics.RPOObjective.WithLabelValues(name).Set(d.Cfg.Tiers[d.Cfg.Sources[name].Tier].RPO.Seconds())
	}

	for _, name := range d.Cfg.PlanNames {
		tier := d.Cfg.Tiers[d.Cfg.Plans[name].Tier]
		d.Metrics.RTOObjective.WithLabelValues(name).Set(tier.RTO.Seconds())
		d.Metrics.PlanRPOObjective.WithLabelValues(name).Set(tier.RPO.Seconds())
	}
}

// background starts what runs beside the schedules until ctx ends: index
// upkeep, the binlog streamers and compaction (counted in wg), and the
// metrics' refresh every d.Refresh on the daemon's clock, after a first one
// now.
func (d *Daemon) background(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { d.keepIndexSmall(ctx) })

	for _, name := range d.Cfg.SourceNames {
		if a, ok := d.Sources[name].(source.Archiving); !ok || !a.Streams() {
			continue
		}

		wg.Add(1)

		go func() {
			defer wg.Done()
			d.stream(ctx, name)
		}()
	}

	wg.Add(1)

	go func() {
		defer wg.Done()
		d.compactLoop(ctx)
	}()

	d.refresh(ctx)

	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.Clock.After(d.Refresh):
				d.refresh(ctx)
			}
		}
	}()
}

// interval is the longest gap between two runs of j over the next month.
func interval(j *schedule.Job, from time.Time) time.Duration {
	var longest time.Duration

	t := j.Next(from)

	for i := 0; i < 200 && t.Before(from.AddDate(0, 1, 1)); i++ {
		n := j.Next(t)
		longest = max(longest, n.Sub(t))
		t = n
	}

	return longest
}

func (d *Daemon) lastRun(j *schedule.Job) time.Time {
	rec, _, err := records.Get[records.Job](context.Background(), d.Repo, records.KindJob, j.Name)
	if err != nil {
		return time.Time{}
	}

	return rec.Last
}

func (d *Daemon) done(o schedule.Outcome) {
	if o.Skipped {
		d.Metrics.JobsSkipped.WithLabelValues(o.Job.Name).Inc()
		d.audit(audit.Record{Action: "job skipped", Source: o.Job.Lock, Outcome: audit.Refused, Detail: o.Job.Name + ": the previous run on this source was still going"})

		return
	}

	ctx := context.Background()

	outcome := "ok"
	if o.Err != nil {
		outcome = "failed"
	}

	if err := records.Put(ctx, d.Repo, records.KindJob, o.Job.Name, records.Job{Last: o.Start, Outcome: outcome}); err != nil {
		d.Log.Warn("record the job's run", "job", o.Job.Name, "err", err)
	}

	d.CopyAudit(ctx)

	// Copies that follow every backup.
	if o.Err == nil && strings.HasPrefix(o.Job.Name, "backup ") {
		d.replicateAfterBackup(ctx)
	}

	d.mu.Lock()
	d.sized = time.Time{} // the job changed the repository: size it again
	d.mu.Unlock()

	d.refresh(ctx)
}

func (d *Daemon) audit(r audit.Record) {
	if d.Audit == nil {
		return
	}

	if _, err := d.Audit.Append(r); err != nil {
		d.Log.Error("audit log", "err", err)
	}
}

// executor runs the daemon's operations, with the daemon's audit log,
// metrics, notifications and clock: the same executor the command line runs
// them with.
func (d *Daemon) executor() *ops.Executor {
	d.opsOnce.Do(func() {
		if d.Ops != nil {
			d.ops = d.Ops
			if d.ops.Clock == nil {
				d.ops.Clock = d.Clock
			}

			return
		}

		d.ops = &ops.Executor{
			Cfg: d.Cfg, Repo: d.Repo, Sources: d.Sources, Log: d.Log, Metrics: d.Metrics, Notify: d.Notify,
			Clock: d.Clock, Version: d.Version, Who: "lifeboat daemon",
		}

		if d.Audit != nil {
			d.ops.Audit = d.Audit
		}
	})

	return d.ops
}

// Backup takes one backup of a source, as `lifeboat backup` does. While a
// backup of the source from the command line runs, this run is skipped, as
// when its own previous run is still going, rather than run twice or page
// anyone.
func (d *Daemon) Backup(ctx context.Context, name, typ string) error {
	req := ops.Backup{Source: name, Type: typ, Job: "backup " + name + " " + typ}
	if t, ok := strings.CutPrefix(typ, config.PhysicalSchedule); ok {
		req.Type, req.Mode = t, config.ModePhysical
	}

	_, err := d.executor().Backup(ctx, req, nil)

	return err
}

// Verify reads back every snapshot, as `lifeboat verify` does.
func (d *Daemon) Verify(ctx context.Context) error {
	res, err := d.executor().Verify(ctx, ops.Verify{Sources: d.Cfg.SourceNames, Fraction: 1, Job: "verify"}, nil)
	if res != nil {
		err = errors.Join(err, errors.Join(res.Failures...))
	}

	return err
}

// Prune applies the retention rules, as `lifeboat prune` does.
func (d *Daemon) Prune(ctx context.Context) error {
	_, err := d.executor().Prune(ctx, ops.Prune{Job: "prune"}, nil)
	return err
}

func (d *Daemon) stream(ctx context.Context, name string) {
	src, ok := d.Sources[name].(source.Archiving)
	if !ok {
		return
	}

	a := src.Archiver(d.Repo, d.Log, d.Version)
	// The streamer always archives from a full, so what it has archived is
	// restorable: the RPO follows it second by second.
	a.OnCovered = func(t time.Time) {
		d.Metrics.SetBinlogCovered(name, t)
		d.Metrics.SetRestorable(name, t)
	}
	a.Stored = func(s *binlog.Segment) { d.archived(name, s) }
	a.OnConnected = func(up bool) {
		d.Metrics.BinlogStreaming.WithLabelValues(name).Set(map[bool]float64{true: 1, false: 0}[up])
	}

	d.Metrics.BinlogStreaming.WithLabelValues(name).Set(0)

	if err := a.Stream(ctx); err != nil {
		d.Log.Error("binlog streamer stopped", "source", name, "err", err)
		d.Notify.Observe("binlog stream "+name, name, false, notify.Failure, err.Error())
		d.audit(audit.Record{Action: "binlog stream", Source: name, Outcome: audit.Failed, Detail: err.Error()})
	}
}

// health is the sources' health at now. It is read from the repository
// again only when the repository's revision moved since the last read (a
// write of this process, or another's the refresh brought in): a long
// binlog archive takes a burst of CPU and memory to read, every refresh,
// for the same answer. Otherwise the last one serves, its RPOs at now.
// read says whether it was read (what else the repository holds may have
// changed too). The caller holds d.mu.
func (d *Daemon) health(ctx context.Context, now time.Time) (h *health.Health, read bool, err error) {
	rev, ok := d.Repo.Revision()
	if last := d.healthAt; ok && last != nil && rev == d.healthRev {
		h := &health.Health{Sources: slices.Clone(last.Sources), Copies: last.Copies}
		for i := range h.Sources {
			if s := &h.Sources[i]; !s.Restorable.IsZero() {
				s.RPO = now.Sub(s.Restorable)
			}
		}

		return h, false, nil
	}

	d.healthAt = nil

	h, err = health.Compute(ctx, health.Inputs{
		Cfg: d.Cfg, Repo: d.Repo, Now: now,
		Source: func(name string) (source.Source, error) { return d.Sources[name], nil },
	})
	if err != nil {
		return nil, true, err
	}

	// A source whose instant could not be told is asked again next time.
	keep := ok
	for _, s := range h.Sources {
		keep = keep && s.RestorableErr == nil
	}

	if keep {
		d.healthAt, d.healthRev = h, rev
	}

	return h, true, nil
}

// refresh re-reads what the metrics and RPO checks need.
func (d *Daemon) refresh(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()

	if err := d.Repo.Refresh(ctx); err != nil {
		d.Metrics.RepositoryUp.Set(0)
		d.Notify.Observe("repository", "", false, notify.Failure, "the repository cannot be read: "+err.Error())

		return
	}

	size, err := d.repositorySize()
	if err != nil {
		d.Metrics.RepositoryUp.Set(0)
		d.Notify.Observe("repository", "", false, notify.Failure, "the repository storage cannot be read: "+err.Error())

		return
	}

	d.Metrics.RepositoryUp.Set(1)
	d.Metrics.RepositorySize.Set(float64(size))
	d.Notify.Observe("repository", "", true, notify.Failure, "the repository can be read again")

	h, read, err := d.health(ctx, clock.Or(d.Clock).Now())
	if read {
		d.refreshRuns(ctx)
	}

	if err != nil {
		d.Log.Warn("read the sources' health", "err", err)
		return
	}

	d.refreshCopies(h)

	for _, s := range h.Sources {
		name := s.Name
		if s.RestorableErr != nil {
			d.Log.Warn("newest restorable instant", "source", name, "err", s.RestorableErr)
		}

		d.Metrics.SetRestorable(name, s.Restorable)

		if read {
			d.refreshArchive(ctx, name)
		}

		if v := s.Verify; v != nil {
			d.Metrics.VerifyLast.WithLabelValues(name).Set(float64(v.At.Unix()))
			d.Metrics.VerifyOK.WithLabelValues(name).Set(map[bool]float64{true: 1, false: 0}[v.OK])
		}

		if v := s.RestoreTest; v != nil {
			d.Metrics.RestoreTestLast.WithLabelValues(name).Set(float64(v.At.Unix()))
			d.Metrics.RestoreTestOK.WithLabelValues(name).Set(map[bool]float64{true: 1, false: 0}[v.OK])
			d.Metrics.RestoreTestTime.WithLabelValues(name).Set(v.Seconds)
			// A masked restore test records what it compared as "N masked tables".
			d.Metrics.RestoreTestMasked.WithLabelValues(name).Set(map[bool]float64{true: 1, false: 0}[strings.HasSuffix(v.Checked, " masked tables")])
		}

		if s.Restorable.IsZero() {
			continue
		}

		d.Notify.Observe("rpo "+name, name, s.RPO <= s.Objective, notify.RPOBreach,
			fmt.Sprintf("RPO of %s is %s against the %s tier's objective of %s", name, s.RPO.Round(time.Second), s.Tier, s.Objective))
	}
}
