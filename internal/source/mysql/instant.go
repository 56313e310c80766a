package mysql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
)

// instantResolution is how finely restorable instants are told apart:
// status prints them to the millisecond, and the binlog archive times
// events to the millisecond.
const instantResolution = time.Millisecond

// fullInstant is the instant a full backup holds the data of: its
// consistent point, or an imported dump's own time.
func fullInstant(snap *repo.Snapshot) (time.Time, bool) {
	if snap.Role != repo.RoleBackup || snap.Type != repo.TypeFull {
		return time.Time{}, false
	}

	m, err := LoadMeta(snap)
	if err != nil {
		return time.Time{}, false
	}

	at, err := time.Parse(time.RFC3339Nano, m.ConsistentAt)
	if err != nil {
		at = snap.Time
	}

	return at, true
}

// Restorable is the newest instant this source can be recovered to: the end
// of the unbroken binlog chain from its newest full backup with binlog
// coordinates, or a newer full's own instant (an imported dump's has none).
// RestoreToPoint accepts exactly this instant, also as status prints it.
func (s *Source) Restorable(ctx context.Context, r *repo.Repository) (time.Time, error) {
	var newest time.Time

	snaps, err := r.Snapshots(ctx, s.cfg.Name)
	if err != nil {
		return newest, err
	}

	for _, snap := range snaps {
		if at, ok := fullInstant(snap); ok && at.After(newest) {
			newest = at
		}
	}

	fulls, err := s.fulls(ctx, r)
	if err != nil || len(fulls) == 0 {
		return newest, err
	}

	arch, err := s.loadArchive(ctx, r)
	if err != nil {
		return newest, err
	}

	plan, err := arch.Plan(fulls, binlog.Target{}, s.clock(r).Now())
	if err != nil {
		return newest, err
	}

	if plan.Covered.After(newest) {
		newest = plan.Covered
	}

	return newest, nil
}

// planExact answers a --to-time the binlog cannot reach (planErr says why)
// with a full backup taken at that very instant, restored alone. Past the
// newest restorable instant, it says which instant that is.
func (s *Source) planExact(ctx context.Context, r *repo.Repository, t binlog.Target, planErr error) (*binlog.Plan, error) {
	var pe *binlog.PlanError
	if t.Time.IsZero() || t.Time.After(s.clock(r).Now()) || !errors.As(planErr, &pe) {
		return nil, planErr
	}

	snaps, err := r.Snapshots(ctx, s.cfg.Name)
	if err != nil {
		return nil, err
	}

	want := t.Time.Truncate(instantResolution)

	var best *binlog.Plan

	for _, snap := range snaps {
		if at, ok := fullInstant(snap); ok && at.Truncate(instantResolution).Equal(want) && (best == nil || !at.Before(best.Full.At)) {
			best = &binlog.Plan{Full: binlog.Full{Snap: snap, At: at}, Target: t, Covered: at}
		}
	}

	if best != nil {
		return best, nil
	}

	newest, err := s.Restorable(ctx, r)
	if err == nil && !newest.IsZero() && t.Time.After(newest) {
		return nil, &binlog.PlanError{Msg: fmt.Sprintf("--to-time %s is after the newest restorable instant of source %s, %s (as `lifeboat status` shows): nothing newer is backed up or archived (is `lifeboat binlog stream %s` running?)",
			t.Time.UTC().Format(time.RFC3339Nano), s.cfg.Name, newest.UTC().Format(time.RFC3339Nano), s.cfg.Name)}
	}

	return nil, planErr
}
