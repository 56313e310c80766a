package source

import (
	"context"
	"time"

	"lifeboat/internal/repo"
)

// InstantSource is a source that restores to instants between its backups
// (a database with its binlog archive): its newest restorable instant is its
// own to compute.
type InstantSource interface {
	Restorable(ctx context.Context, r *repo.Repository) (time.Time, error)
}

// Restorable is the newest instant src can be restored to: the end of its
// archive for an InstantSource, its newest backup otherwise.
func Restorable(ctx context.Context, r *repo.Repository, src Source) (time.Time, error) {
	// A database's instants are the point-in-time planner's, so status
	// never names one that restore --to-time refuses.
	if is, ok := src.(InstantSource); ok {
		return is.Restorable(ctx, r)
	}

	snaps, err := r.Snapshots(ctx, src.Name())
	if err != nil {
		return time.Time{}, err
	}

	return NewestBackup(snaps), nil
}

// NewestBackup is the newest backup among snaps: what a source that is not
// an InstantSource can be restored to.
func NewestBackup(snaps []*repo.Snapshot) time.Time {
	var newest time.Time

	for _, s := range snaps {
		if s.Role == repo.RoleBackup && s.Time.After(newest) {
			newest = s.Time
		}
	}

	return newest
}
