package ops

import (
	"context"
	"fmt"
	"io"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/binlog"
	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// DatabaseOptions are what every restore into a database server takes.
type DatabaseOptions struct {
	// Database restores under this name (empty: the original).
	Database string
	// Tables restores only these tables (from a full backup).
	Tables    []string
	Overwrite bool
	// Masked restores a masked copy (the source's masking rules).
	Masked bool
	// Datadir is the empty data directory a physical backup restores into.
	Datadir string
	// DryRun writes the recovery plan to Out and changes nothing.
	DryRun bool
	// ReplayWorkers is how many connections replay the binlog of a logical
	// recovery (0: the source's workers).
	ReplayWorkers int
	// Out receives the recovery's plan (a dry run) and its notes (which
	// full and binlog a backup of binlog is recovered from).
	Out io.Writer
	// Asked is what was asked (the command line): the audit record's
	// detail when the restore succeeds.
	Asked string
	// Saved, if set, is told the safety snapshot of what the restore
	// replaces as soon as it is taken, before any retry from a copy.
	Saved func(safety *repo.Snapshot)
	// FromCopy, if set, is asked to repeat a restore that failed.
	FromCopy FromCopy
}

// DatabaseRestore asks to restore a snapshot of a database source into its
// server: a full as it is; an incremental or differential by recovering to
// where it ends (the full before it and the binlog up to there).
type DatabaseRestore struct {
	Source string
	// Snapshot is an ID, a unique prefix of one, or "latest".
	Snapshot string
	DatabaseOptions
}

// DatabaseResult is what a restore of a database snapshot did: Restored for
// a full, Point for a backup of binlog; neither for a dry run of a full.
type DatabaseResult struct {
	Snapshot *repo.Snapshot
	Restored *source.DatabaseRestoreReport
	Point    *PointResult
	// Took is how long restoring the full took.
	Took time.Duration
}

// PointInTime asks to recover a database source to a point: an instant, a
// binlog position or a GTID, leaving out the transactions Target skips.
type PointInTime struct {
	Source string
	Target binlog.Target
	DatabaseOptions
}

// PointResult is what a point-in-time recovery did (a dry run: its plan).
type PointResult struct {
	*source.PointReport
	// Target is the point recovered to.
	Target binlog.Target
	// Took is how long the whole recovery took.
	Took time.Duration
}

// RestoreDatabase restores a database snapshot into the server.
func (e *Executor) RestoreDatabase(ctx context.Context, req DatabaseRestore, obs Observer) (*DatabaseResult, error) {
	res := &DatabaseResult{}

	err := e.Run(ctx, e.databaseOp(req.Source), obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		src, err := e.source(req.Source)
		if err != nil {
			return Outcome{}, err
		}

		snap, err := e.Repo.Find(ctx, req.Source, req.Snapshot)
		if err != nil {
			return Outcome{}, err
		}

		res.Snapshot = snap

		switch {
		case snap.Type == repo.TypeFull && req.DryRun:
			fmt.Fprintf(req.Out, "restore full backup %s taken at %s; no binlog to replay\n", shortID(snap.ID), snap.Time.UTC().Format(time.RFC3339Nano))
		case snap.Type == repo.TypeFull, req.Datadir != "":
			// A data directory takes a physical backup, an incremental
			// with the chain it builds on.
			err = e.restoreFull(ctx, m, src, snap, req.DatabaseOptions, res)
		default:
			res.Point, err = e.recoverChain(ctx, m, src, snap, req.DatabaseOptions)
		}

		return Outcome{Record: audit.Record{Detail: req.Asked}}, err
	})

	return res, err
}

// RecoverToPoint recovers a database to a point, or writes the plan of
// that recovery (DryRun).
func (e *Executor) RecoverToPoint(ctx context.Context, req PointInTime, obs Observer) (*PointResult, error) {
	var res *PointResult

	err := e.Run(ctx, e.databaseOp(req.Source), obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		src, err := e.source(req.Source)
		if err != nil {
			return Outcome{}, err
		}

		res, err = e.recover(ctx, m, src, req.Target, req.DatabaseOptions)

		return Outcome{Record: audit.Record{Detail: req.Asked}}, err
	})

	return res, err
}

func (e *Executor) databaseOp(name string) Op {
	return Op{Name: "restore", Source: name, What: "restore " + name}
}

// restoreFull restores a full backup of a database.
func (e *Executor) restoreFull(ctx context.Context, m *Emitter, src source.Source, snap *repo.Snapshot, o DatabaseOptions, res *DatabaseResult) error {
	db, ok := src.(source.DatabaseRestorer)
	if !ok {
		return invalid("restore: source %s is a %s source; it restores into a folder, not a database server", src.Name(), src.Kind())
	}

	now := clock.Or(e.Clock).Now
	start := now()
	opt := source.DatabaseRestoreOptions{Database: o.Database, Tables: o.Tables, Overwrite: o.Overwrite, Masked: o.Masked, Datadir: o.Datadir, Version: e.Version, Progress: m}

	if o.Masked {
		m.Step("restore a masked copy of %s snapshot %s", src.Name(), snap.ID)
	} else {
		m.Step("restore %s snapshot %s", src.Name(), snap.ID)
	}

	rep, err := db.RestoreDatabase(ctx, e.Repo, snap, opt)
	if rep != nil && rep.Safety != nil && o.Saved != nil {
		o.Saved(rep.Safety)
	}

	// The failed attempt may have loaded part of the dump, so the retry
	// replaces that; what was there before is in the safety snapshot.
	if err != nil && o.FromCopy != nil && ctx.Err() == nil {
		opt.Progress, opt.Overwrite, opt.Saved = nil, true, true
		err = o.FromCopy(ctx, snap, err, func(cp *repo.Repository, csnap *repo.Snapshot) (err error) {
			rep, err = db.RestoreDatabase(ctx, cp, csnap, opt)
			return err
		})
	}

	res.Restored, res.Took = rep, now().Sub(start)

	return err
}

// recoverChain recovers an incremental or differential backup: the full
// before it and the binlog up to where it ends.
func (e *Executor) recoverChain(ctx context.Context, m *Emitter, src source.Source, snap *repo.Snapshot, o DatabaseOptions) (*PointResult, error) {
	if o.Tables != nil {
		full, _ := e.Repo.Base(ctx, src.Name(), repo.TypeDifferential)
		hint := ""

		if full != nil {
			hint = fmt.Sprintf(" (the latest full is %s from %s)", shortID(full.ID), full.Time.Local().Format(time.DateTime))
		}

		return nil, invalid("--tables restores single tables from a full backup, and %s is a %s backup: give --snapshot with a full's ID%s, or recover the whole database to a point with --target-database", shortID(snap.ID), snap.Type, hint)
	}

	ch, ok := src.(source.Chain)
	if !ok {
		return nil, fmt.Errorf("snapshot %s records no binlog range", snap.ID)
	}

	end, ok := ch.End(snap)
	if !ok {
		return nil, fmt.Errorf("snapshot %s records no binlog range", snap.ID)
	}

	fmt.Fprintf(o.Out, "%s backup %s ends at binlog %s:%d: restoring the full before it and the binlog up to there\n", snap.Type, shortID(snap.ID), end.File, end.Pos)

	return e.recover(ctx, m, src, binlog.Target{File: end.File, Pos: end.Pos}, o)
}

// recover restores the full before target and replays the binlog up to it.
func (e *Executor) recover(ctx context.Context, m *Emitter, src source.Source, target binlog.Target, o DatabaseOptions) (*PointResult, error) {
	pitr, ok := src.(source.PointInTimeRestorer)
	if !ok {
		return nil, invalid("restore: source %s is a %s source; a point in time is for database sources", src.Name(), src.Kind())
	}

	now := clock.Or(e.Clock).Now
	start := now()
	opt := source.DatabaseRestoreOptions{Database: o.Database, Tables: o.Tables, Overwrite: o.Overwrite, Masked: o.Masked, Datadir: o.Datadir, Version: e.Version, Progress: m}

	m.Step("recover %s to %s", src.Name(), target)

	rep, err := pitr.RestoreToPoint(ctx, e.Repo, source.PointOptions{
		DatabaseRestoreOptions: opt, Target: target, DryRun: o.DryRun, Out: o.Out, Log: e.Log, ReplayWorkers: o.ReplayWorkers,
	})
	if rep != nil && rep.Restore != nil && rep.Restore.Safety != nil && o.Saved != nil {
		o.Saved(rep.Restore.Safety)
	}

	// The full or a binlog segment the repository cannot give back: the
	// same recovery from a copy, over what the failed attempt applied.
	if err != nil && !o.DryRun && rep != nil && rep.Plan != nil && o.FromCopy != nil && ctx.Err() == nil {
		opt.Progress, opt.Overwrite, opt.Saved = nil, true, true
		err = o.FromCopy(ctx, rep.Plan.Full.Snap, err, func(cp *repo.Repository, _ *repo.Snapshot) (err error) {
			rep, err = pitr.RestoreToPoint(ctx, cp, source.PointOptions{
				DatabaseRestoreOptions: opt, Target: target, Out: o.Out, Log: e.Log, ReplayWorkers: o.ReplayWorkers,
			})

			return err
		})
	}

	return &PointResult{PointReport: rep, Target: target, Took: now().Sub(start)}, err
}

// shortID is how the front doors print a snapshot ID.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}
