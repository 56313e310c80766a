package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/health"
	"lifeboat/internal/notify"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/verify"
)

// RestoreTest restores every source's newest backup and compares it, as
// `lifeboat verify --restore-test` does.
func (d *Daemon) RestoreTest(ctx context.Context) error {
	var errs []error

	for _, name := range d.Cfg.SourceNames {
		err := d.restoreTestOne(ctx, name)

		d.Notify.Observe("restore test "+name, name, err == nil, notify.Failure,
			map[bool]string{true: "the restore test passed", false: fmt.Sprint(err)}[err == nil])

		if err != nil {
			errs = append(errs, err)
		}
	}

	return errors.Join(errs...)
}

func (d *Daemon) restoreTestOne(ctx context.Context, name string) error {
	src := d.Sources[name]

	tester, ok := src.(verify.RestoreTester)
	if !ok {
		return nil
	}

	snap, err := verify.Newest(ctx, d.Repo, name, src.Kind() == config.KindMySQL)
	if err != nil {
		return err
	}

	rep, err := verify.RestoreTest(ctx, d.Repo, tester, snap, source.TestOptions{Version: d.Version, Log: d.Log})

	rec := audit.Record{Action: "restore test", Source: name, Snapshot: snap.ID, Outcome: audit.OK}

	switch {
	case err != nil:
		rec.Outcome, rec.Detail = audit.Failed, err.Error()
	case !rep.OK():
		err = fmt.Errorf("restore test of %s: %s", name, strings.Join(rep.Problems, "; "))
		rec.Outcome, rec.Detail = audit.Failed, err.Error()
	default:
		rec.Detail = fmt.Sprintf("%d %s compared, %d assertions: OK", rep.Checked, rep.What, rep.Assertions)
	}

	d.audit(rec)

	return err
}

// Drill rehearses a plan, as `lifeboat drill PLAN` does.
func (d *Daemon) Drill(ctx context.Context, name string) error {
	rn := &plan.Runner{
		Cfg: d.Cfg, Repo: d.Repo, Out: io.Discard, Log: d.Log, Version: d.Version, Actor: "daemon",
		Source: func(n string) (source.Source, error) {
			s, ok := d.Sources[n]
			if !ok {
				return nil, fmt.Errorf("unknown source %q", n)
			}

			return s, nil
		},
	}

	if d.Notify.Enabled() {
		rn.Notify = d.Notify
	}

	run, err := rn.Execute(ctx, name, plan.ModeDrill, plan.Options{})

	rec := audit.Record{Action: "drill", Outcome: audit.OK}
	if run != nil {
		rec.Detail = fmt.Sprintf("plan %s run %s: RTO %.1fs (objective %.0fs), RPO %.1fs (objective %.0fs)", name, run.ID, run.RTOSeconds, run.RTOObjective, run.RPOSeconds, run.RPOObjective)
	}

	if err != nil {
		rec.Outcome, rec.Detail = audit.Failed, fmt.Sprintf("plan %s: %v", name, err)
	}

	d.audit(rec)

	ok := err == nil && run.WithinObjectives()
	msg := "the drill passed within the objectives"

	if run != nil && !ok {
		msg = run.Verdict()
	} else if err != nil {
		msg = err.Error()
	}

	d.Notify.Observe("drill "+name, "", ok, notify.Failure, msg)

	return err
}

// refreshRuns exports the last drill and recovery of every plan.
func (d *Daemon) refreshRuns(ctx context.Context) {
	// Steps come and go with the plans: only the last runs' steps stay.
	d.Metrics.RecoveryDuration.Reset()

	for _, kind := range []string{plan.KindDrill, plan.KindIncident} {
		runs, err := plan.Runs(ctx, d.Repo, kind, "")
		if err != nil {
			d.Log.Warn("read the recorded drills and recoveries", "err", err)
			return
		}

		last := map[string]*plan.Run{}
		lastOK := map[string]*plan.Run{}

		for _, r := range runs {
			last[r.Plan] = r
			if r.OK() {
				lastOK[r.Plan] = r
			}
		}

		for name, r := range last {
			mode := r.Mode
			// Numbered: a plan may stop the same service twice.
			for i, st := range r.Steps {
				if st.Status == plan.StatusOK {
					d.Metrics.RecoveryDuration.WithLabelValues(name, mode, st.MetricLabel(i+1)).Set(st.Seconds)
				}
			}

			if r.OK() {
				d.Metrics.RecoveryDuration.WithLabelValues(name, mode, "total").Set(r.RTOSeconds)
				d.Metrics.RecoveryRPO.WithLabelValues(name, mode).Set(r.RPOSeconds)
			}

			if kind == plan.KindDrill {
				d.Metrics.DrillLast.WithLabelValues(name).Set(float64(r.Started.Unix()))
				d.Metrics.DrillOK.WithLabelValues(name).Set(map[bool]float64{true: 1, false: 0}[r.OK()])
			}
		}

		if kind == plan.KindDrill {
			for name, r := range lastOK {
				d.Metrics.DrillLastSuccess.WithLabelValues(name).Set(float64(r.Started.Unix()))
			}
		}
	}
}

// PointBackup backs up every source together, databases first, and records
// the recovery point, as `lifeboat backup` with no source named does.
func (d *Daemon) PointBackup(ctx context.Context) error {
	var snaps []*repo.Snapshot

	for _, name := range plan.PointOrder(d.Cfg, d.Cfg.SourceNames) {
		snap, err := d.backup(ctx, name, repo.TypeFull)
		if err != nil {
			return fmt.Errorf("recovery point not recorded: %w", err)
		}

		snaps = append(snaps, snap)
	}

	p, err := plan.NewPoint(ctx, d.Repo, snaps)
	if err != nil {
		return fmt.Errorf("record the recovery point: %w", err)
	}

	d.audit(audit.Record{Action: "point", Outcome: audit.OK, Detail: fmt.Sprintf("recovery point %s of %s", p.ID, strings.Join(p.Sources(), ", "))})

	return nil
}

// refreshCopies exports each copy's last replication and every source's
// 3-2-1 count.
func (d *Daemon) refreshCopies(h *health.Health) {
	for _, c := range h.Copies {
		if !c.Replicated.IsZero() {
			d.Metrics.CopyReplicated.WithLabelValues(c.Name, strconv.FormatBool(c.Offline), strconv.FormatBool(c.Offsite)).Set(float64(c.Replicated.Unix()))
		}

		for s, t := range c.Restorable {
			d.Metrics.CopyRestorable.WithLabelValues(c.Name, s).Set(float64(t.Unix()))
		}
	}

	for _, s := range h.Sources {
		d.Metrics.Copies321.WithLabelValues(s.Name).Set(float64(s.Copies.Copies))
		d.Metrics.Media321.WithLabelValues(s.Name).Set(float64(s.Copies.Media))
		d.Metrics.Offsite321.WithLabelValues(s.Name).Set(float64(s.Copies.Offsite))
	}
}
