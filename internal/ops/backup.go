package ops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Backup asks for one backup of a source.
type Backup struct {
	Source string
	// Type is full, incremental or differential.
	Type string
	// CheckpointInterval is how often a long backup indexes what it has
	// uploaded (0: the repository's default).
	CheckpointInterval time.Duration
	// Job is the scheduled job that asks for it, if one.
	Job string
	// Mode overrides a database source's backup mode for this run.
	Mode string
}

// Backup takes one backup of a source, holding the source's lock.
func (e *Executor) Backup(ctx context.Context, req Backup, obs Observer) (*repo.Snapshot, error) {
	op := e.backupOp(req)
	op.Lock = []string{req.Source}

	var snap *repo.Snapshot

	err := e.Run(ctx, op, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		var (
			out Outcome
			err error
		)

		snap, out, err = e.backup(ctx, req, m)

		return out, err
	})

	return snap, err
}

func (e *Executor) backupOp(req Backup) Op {
	what := "backup " + req.Source + " " + req.Type

	return Op{Name: "backup", Source: req.Source, What: what, Notify: what, Job: req.Job}
}

// backup is the body of one source's backup: the snapshot, its metrics and
// its audit record.
func (e *Executor) backup(ctx context.Context, req Backup, m *Emitter) (*repo.Snapshot, Outcome, error) {
	src, ok := e.Sources[req.Source]
	if !ok {
		return nil, Outcome{}, fmt.Errorf("backup: unknown source %q", req.Source)
	}

	now := clock.Or(e.Clock).Now
	start := now()

	// Sizing walks every blob of the repository: only for the metrics,
	// which report what the backup added.
	var before int64
	if e.Metrics != nil {
		before, _ = e.Repo.Size()
	}

	snap, err := src.Backup(ctx, e.Repo, source.BackupOptions{
		Type: req.Type, Version: e.Version, Progress: m,
		CheckpointInterval: req.CheckpointInterval, Log: e.Log, Mode: req.Mode,
	})

	if e.Metrics != nil {
		e.backupMetrics(ctx, src, req.Type, start, now(), before, snap, err)
	}

	rec := audit.Record{Action: "backup", Source: req.Source, Outcome: audit.OK}
	if err != nil {
		rec.Outcome, rec.Detail = audit.Failed, fmt.Sprintf("%s: %v", req.Type, err)

		return nil, Outcome{Record: rec}, err
	}

	rec.Snapshot, rec.Detail = snap.ID, fmt.Sprintf("%s: %d files, %d bytes", snap.Type, snap.Files, snap.Bytes)

	return snap, Outcome{
		Record:  rec,
		Message: fmt.Sprintf("%s backup %s succeeded", snap.Type, snap.ID),
		Summary: fmt.Sprintf("%s snapshot %s", snap.Type, snap.ID),
	}, nil
}

func (e *Executor) backupMetrics(ctx context.Context, src source.Source, typ string, start, end time.Time, before int64, snap *repo.Snapshot, err error) {
	after, _ := e.Repo.Size()

	var logical int64
	if snap != nil {
		logical = snap.Bytes
	}

	name := src.Name()
	e.Metrics.Backup(name, typ, start, end, logical, after-before, err)

	if e.Cfg != nil && e.Cfg.Sources[name] != nil {
		e.Metrics.RPOObjective.WithLabelValues(name).Set(e.Cfg.Tiers[e.Cfg.Sources[name].Tier].RPO.Seconds())
	}

	if t, _ := source.Restorable(ctx, e.Repo, src); !t.IsZero() {
		e.Metrics.SetRestorable(name, t)
	}
}

// Backups asks for a backup of several sources in one run, as a recovery
// point when Point is set.
type Backups struct {
	// Sources in the order they are backed up (plan.PointOrder for a point:
	// databases first).
	Sources            []string
	Type               string
	CheckpointInterval time.Duration
	// Point records the snapshots as one recovery point once every source
	// was backed up (and there is more than one).
	Point bool
	Job   string
	// Mode overrides the database sources' backup mode for this run.
	Mode string
	// Each, if set, gets every source's outcome as soon as it is known, for
	// a front door that reports as it goes.
	Each func(name string, snap *repo.Snapshot, err error)
}

// BackupsResult is what a run of Backups did.
type BackupsResult struct {
	Taken  []*repo.Snapshot
	Failed []string
	// Point is the recovery point recorded, if one.
	Point *plan.Point
}

// Backups backs up every source of req, holding all their locks for the
// whole run so the snapshots of a point are not interleaved with another
// run's. A source that fails does not stop the others (cancellation does);
// the run's error is only for what stops it as a whole (a lock another run
// holds, the point that could not be recorded).
func (e *Executor) Backups(ctx context.Context, req Backups, obs Observer) (*BackupsResult, error) {
	what := "backup " + strings.Join(req.Sources, " ")
	if req.Point {
		what = "backup every source (recovery point)"
	}

	locks, err := e.lock(Op{Name: "backup", What: what, Lock: req.Sources, Job: req.Job})
	if err != nil {
		return nil, err
	}
	defer locks.Release()

	res := &BackupsResult{}

	for _, name := range req.Sources {
		one := Backup{Source: name, Type: req.Type, CheckpointInterval: req.CheckpointInterval, Job: req.Job, Mode: req.Mode}

		var snap *repo.Snapshot

		err := e.runHeld(ctx, e.backupOp(one), obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
			var (
				out Outcome
				err error
			)

			snap, out, err = e.backup(ctx, one, m)

			return out, err
		})

		if req.Each != nil {
			req.Each(name, snap, err)
		}

		if err != nil {
			res.Failed = append(res.Failed, name)

			if ctx.Err() != nil {
				break
			}

			continue
		}

		res.Taken = append(res.Taken, snap)
	}

	if !req.Point || len(res.Failed) > 0 || len(res.Taken) < 2 {
		return res, nil
	}

	res.Point, err = e.point(ctx, res.Taken, obs)

	return res, err
}

// point records snaps as one recovery point.
func (e *Executor) point(ctx context.Context, snaps []*repo.Snapshot, obs Observer) (*plan.Point, error) {
	var p *plan.Point

	op := Op{Name: "point", What: "record the recovery point"}

	err := e.runHeld(ctx, op, obs, func(ctx context.Context, _ *Emitter) (Outcome, error) {
		var err error
		if p, err = plan.NewPoint(ctx, e.Clock, e.Repo, snaps); err != nil {
			return Outcome{}, fmt.Errorf("record the recovery point: %w", err)
		}

		detail := fmt.Sprintf("recovery point %s of %s", p.ID, strings.Join(p.Sources(), ", "))

		return Outcome{Record: audit.Record{Detail: detail}, Summary: detail}, nil
	})

	return p, err
}
