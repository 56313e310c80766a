// Package schedule runs jobs on cron schedules: one run at a time per source
// (a run that finds its source busy is skipped and says so), a global limit on
// runs at once, optional jitter, and runs missed while the daemon was down
// caught up once at start. Time comes from an injected clock, so a year of
// schedules runs in a test in a second. On stop it lets running jobs finish
// for a grace period and then cancels them; a cancelled backup saves nothing.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
)

// Clock is the scheduler's time: Lifeboat's one clock.
type Clock = clock.Clock

// RealClock is the wall clock.
type RealClock = clock.Real

// Job is one scheduled task.
type Job struct {
	// Name is unique, e.g. "backup database incremental".
	Name string
	// Lock is what one run at a time is counted on (a source's name, or
	// "repository" for repository-wide jobs).
	Lock string
	// Also are further locks the run holds (a backup of several sources
	// together holds each source's).
	Also []string
	Spec string
	Run  func(ctx context.Context) error

	sched cron.Schedule
	next  time.Time
}

// Next is the job's next run after t.
func (j *Job) Next(t time.Time) time.Time { return j.sched.Next(t) }

// NewJob parses spec.
func NewJob(name, lock, spec string, run func(ctx context.Context) error) (*Job, error) {
	s, err := config.CronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("job %s: schedule %q: %w", name, spec, err)
	}

	return &Job{Name: name, Lock: lock, Spec: spec, Run: run, sched: s}, nil
}

// Outcome is what the scheduler reports about a finished or skipped run.
type Outcome struct {
	Job     *Job
	Start   time.Time
	End     time.Time
	Err     error
	Skipped bool
	// CatchUp marks a run made at start for a missed one.
	CatchUp bool
}

// Scheduler runs jobs.
type Scheduler struct {
	Jobs        []*Job
	Clock       Clock
	Concurrency int
	Jitter      time.Duration
	StopTimeout time.Duration
	Log         *slog.Logger
	// LastRun says when a job last ran (zero: never), for catching up.
	LastRun func(job *Job) time.Time
	// Done is told about every run and skip.
	Done func(Outcome)
	// Inline runs jobs one after another in the loop (simulations).
	Inline bool

	mu      sync.Mutex
	busy    map[string]bool
	sem     chan struct{}
	running sync.WaitGroup
}

// Next lists every job's next run after now, soonest first.
func (s *Scheduler) Next(now time.Time) []Planned {
	var out []Planned

	for _, j := range s.Jobs {
		out = append(out, Planned{Job: j, At: j.sched.Next(now)})
	}

	sort.SliceStable(out, func(i, k int) bool { return out[i].At.Before(out[k].At) })

	return out
}

// Planned is one upcoming run.
type Planned struct {
	Job *Job
	At  time.Time
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}

	return s.Log
}

// Run schedules until ctx ends, then stops as described in the package doc.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.Clock == nil {
		s.Clock = RealClock{}
	}

	if s.Concurrency < 1 {
		s.Concurrency = 1
	}

	s.busy = map[string]bool{}
	s.sem = make(chan struct{}, s.Concurrency)

	// Jobs run under their own context: stopping the scheduler gives them
	// StopTimeout to finish before it is cancelled.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()

	now := s.Clock.Now()

	for _, j := range s.Jobs {
		j.next = j.sched.Next(now)

		var last time.Time
		if s.LastRun != nil {
			last = s.LastRun(j)
		}

		if last.IsZero() || !j.sched.Next(last).After(now) {
			s.log().Info("catching up a run missed while the daemon was down", "job", j.Name, "last_run", last)
			s.dispatch(jobCtx, j, now, true)
		}
	}

	for {
		// Stopping wins over a run that is due at the same moment.
		if ctx.Err() != nil {
			return s.stop(cancelJobs)
		}

		soonest := s.Jobs[0]
		for _, j := range s.Jobs {
			if j.next.Before(soonest.next) {
				soonest = j
			}
		}

		wait := soonest.next.Sub(s.Clock.Now())

		select {
		case <-ctx.Done():
			return s.stop(cancelJobs)
		case <-s.Clock.After(max(wait, 0)):
		}

		now := s.Clock.Now()

		for _, j := range s.Jobs {
			if j.next.After(now) {
				continue
			}

			fire := j.next
			j.next = j.sched.Next(now)
			s.dispatch(jobCtx, j, fire, false)
		}
	}
}

func (s *Scheduler) stop(cancel context.CancelFunc) error {
	done := make(chan struct{})

	go func() {
		s.running.Wait()
		close(done)
	}()

	timeout := s.StopTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}

	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		s.log().Warn("stopping: jobs still running after the stop timeout are being aborted; an aborted backup saves nothing", "timeout", timeout)
		cancel()
		<-done

		return nil
	}
}

// dispatch starts one run unless the job's lock is held.
func (s *Scheduler) dispatch(ctx context.Context, j *Job, at time.Time, catchUp bool) {
	locks := append([]string{j.Lock}, j.Also...)

	s.mu.Lock()
	if s.anyBusy(locks) {
		s.mu.Unlock()
		s.log().Warn("skipped: the previous run on this source is still going", "job", j.Name, "lock", j.Lock)

		if s.Done != nil {
			s.Done(Outcome{Job: j, Start: at, End: at, Skipped: true, CatchUp: catchUp})
		}

		return
	}

	for _, l := range locks {
		s.busy[l] = true
	}
	s.mu.Unlock()

	run := func() {
		defer func() {
			s.mu.Lock()
			for _, l := range locks {
				delete(s.busy, l)
			}
			s.mu.Unlock()
		}()

		if s.Jitter > 0 && !catchUp {
			select {
			case <-s.Clock.After(rand.N(s.Jitter)):
			case <-ctx.Done():
				return
			}
		}

		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}

		defer func() { <-s.sem }()

		start := s.Clock.Now()
		s.log().Info("job started", "job", j.Name, "catch_up", catchUp)
		err := j.Run(ctx)
		end := s.Clock.Now()

		if err != nil {
			s.log().Error("job failed", "job", j.Name, "err", err, "seconds", end.Sub(start).Seconds())
		} else {
			s.log().Info("job finished", "job", j.Name, "seconds", end.Sub(start).Seconds())
		}

		if s.Done != nil {
			s.Done(Outcome{Job: j, Start: start, End: end, Err: err, CatchUp: catchUp})
		}
	}

	if s.Inline {
		run()
		return
	}

	s.running.Add(1)

	go func() {
		defer s.running.Done()
		run()
	}()
}

func (s *Scheduler) anyBusy(locks []string) bool {
	for _, l := range locks {
		if s.busy[l] {
			return true
		}
	}

	return false
}
