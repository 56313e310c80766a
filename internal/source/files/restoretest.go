package files

import (
	"context"
	"fmt"
	"os"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// RestoreTest restores snap into a temporary folder and compares every file
// with the snapshot: presence, size and SHA-256, and nothing extra.
func (s *Source) RestoreTest(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	clk := r.Clock()
	start := clk.Now()
	rep := &source.TestReport{Snapshot: snap, What: "files"}

	tmp, err := os.MkdirTemp("", "lifeboat-restore-test-")
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", s.cfg.Name, err)
	}
	defer os.RemoveAll(tmp)

	if _, err := r.Restore(ctx, snap.ID, tmp, repo.RestoreOptions{Progress: opt.Progress}); err != nil {
		return nil, fmt.Errorf("restore test of %s: restore snapshot %s: %w", s.cfg.Name, snap.ID, err)
	}

	rep.Restore = clock.Since(clk, start)

	if opt.Tamper != nil {
		if err := opt.Tamper(ctx, tmp); err != nil {
			return nil, err
		}
	}

	cmp, err := r.CompareTree(ctx, snap.ID, tmp)
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", s.cfg.Name, err)
	}

	rep.Checked, rep.Problems, rep.Total = cmp.Files, cmp.Problems, clock.Since(clk, start)

	return rep, nil
}
