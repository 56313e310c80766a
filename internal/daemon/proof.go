package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"lifeboat/internal/health"
	"lifeboat/internal/ops"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
)

// RestoreTest restores every source's newest backup and compares it, as
// `lifeboat verify --restore-test` does, with the same audit records.
// Sources that cannot be tested are passed over.
func (d *Daemon) RestoreTest(ctx context.Context) error {
	var errs []error

	for _, name := range d.Cfg.SourceNames {
		_, err := d.executor().RestoreTest(ctx, ops.RestoreTest{Source: name, NotifyOutcome: true}, nil)
		if err != nil && !errors.Is(err, ops.ErrNotTestable) {
			errs = append(errs, err)
		}
	}

	return errors.Join(errs...)
}

// Drill rehearses a plan, as `lifeboat drill PLAN` does, with the same
// audit records.
func (d *Daemon) Drill(ctx context.Context, name string) error {
	_, err := d.executor().RunPlan(ctx, ops.PlanRun{Plan: name, Mode: plan.ModeDrill, Actor: "daemon", NotifyOutcome: true}, nil)
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
	res, err := d.executor().Backups(ctx, ops.Backups{
		Sources: plan.PointOrder(d.Cfg, d.Cfg.SourceNames), Type: repo.TypeFull, Point: true,
		Job: "backup every source (recovery point)",
	}, nil)

	switch {
	case err != nil && res == nil:
		return fmt.Errorf("recovery point not recorded: %w", err)
	case len(res.Failed) > 0:
		return fmt.Errorf("recovery point not recorded: backup failed for: %s", strings.Join(res.Failed, ", "))
	}

	return err
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

	for _, c := range h.Copies {
		d.Metrics.CopyOldPassword.WithLabelValues(c.Name).Set(map[bool]float64{true: 1}[c.OldPassword])
	}

	if !h.Key.LastPassed.IsZero() {
		d.Metrics.EscrowDrillLastSuccess.Set(float64(h.Key.LastPassed.Unix()))
	}

	d.Metrics.RecoveryKitStale.Set(map[bool]float64{true: 1}[h.Key.KitStale() != ""])

	for _, s := range h.Sources {
		d.Metrics.Copies321.WithLabelValues(s.Name).Set(float64(s.Copies.Copies))
		d.Metrics.Media321.WithLabelValues(s.Name).Set(float64(s.Copies.Media))
		d.Metrics.Offsite321.WithLabelValues(s.Name).Set(float64(s.Copies.Offsite))
	}
}
