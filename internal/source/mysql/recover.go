package mysql

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Recovered says what a recovery gave back.
type Recovered = source.Recovered

// Recover restores the source for a recovery plan: to snapID (a full, or an
// incremental or differential, whose chain is applied), else to the instant
// at, else to the newest restorable instant (the latest full plus every
// archived transaction after it).
func (s *Source) Recover(ctx context.Context, r *repo.Repository, snapID string, at time.Time, opt RestoreOptions) (*Recovered, error) {
	if !opt.Scratch {
		return s.recoverTo(ctx, r, snapID, at, opt)
	}

	// A drill's copy: one restored into a data directory is served by a
	// private server, checked, and known by the scratch name.
	name := opt.Database
	if name == "" {
		name = opt.Datadir
	}

	rec, err := s.recoverTo(ctx, r, snapID, at, opt)
	if err != nil || rec == nil || rec.Datadir == "" {
		return rec, err
	}

	served, err := s.serveCopy(ctx, r, rec.Snapshot, rec.Transactions > 0, rec.Datadir, name)
	if err != nil {
		return rec, err
	}

	served.Snapshot, served.DataTime, served.Transactions, served.Datadir, served.Choice = rec.Snapshot, rec.DataTime, rec.Transactions, rec.Datadir, rec.Choice

	return served, nil
}

func (s *Source) recoverTo(ctx context.Context, r *repo.Repository, snapID string, at time.Time, opt RestoreOptions) (*Recovered, error) {
	var target binlog.Target

	switch {
	case snapID != "":
		snap, err := r.Find(ctx, s.cfg.Name, snapID)
		if err != nil {
			return nil, err
		}

		_, physical := LoadPhysical(snap)
		if opt.Scratch && physical {
			opt.Database = ""
		} else if opt.Scratch {
			opt.Datadir = ""
		}

		if snap.Type == repo.TypeFull || physical && opt.Datadir != "" {
			rep, err := s.RestoreDatabase(ctx, r, snap, opt)
			if err != nil {
				return recovered(rep, nil, snap, snap.Time), err
			}

			return recovered(rep, nil, snap, snap.Time), nil
		}

		var br BinlogRange
		if err := json.Unmarshal([]byte(snap.Extra["binlog"]), &br); err != nil {
			return nil, fmt.Errorf("snapshot %s records no binlog range", snap.ID)
		}

		target.File, target.Pos = br.ToFile, br.ToPos
	case !at.IsZero():
		target.Time = at
	default:
		// Without binlog coordinates (a server without a binlog) the newest
		// full is as far as it goes.
		if fulls, err := s.fulls(ctx, r); err == nil && len(fulls) == 0 {
			full, err := r.Base(ctx, s.cfg.Name, repo.TypeDifferential)
			if err != nil {
				return nil, err
			}

			if full == nil {
				return nil, fmt.Errorf("%w: source %s has no full backup yet: run `lifeboat backup %s`", repo.ErrSnapshotNotFound, s.cfg.Name, s.cfg.Name)
			}

			return s.Recover(ctx, r, full.ID, time.Time{}, opt)
		}
	}

	rep, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: opt, Target: target})
	if rep == nil || rep.Plan == nil {
		return nil, err
	}

	when := rep.Plan.Covered
	if !target.Time.IsZero() && when.After(target.Time) {
		when = target.Time
	}

	out := recovered(rep.Restore, rep.Replay, rep.Plan.Full.Snap, when)
	out.Choice = rep.Choice

	return out, err
}

func recovered(rep *RestoreReport, replay *binlog.Result, snap *repo.Snapshot, when time.Time) *Recovered {
	out := &Recovered{Snapshot: snap, DataTime: when}

	if rep != nil {
		out.Databases, out.Safety, out.Tables, out.Rows, out.Datadir = rep.Databases, rep.Safety, rep.Tables, rep.Rows, rep.Datadir
	}

	if replay != nil {
		out.Transactions = replay.Transactions
	}

	return out
}

// OneDatabase returns the name of the only database in the source's newest
// logical full backup, for a drill's scratch copy; it fails when there are
// several (a physical full holds the whole server: a drill serves it from
// a scratch data directory instead).
func (s *Source) OneDatabase(ctx context.Context, r *repo.Repository) (string, error) {
	all, err := s.fulls(ctx, r)
	if err != nil {
		return "", err
	}

	if len(all) == 0 {
		return "", fmt.Errorf("source %s has no full backup yet: run `lifeboat backup %s`", s.cfg.Name, s.cfg.Name)
	}

	var fulls []binlog.Full

	for _, f := range all {
		if _, phys := LoadPhysical(f.Snap); !phys {
			fulls = append(fulls, f)
		}
	}

	if len(fulls) == 0 {
		return "", fmt.Errorf("source %s has only physical full backups; a scratch database is loaded from a logical one: run `lifeboat backup %s --mode logical`, or drill from a scratch data directory (mode: physical)", s.cfg.Name, s.cfg.Name)
	}

	newest := fulls[0]
	for _, f := range fulls {
		if f.At.After(newest.At) {
			newest = f
		}
	}

	meta, err := LoadMeta(newest.Snap)
	if err != nil {
		return "", err
	}

	if len(meta.Databases) != 1 {
		return "", fmt.Errorf("source %s backs up %d databases; a drill restores one database under a scratch name: give the source one database", s.cfg.Name, len(meta.Databases))
	}

	return meta.Databases[0].Name, nil
}

// DropDatabase drops a scratch database a drill created.
func (s *Source) DropDatabase(ctx context.Context, db string) error {
	if served, err := s.dropServed(ctx, db); served {
		return err
	}

	pool, err := connect(ctx, s.cfg.Name, s.cfg.MySQL, s.getenv)
	if err != nil {
		return err
	}
	defer pool.Close()

	_, err = pool.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(db))

	return err
}

// RestorePoints lists every instant the source could be recovered to
// exactly: its fulls, the end of each archived binlog segment and each
// incremental's end, where a full before it starts an unbroken chain. The
// gaps between them are what a loss at the worst moment would have cost.
func (s *Source) RestorePoints(ctx context.Context, r *repo.Repository) ([]time.Time, error) {
	arch, err := s.loadArchive(ctx, r)
	if err != nil {
		return nil, err
	}

	fulls, err := s.fulls(ctx, r)
	if err != nil {
		return nil, err
	}

	var out []time.Time

	for _, f := range fulls {
		out = append(out, f.At)
	}

	restorable := func(t time.Time) bool {
		var from time.Time

		for _, f := range fulls {
			if !f.At.After(t) && f.At.After(from) {
				from = f.At
			}
		}

		if from.IsZero() {
			return false
		}

		for _, g := range arch.Gaps {
			if g.At.After(from) && !g.At.After(t) {
				return false
			}
		}

		return true
	}

	for _, seg := range arch.Segments {
		if restorable(seg.Last) {
			out = append(out, seg.Last)
		}
	}

	for _, m := range arch.Marks {
		if restorable(m.At) {
			out = append(out, m.At)
		}
	}

	return out, nil
}
