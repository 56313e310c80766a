package verify

import (
	"context"
	"fmt"
	"strings"

	"lifeboat/internal/clock"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// RestoreTester is a source that can restore a snapshot somewhere harmless
// and compare the result with what its backup recorded.
type RestoreTester interface {
	Name() string
	RestoreTest(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error)
}

// KindRestoreTest is the record kind of a source's last restore test.
const KindRestoreTest = records.KindRestoreTest

// Newest returns the snapshot a restore test of the source takes by default:
// its newest backup that a restore gives back whole (a full, for a database).
func Newest(ctx context.Context, r *repo.Repository, name string, fullOnly bool) (*repo.Snapshot, error) {
	snaps, err := r.Snapshots(ctx, name)
	if err != nil {
		return nil, err
	}

	var best *repo.Snapshot

	for _, s := range snaps {
		if s.Role != repo.RoleBackup || (fullOnly && s.Type != repo.TypeFull) {
			continue
		}

		if best == nil || s.Time.After(best.Time) {
			best = s
		}
	}

	if best == nil {
		return nil, fmt.Errorf("%w: source %s has no backup to test yet; run `lifeboat backup %s` first", repo.ErrSnapshotNotFound, name, name)
	}

	return best, nil
}

// RestoreTest runs one restore test and records its outcome in the
// repository: for the source (status, metrics, reports) and for the snapshot
// (prune keeps the newest verified one).
func RestoreTest(ctx context.Context, clk clock.Clock, r *repo.Repository, src RestoreTester, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	clk = clock.Or(clk)
	start := clk.Now()
	rep, err := src.RestoreTest(ctx, r, snap, opt)

	rec := records.RestoreTest{At: start, Snapshot: snap.ID, Seconds: clock.Since(clk, start).Seconds()}

	switch {
	case err != nil:
		rec.Problems = err.Error()
	default:
		rec.OK = rep.OK()
		rec.Checked = fmt.Sprintf("%d %s", rep.Checked, rep.What)
		rec.Assertions = &rep.Assertions
		rec.Problems = strings.Join(first(rep.Problems, 5), "; ")
	}

	// Recorded even when interrupted.
	ctx = context.WithoutCancel(ctx)

	if perr := records.Put(ctx, r, KindRestoreTest, src.Name(), rec); perr != nil && err == nil {
		err = perr
	}

	if err == nil {
		if perr := records.Put(ctx, r, records.KindVerify, snap.ID, records.Verify{OK: rec.OK, At: rec.At, Source: snap.Source}); perr != nil {
			err = perr
		}
	}

	return rep, err
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}

	return s
}
