package source

import (
	"context"
	"io"
	"log/slog"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
)

// PointOptions choose a point-in-time recovery.
type PointOptions struct {
	DatabaseRestoreOptions
	Target binlog.Target
	// DryRun prints the plan to Out and restores nothing.
	DryRun bool
	Out    io.Writer
	Log    *slog.Logger
	// ReplayWorkers is how many connections replay the binlog of a
	// logical recovery (0: the source's workers; 1: serially).
	ReplayWorkers int
}

// PointReport says what a point-in-time recovery did.
type PointReport struct {
	Plan    *binlog.Plan
	Restore *DatabaseRestoreReport
	Replay  *binlog.Result
	// ReplayTime is how long the replay took (after the full).
	ReplayTime time.Duration
	// Choice says which backup the recovery started from and why, when
	// there was a choice: "restore: using the physical full of ... (est.
	// ...) rather than the logical full of ... (est. ...)".
	Choice string
}

// PointInTimeRestorer restores the newest full before a target instant or
// position and replays the archive up to it.
type PointInTimeRestorer interface {
	RestoreToPoint(ctx context.Context, r *repo.Repository, opt PointOptions) (*PointReport, error)
}

// RestorePointLister lists every instant a source can be recovered to
// exactly, for the report's worst-case loss between them.
type RestorePointLister interface {
	RestorePoints(ctx context.Context, r *repo.Repository) ([]time.Time, error)
}
