package ops

import (
	"context"
	"fmt"
	"io"

	"lifeboat/internal/audit"
	"lifeboat/internal/notify"
	"lifeboat/internal/plan"
	"lifeboat/internal/source"
)

// PlanRun asks for a recovery plan to run: rehearsed in isolation
// (plan.ModeDrill, `lifeboat drill`) or carried out (plan.ModeRecover,
// `lifeboat recover`).
type PlanRun struct {
	Plan    string
	Mode    string
	Options plan.Options
	// Keep leaves a drill's scratch databases and folders in place.
	Keep bool
	// Out receives the plan's step lines; nil writes them nowhere.
	Out io.Writer
	// Actor names who ran the plan in its recorded run.
	Actor string
	// NotifyOutcome notifies a run that failed or missed its objectives,
	// and its recovery (the daemon's schedules; a person at the command
	// line sees the verdict).
	NotifyOutcome bool
}

// RunPlan runs a plan and audits it the same way from every front door: a
// start record, one record per step, and the run with its measured RTO and
// RPO. The run is recorded in the repository by the plan runner, which is
// what the metrics are read from. A run that fails at a step is returned
// with the error.
func (e *Executor) RunPlan(ctx context.Context, req PlanRun, obs Observer) (*plan.Run, error) {
	var run *plan.Run

	resumed := map[bool]string{true: " (resumed)", false: ""}[req.Options.Resume != nil]
	e.audit(audit.Record{Action: req.Mode + " start", Outcome: audit.OK, Detail: "plan " + req.Plan + resumed})

	err := e.Run(ctx, Op{Name: req.Mode, What: req.Mode + " " + req.Plan}, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		var err error

		run, err = e.planRunner(req, m).Execute(ctx, req.Plan, req.Mode, req.Options)
		if run == nil {
			return Outcome{Record: audit.Record{Detail: fmt.Sprintf("plan %s: %v", req.Plan, err)}}, err
		}

		rec := audit.Record{Detail: fmt.Sprintf("plan %s run %s: RTO %.1fs (objective %.0fs), RPO %.1fs (objective %.0fs)",
			req.Plan, run.ID, run.RTOSeconds, run.RTOObjective, run.RPOSeconds, run.RPOObjective)}
		if !run.OK() {
			rec.Outcome, rec.Detail = audit.Failed, fmt.Sprintf("plan %s run %s: %s", req.Plan, run.ID, run.Error)
		}

		return Outcome{Record: rec, Summary: run.Verdict()}, err
	})

	if req.NotifyOutcome && e.Notify != nil {
		ok := err == nil && run != nil && run.WithinObjectives()
		msg := "the " + req.Mode + " passed within the objectives"

		if run != nil && !ok {
			msg = run.Verdict()
		} else if err != nil {
			msg = err.Error()
		}

		e.Notify.Observe(req.Mode+" "+req.Plan, "", ok, notify.Failure, msg)
	}

	return run, err
}

// planRunner builds the plan runner of one request; each finished step is
// audited and reported as a Step event.
func (e *Executor) planRunner(req PlanRun, m *Emitter) *plan.Runner {
	out := req.Out
	if out == nil {
		out = io.Discard
	}

	rn := &plan.Runner{
		Cfg: e.Cfg, Repo: e.Repo, Out: out, Log: e.Log, Version: e.Version, Actor: req.Actor, Keep: req.Keep, Clock: e.Clock,
		Source: func(n string) (source.Source, error) {
			s, ok := e.Sources[n]
			if !ok {
				return nil, fmt.Errorf("unknown source %q", n)
			}

			return s, nil
		},
		OnStep: func(run *plan.Run, st *plan.StepResult) {
			e.audit(stepRecord(run, st))
			m.Step("%s (%s)", st.Title, st.Status)
		},
	}

	if e.Notify != nil && e.Notify.Enabled() {
		rn.Notify = e.Notify
	}

	return rn
}

// stepRecord is the audit record of one finished step of a run.
func stepRecord(run *plan.Run, st *plan.StepResult) audit.Record {
	rec := audit.Record{Action: run.Mode + " step", Source: st.Source, Snapshot: st.Snapshot, Outcome: audit.OK,
		Detail: fmt.Sprintf("%s %s: %s (%.1fs)", run.Plan, run.ID, st.Title, st.Seconds)}

	switch st.Status {
	case plan.StatusFailed:
		rec.Outcome, rec.Detail = audit.Failed, rec.Detail+": "+st.Error
	case plan.StatusSkipped:
		rec.Detail += ": skipped, " + st.Note
	}

	return rec
}
