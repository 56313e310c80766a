package ops

import (
	"context"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// FromCopy repeats a restore of snap that failed with primary from a copy
// of the repository: attempt restores from the copy's repository and its
// snapshot. It returns nil once a copy gave the snapshot back, else the
// error to report (primary when no copy was tried). The front door knows
// the copies, and which failures they can mend.
type FromCopy func(ctx context.Context, snap *repo.Snapshot, primary error, attempt func(cp *repo.Repository, csnap *repo.Snapshot) error) error

// Restore asks to restore a snapshot of a files or git source into a
// folder.
type Restore struct {
	Source string
	// Snapshot is an ID, a unique prefix of one, or "latest".
	Snapshot string
	// Target is the folder, an absolute path: empty or new, unless
	// Overwrite (what it replaces is saved as a safety snapshot first).
	Target    string
	Overwrite bool
	// Image picks one image of an image source (its reference).
	Image string
	// Asked is what was asked (the command line): the audit record's
	// detail when the restore succeeds.
	Asked string
	// Begin, if set, is told the snapshot found, and the interrupted
	// restore of it the target holds (nil: none), before anything is
	// written.
	Begin func(snap *repo.Snapshot, resuming *repo.IncompleteRestore)
	// FromCopy, if set, is asked to repeat a restore that failed.
	FromCopy FromCopy
}

// RestoreResult is what a restore into a folder did.
type RestoreResult struct {
	Snapshot *repo.Snapshot
	// Restored holds the counts and the safety snapshot; it can be set
	// when the restore failed (the safety snapshot was still taken).
	Restored *source.RestoreResult
	// Took is how long the restore itself took.
	Took time.Duration
}

// Restore restores a snapshot into a folder. The result is returned even
// with an error, for the safety snapshot it may hold.
func (e *Executor) Restore(ctx context.Context, req Restore, obs Observer) (*RestoreResult, error) {
	op := Op{Name: "restore", Source: req.Source, What: "restore " + req.Source + " into " + req.Target}
	res := &RestoreResult{}

	err := e.Run(ctx, op, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		src, err := e.source(req.Source)
		if err != nil {
			return Outcome{}, err
		}

		if ar, ok := src.(source.AddressRestorer); ok {
			err = ar.CheckAddress(req.Target, req.Overwrite)
		} else {
			err = source.CheckTarget(req.Target, req.Overwrite)
		}

		if err != nil {
			return Outcome{}, err
		}

		snap, err := e.Repo.Find(ctx, req.Source, req.Snapshot)
		if err != nil {
			return Outcome{}, err
		}

		res.Snapshot = snap

		if req.Begin != nil {
			inc, err := repo.ReadRestoreMarker(req.Target)
			if err != nil || inc != nil && inc.Snapshot != snap.ID {
				inc = nil
			}

			req.Begin(snap, inc)
		}

		now := clock.Or(e.Clock).Now
		start := now()

		m.Step("restore %s snapshot %s into %s", req.Source, snap.ID, req.Target)

		res.Restored, err = src.Restore(ctx, e.Repo, snap, req.Target, source.RestoreOptions{
			Overwrite: req.Overwrite, Version: e.Version, Progress: m, Log: e.Log, Image: req.Image,
		})

		if err != nil && req.FromCopy != nil && ctx.Err() == nil {
			// What the failed attempt wrote is replaced; the target was
			// empty or already saved in a safety snapshot.
			err = req.FromCopy(ctx, snap, err, func(cp *repo.Repository, csnap *repo.Snapshot) (err error) {
				res.Restored, err = src.Restore(ctx, cp, csnap, req.Target, source.RestoreOptions{Overwrite: true, Version: e.Version, Log: e.Log, Image: req.Image})
				return err
			})
		}

		res.Took = now().Sub(start)

		if err != nil {
			return Outcome{}, err
		}

		return Outcome{Record: audit.Record{Detail: req.Asked}, Summary: "restored snapshot " + snap.ID + " into " + req.Target}, nil
	})

	return res, err
}
