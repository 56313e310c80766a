// Package plan runs recovery plans: the guide's recovery procedures as
// ordered, timed steps. `recover` runs them for real, saving what each
// restore overwrites first; `drill` runs them in isolation (scratch databases,
// temporary folders, services left alone) and measures the RTO and RPO
// against the plan's objectives. Every run is kept in the repository as an
// incident or drill record, which `--resume`, dry-run estimates, status, the
// metrics and reports read back.
package plan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Modes of a run.
const (
	ModeRecover = "recover"
	ModeDrill   = "drill"
)

// Step outcomes.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
	StatusPending = "pending"
)

// Record kinds in the repository.
const (
	KindIncident = "incident"
	KindDrill    = "drill"
)

// StepResult is one step of a run.
type StepResult struct {
	// Plan is the plan the step belongs to (nested plans are flattened).
	Plan    string    `json:"plan"`
	Title   string    `json:"title"`
	Kind    string    `json:"kind"`
	Status  string    `json:"status"`
	Note    string    `json:"note,omitempty"`
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Seconds float64   `json:"seconds"`
	// Restore steps: the source, where it went and the instant its data is from.
	Source   string    `json:"source,omitempty"`
	Target   string    `json:"target,omitempty"`
	Snapshot string    `json:"snapshot,omitempty"`
	DataTime time.Time `json:"data_time,omitzero"`
	// RPOSeconds is how old the restored data was when the run started.
	RPOSeconds float64 `json:"rpo_seconds,omitempty"`
	// Safety is the snapshot of what the restore overwrote.
	Safety string `json:"safety,omitempty"`
	// EarlierRun names the run that did the step (a resumed run).
	EarlierRun string `json:"earlier_run,omitempty"`
}

// MetricLabel names the nth step (from 1) in metrics: its number and kind,
// and for a restore its source. Never its title: a command, an SQL
// statement or a URL would leak into every scrape and make an unbounded
// label.
func (s *StepResult) MetricLabel(n int) string {
	if s.Kind == config.StepRestore && s.Source != "" {
		return fmt.Sprintf("%d. %s %s", n, s.Kind, s.Source)
	}

	return fmt.Sprintf("%d. %s", n, s.Kind)
}

// Run is one execution of a plan: an incident (recover) or a drill.
type Run struct {
	ID       string    `json:"id"`
	Plan     string    `json:"plan"`
	Mode     string    `json:"mode"`
	Actor    string    `json:"actor"`
	Tier     string    `json:"tier"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Status   string    `json:"status"`
	Error    string    `json:"error,omitempty"`
	// ResumedFrom is the failed run this one continued.
	ResumedFrom string `json:"resumed_from,omitempty"`
	// Point is the recovery point the run restored to, if one was given.
	Point  string       `json:"point,omitempty"`
	ToTime time.Time    `json:"to_time,omitzero"`
	Steps  []StepResult `json:"steps"`
	// RTOSeconds is the measured recovery time: from the start to the last
	// check that passed (to the last step when the plan has no check).
	RTOSeconds   float64 `json:"rto_seconds"`
	RTOObjective float64 `json:"rto_objective_seconds"`
	// RPOSeconds is the age of the oldest data restored, at the start.
	RPOSeconds   float64 `json:"rpo_seconds"`
	RPOObjective float64 `json:"rpo_objective_seconds"`
	// Isolation lists what a drill did instead of touching production.
	Isolation []string `json:"isolation,omitempty"`
}

// OK reports whether every step passed or was skipped on purpose.
func (r *Run) OK() bool { return r.Status == StatusOK }

// WithinObjectives reports whether the measured RTO and RPO meet the tier's.
func (r *Run) WithinObjectives() bool {
	return r.OK() && r.RTOSeconds <= r.RTOObjective && r.RPOSeconds <= r.RPOObjective
}

// flat is one step of a flattened plan.
type flat struct {
	plan string
	step *config.Step
}

// Flatten expands nested plans into one ordered list of steps.
func Flatten(cfg *config.Config, name string) ([]flat, error) {
	pl, ok := cfg.Plans[name]
	if !ok {
		return nil, UnknownPlanError{Name: name, Known: cfg.PlanNames, File: cfg.File}
	}

	var out []flat

	for _, st := range pl.Steps {
		if st.Kind == config.StepPlan {
			sub, err := Flatten(cfg, st.Plan)
			if err != nil {
				return nil, err
			}

			out = append(out, sub...)

			continue
		}

		out = append(out, flat{plan: name, step: st})
	}

	return out, nil
}

// UnknownPlanError names a plan the configuration does not define.
type UnknownPlanError struct {
	Name  string
	Known []string
	File  string
}

func (e UnknownPlanError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("unknown plan %q: %s defines no plans; add them under plans: (`lifeboat config example --sml-library` shows some)", e.Name, e.File)
	}

	return fmt.Sprintf("unknown plan %q: %s defines %s", e.Name, e.File, strings.Join(e.Known, ", "))
}

// Notifier sends a plan's notify steps.
type Notifier interface {
	Send(ctx context.Context, subject, msg string) error
}

// Runner runs plans.
type Runner struct {
	Cfg     *config.Config
	Repo    *repo.Repository
	Source  func(name string) (source.Source, error)
	Notify  Notifier
	Out     io.Writer
	Log     *slog.Logger
	Version string
	Actor   string
	// Keep leaves a drill's scratch databases and folders in place.
	Keep bool
	// OnStep is called after each step (the CLI audits them).
	OnStep func(run *Run, st *StepResult)
	// Clock times the run and its steps; nil is the wall clock.
	Clock clock.Clock
}

// Options choose what a run restores.
type Options struct {
	// ToTime overrides the instant database restores recover to.
	ToTime time.Time
	// Point restores every source to a recovery point's snapshots.
	Point *Point
	// Resume continues this failed incident from its failed step.
	Resume *Run
}

func newID(t time.Time) string {
	b := make([]byte, 3)
	rand.Read(b) //nolint:errcheck

	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// ErrFailed marks a run that stopped at a failed step.
var ErrFailed = errors.New("recovery plan failed")

// Execute runs plan name in mode and records the run.
func (rn *Runner) Execute(ctx context.Context, name, mode string, opt Options) (*Run, error) {
	clk := clock.Or(rn.Clock)

	steps, err := Flatten(rn.Cfg, name)
	if err != nil {
		return nil, err
	}

	pl := rn.Cfg.Plans[name]
	tier := rn.Cfg.Tiers[pl.Tier]
	run := &Run{
		ID: newID(clk.Now()), Plan: name, Mode: mode, Actor: rn.Actor, Tier: pl.Tier, Started: clk.Now(),
		RTOObjective: tier.RTO.Seconds(), RPOObjective: tier.RPO.Seconds(), ToTime: opt.ToTime,
	}

	if opt.Point != nil {
		run.Point = opt.Point.ID
	}

	x := &execution{rn: rn, run: run, opt: opt, dbs: map[string]string{}, dirs: map[string]string{}}
	defer x.cleanup()

	from := 0

	if prev := opt.Resume; prev != nil {
		if from, err = x.resume(ctx, prev, steps); err != nil {
			return nil, err
		}
	}

	for i := from; i < len(steps); i++ {
		if err := x.runStep(ctx, clk, steps, i); err != nil {
			break
		}
	}

	if run.Status == "" {
		run.Status = StatusOK
	}

	run.Finished = clk.Now()
	run.Isolation = x.isolation
	measure(run)

	// Recorded even when interrupted: --resume needs to know where it stopped.
	if err := Save(context.WithoutCancel(ctx), rn.Repo, run); err != nil {
		return run, fmt.Errorf("record the run in the repository: %w", err)
	}

	if !run.OK() {
		return run, fmt.Errorf("%w: %s", ErrFailed, run.Error)
	}

	return run, nil
}

// resume takes over the steps a failed recovery, prev, finished: the run
// goes on with its start, point and time, from the step it failed at (the
// index returned), once the plan is checked to be the same.
func (x *execution) resume(ctx context.Context, prev *Run, steps []flat) (int, error) {
	rn, run, name := x.rn, x.run, x.run.Plan

	if prev.Plan != name || prev.Mode != ModeRecover || prev.OK() {
		return 0, fmt.Errorf("run %s is not a failed recovery of plan %s; nothing to resume", prev.ID, name)
	}

	if x.opt.Point != nil || !x.opt.ToTime.IsZero() {
		return 0, fmt.Errorf("--resume goes on with run %s's own recovery point and time; give neither --point nor --to-time", prev.ID)
	}

	// The outage started with the first attempt: the RTO counts from
	// there, and the rest restores to the same point as the first part.
	run.Started, run.ResumedFrom, run.Point, run.ToTime = prev.Started, prev.ID, prev.Point, prev.ToTime
	x.opt.ToTime = prev.ToTime

	if prev.Point != "" {
		p, err := FindPoint(ctx, rn.Repo, prev.Point)
		if err != nil {
			return 0, fmt.Errorf("resume run %s: %w", prev.ID, err)
		}

		x.opt.Point = p
	}

	if len(prev.Steps) != len(steps) {
		return 0, fmt.Errorf("plan %s changed since run %s (%d steps then, %d now): run `lifeboat recover %s` afresh", name, prev.ID, len(prev.Steps), len(steps), name)
	}

	for i, st := range prev.Steps {
		if st.Title != steps[i].step.Title() || st.Kind != steps[i].step.Kind || st.Plan != steps[i].plan {
			return 0, fmt.Errorf("plan %s changed since run %s: step %d was %q, now %q: run `lifeboat recover %s` afresh", name, prev.ID, i+1, st.Title, steps[i].step.Title(), name)
		}
	}

	from := 0

	for i, st := range prev.Steps {
		if st.Status == StatusFailed || st.Status == StatusPending {
			break
		}

		if st.EarlierRun == "" {
			st.EarlierRun = prev.ID
		}

		run.Steps = append(run.Steps, st)
		from = i + 1

		if st.Kind == config.StepRestore && st.Target != "" {
			x.remember(st)
		}
	}

	fmt.Fprintf(rn.Out, "resuming %s of plan %s from step %d (%d steps done before)\n", prev.ID, name, from+1, from)

	return from, nil
}

// runStep runs step i, timed on clk, prints and records its outcome. When it
// fails, the rest are recorded as pending and the run as failed, and the
// step's error is returned.
func (x *execution) runStep(ctx context.Context, clk clock.Clock, steps []flat, i int) error {
	rn, run, f := x.rn, x.run, steps[i]
	res := StepResult{Plan: f.plan, Title: f.step.Title(), Kind: f.step.Kind, Status: StatusPending, Started: clk.Now()}

	fmt.Fprintf(rn.Out, "[%d/%d] %s ... ", i+1, len(steps), res.Title)

	err := x.step(ctx, f.step, &res)
	res.Seconds = clock.Since(clk, res.Started).Seconds()

	switch {
	case err != nil:
		res.Status, res.Error = StatusFailed, err.Error()
		fmt.Fprintf(rn.Out, "FAILED after %.1fs\n    %v\n", res.Seconds, err)
	case res.Status == StatusSkipped:
		fmt.Fprintf(rn.Out, "skipped (%s)\n", res.Note)
	default:
		res.Status = StatusOK
		fmt.Fprintf(rn.Out, "ok in %.1fs", res.Seconds)

		if res.Note != "" {
			fmt.Fprintf(rn.Out, " (%s)", res.Note)
		}

		fmt.Fprintln(rn.Out)
	}

	run.Steps = append(run.Steps, res)

	if rn.OnStep != nil {
		rn.OnStep(run, &run.Steps[len(run.Steps)-1])
	}

	if err != nil {
		// The rest are recorded as pending, so --resume knows where to go on.
		for _, g := range steps[i+1:] {
			run.Steps = append(run.Steps, StepResult{Plan: g.plan, Title: g.step.Title(), Kind: g.step.Kind, Status: StatusPending})
		}

		run.Status, run.Error = StatusFailed, fmt.Sprintf("step %d (%s): %v", i+1, res.Title, err)
	}

	return err
}

// measure computes the run's RTO and RPO from its steps.
func measure(run *Run) {
	var lastCheck, lastStep time.Time

	for _, st := range run.Steps {
		if st.Status != StatusOK {
			continue
		}

		end := st.Started.Add(time.Duration(st.Seconds * float64(time.Second)))
		if end.After(lastStep) {
			lastStep = end
		}

		if st.Kind == config.StepCheck && end.After(lastCheck) {
			lastCheck = end
		}

		if st.RPOSeconds > run.RPOSeconds {
			run.RPOSeconds = st.RPOSeconds
		}
	}

	end := lastCheck
	if end.IsZero() {
		end = lastStep
	}

	if !end.IsZero() {
		run.RTOSeconds = end.Sub(run.Started).Seconds()
	}
}

// Save stores a run in the repository.
func Save(ctx context.Context, r *repo.Repository, run *Run) error {
	kind := KindIncident
	if run.Mode == ModeDrill {
		kind = KindDrill
	}

	return records.Put(ctx, r, kind, run.ID, runRecord{Plan: run.Plan, Run: run})
}

// runRecord is how a run is stored: its plan, to pick a plan's runs, and
// the whole run as JSON.
type runRecord struct {
	Plan string `record:"plan"`
	Run  *Run   `record:"json,json"`
}

// Runs returns the recorded runs of a kind (KindIncident or KindDrill),
// oldest first; plan "" means every plan.
func Runs(ctx context.Context, r *repo.Repository, kind, plan string) ([]*Run, error) {
	recs, err := records.All[runRecord](ctx, r, kind)
	if err != nil {
		return nil, err
	}

	var out []*Run

	for _, v := range recs {
		if plan != "" && v.Plan != plan || v.Run == nil {
			continue
		}

		out = append(out, v.Run)
	}

	sort.Slice(out, func(i, j int) bool {
		return out[i].Started.Before(out[j].Started) || out[i].Started.Equal(out[j].Started) && out[i].ID < out[j].ID
	})

	return out, nil
}

// Latest returns the newest run of plan of a kind, or nil.
func Latest(ctx context.Context, r *repo.Repository, kind, plan string) (*Run, error) {
	runs, err := Runs(ctx, r, kind, plan)
	if err != nil || len(runs) == 0 {
		return nil, err
	}

	return runs[len(runs)-1], nil
}
