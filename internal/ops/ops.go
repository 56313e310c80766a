// Package ops runs Lifeboat's operations. Every front door (the command
// line, the daemon's schedules, the HTTP API) builds a request and hands it
// to one Executor; the executor owns, once, what every operation shares:
// per-source locking (one run of a source at a time), the audit record (who,
// what, outcome, duration), metrics, notifications, cancellation through the
// context, and progress as typed events. Front doors render the events and
// the result; they never repeat the bookkeeping.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/metrics"
	"lifeboat/internal/notify"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// EventKind says what an Event reports.
type EventKind string

// The kinds of event, in the order an operation sends them: Started once,
// then any number of Step and Bytes, then Finished or Failed once.
const (
	Started  EventKind = "started"
	Step     EventKind = "step"
	Bytes    EventKind = "bytes"
	Finished EventKind = "finished"
	Failed   EventKind = "failed"
)

// Event is one thing an operation reports while it runs.
type Event struct {
	Kind EventKind `json:"kind"`
	// Op is the operation ("backup", "verify", ...) and Source the source it
	// works on, if one.
	Op     string `json:"op"`
	Source string `json:"source,omitempty"`
	// Step is what the operation does now (Step), or its summary (Finished).
	Step string `json:"step,omitempty"`
	// Done and Total are bytes (Bytes); Total is 0 while unknown.
	Done  int64 `json:"done,omitempty"`
	Total int64 `json:"total,omitempty"`
	// Files and FilesTotal count files (Bytes) for work that counts them
	// (a backup or restore of a tree); FilesTotal is 0 while unknown.
	Files      int64 `json:"files,omitempty"`
	FilesTotal int64 `json:"files_total,omitempty"`
	// Err is why the operation failed (Failed).
	Err error     `json:"-"`
	At  time.Time `json:"at"`
}

// Observer receives an operation's events in order, on the goroutine that
// runs it. It must return quickly: a slow observer slows the operation.
type Observer func(Event)

// Auditor appends records to the audit trail.
type Auditor interface {
	Append(r audit.Record) (audit.Record, error)
}

// Executor runs operations against one open repository.
type Executor struct {
	Cfg  *config.Config
	Repo *repo.Repository
	// Sources are the configured sources by name.
	Sources map[string]source.Source
	Log     *slog.Logger
	// Audit, Metrics and Notify are each optional: nil records nothing there.
	Audit   Auditor
	Metrics *metrics.Metrics
	Notify  *notify.Notifier
	Clock   clock.Clock
	Version string
	// Who names the front door in lock descriptions ("lifeboat daemon").
	Who string
	// Command is the command line that runs, when a user typed one
	// ("lifeboat backup db"): locks name it rather than Who and the run.
	Command string
	// After runs once an operation that wrote the repository has finished
	// (the audit trail's copy into the repository goes there).
	After func(ctx context.Context)
}

// Op describes one run for the bookkeeping every operation shares.
type Op struct {
	// Name is the operation ("backup") and Source its source, if one.
	Name   string
	Source string
	// Lock lists the sources held for the run, so no other run of them (from
	// any front door, in any process) overlaps it.
	Lock []string
	// Repository takes the repository's lock instead of the sources' (shared;
	// Exclusive: the run needs the repository to itself).
	Repository bool
	Exclusive  bool
	// What describes the run in a lock another run finds ("backup db full").
	What string
	// Job is the scheduled job that started the run, if one: a refused lock
	// is then a skipped job.
	Job string
	// Notify is the notification subject ("backup db full"); empty: the
	// operation's outcome is not notified.
	Notify string
}

// Outcome is what an operation's body reports for the audit trail and the
// notification.
type Outcome struct {
	// Record is the audit record; Action, Source and Outcome default to the
	// Op's name, its source and ok/failed by the error.
	Record audit.Record
	// Message is the notification's text when the run succeeded (on failure
	// it is the error).
	Message string
	// Summary is the Finished event's text.
	Summary string
}

// Emitter sends an operation's Step and Bytes events.
type Emitter struct {
	op    Op
	obs   Observer
	clock clock.Clock
	mu    sync.Mutex
	done  int64
	total int64
	// files and filesTotal count files, for work that counts them.
	files      int64
	filesTotal int64
}

func (m *Emitter) send(ev Event) {
	if m == nil || m.obs == nil {
		return
	}

	ev.Op, ev.At = m.op.Name, m.clock.Now()
	if ev.Source == "" {
		ev.Source = m.op.Source
	}

	m.obs(ev)
}

// Step reports what the operation does now; the counts of the Bytes events
// after it start from zero (what it does next is counted on its own).
func (m *Emitter) Step(format string, args ...any) {
	if m == nil {
		return
	}

	m.mu.Lock()
	defer m.mu.Unlock()

	m.done, m.total, m.files, m.filesTotal = 0, 0, 0, 0
	m.send(Event{Kind: Step, Step: fmt.Sprintf(format, args...)})
}

// Phase makes the Emitter a repo.Phases: a source's next phase (the
// binlog replay of a point-in-time recovery) is a Step.
func (m *Emitter) Phase(name string) { m.Step("%s", name) }

// SetTotal and Add make the Emitter a repo.Progress: bytes become Bytes
// events. Uploads call them from several goroutines: the events are sent
// under the lock, so an observer sees the counts in order, one at a time.
func (m *Emitter) SetTotal(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()

	m.total = n
	m.bytes()
}

// Add counts n more bytes done.
func (m *Emitter) Add(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()

	m.done += n
	m.bytes()
}

// SetTotalFiles and AddFiles make the Emitter a repo.FileProgress: the
// files are counted in the Bytes events.
func (m *Emitter) SetTotalFiles(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()

	m.filesTotal = n
	m.bytes()
}

// AddFiles counts n more files done.
func (m *Emitter) AddFiles(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()

	m.files += n
	m.bytes()
}

// bytes sends the counts; the caller holds the lock.
func (m *Emitter) bytes() {
	m.send(Event{Kind: Bytes, Done: m.done, Total: m.total, Files: m.files, FilesTotal: m.filesTotal})
}

// Run runs body as op with the shared bookkeeping: the locks, the Started
// and Finished/Failed events, the audit record (with the run's duration)
// and the notification. A lock another run holds is returned as the error
// (repo.ErrBusy) and audited as refused; body does not run.
func (e *Executor) Run(ctx context.Context, op Op, obs Observer, body func(ctx context.Context, m *Emitter) (Outcome, error)) error {
	m := e.emitter(op, obs)
	m.send(Event{Kind: Started})

	locks, err := e.lock(op)
	if err != nil {
		m.send(Event{Kind: Failed, Err: err})
		return err
	}
	defer locks.Release()

	return e.run(ctx, op, m, body)
}

// runHeld is Run for a run whose locks its caller holds.
func (e *Executor) runHeld(ctx context.Context, op Op, obs Observer, body func(ctx context.Context, m *Emitter) (Outcome, error)) error {
	m := e.emitter(op, obs)
	m.send(Event{Kind: Started})

	return e.run(ctx, op, m, body)
}

func (e *Executor) emitter(op Op, obs Observer) *Emitter {
	return &Emitter{op: op, obs: obs, clock: clock.Or(e.Clock)}
}

// run is Run once the locks are held.
func (e *Executor) run(ctx context.Context, op Op, m *Emitter, body func(ctx context.Context, m *Emitter) (Outcome, error)) error {
	start := m.clock.Now()
	out, err := body(ctx, m)

	// A request that cannot run as given changed nothing: like a mistyped
	// command line, it is not audited or notified.
	if errors.As(err, new(*RequestError)) {
		m.send(Event{Kind: Failed, Err: err})
		return err
	}

	rec := out.Record
	if rec.Action == "" {
		rec.Action = op.Name
	}

	if rec.Source == "" {
		rec.Source = op.Source
	}

	if rec.Outcome == "" {
		rec.Outcome = audit.OK
		if err != nil {
			rec.Outcome = audit.Failed
		}
	}

	if err != nil && rec.Detail == "" {
		rec.Detail = err.Error()
	}

	if rec.Seconds == 0 {
		rec.Seconds = math.Round(m.clock.Now().Sub(start).Seconds()*1000) / 1000
	}

	e.audit(rec)

	if op.Notify != "" && e.Notify != nil {
		msg := out.Message
		if err != nil {
			msg = err.Error()
		}

		e.Notify.Observe(op.Notify, op.Source, err == nil, notify.Failure, msg)
	}

	if err != nil {
		m.send(Event{Kind: Failed, Err: err})
		return err
	}

	m.send(Event{Kind: Finished, Step: out.Summary})

	return nil
}

// RequestError is a request that cannot run as given (a snapshot of the
// wrong kind, a source without the capability asked for): the front door's
// usage error, which the user fixes by asking differently.
type RequestError struct{ Err error }

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return &RequestError{Err: fmt.Errorf(format, args...)}
}

// source is the configured source name.
func (e *Executor) source(name string) (source.Source, error) {
	src, ok := e.Sources[name]
	if !ok {
		return nil, invalid("unknown source %q", name)
	}

	return src, nil
}

// lock takes op's locks. A refusal is audited: as a skipped job when a
// schedule started the run (and counted in the skipped jobs' metric), else
// as the operation refused.
func (e *Executor) lock(op Op) (*repo.Locks, error) {
	var (
		locks *repo.Locks
		err   error
	)

	switch {
	case op.Repository || op.Exclusive:
		locks, err = e.Repo.LockRepository(op.Exclusive, e.holder(op))
	case len(op.Lock) > 0:
		locks, err = e.Repo.LockSources(op.Lock, e.holder(op))
	default:
		return &repo.Locks{}, nil
	}

	if err == nil {
		return locks, nil
	}

	if op.Job != "" {
		if e.Metrics != nil {
			e.Metrics.JobsSkipped.WithLabelValues(op.Job).Inc()
		}

		e.audit(audit.Record{Action: "job skipped", Source: op.Source, Outcome: audit.Refused, Detail: op.What + ": " + err.Error()})
	} else {
		e.audit(audit.Record{Action: op.Name, Source: op.Source, Outcome: audit.Refused, Detail: err.Error()})
	}

	return nil, err
}

// holder describes a run in the locks it holds, for the message another run
// refused gets: the command line as typed, or the front door and the run.
func (e *Executor) holder(op Op) string {
	if e.Command != "" {
		return e.Command
	}

	return e.Who + ": " + op.What
}

func (e *Executor) audit(r audit.Record) {
	if e.Audit == nil {
		return
	}

	if _, err := e.Audit.Append(r); err != nil && e.Log != nil {
		e.Log.Error("audit log not written", "err", err)
	}
}
