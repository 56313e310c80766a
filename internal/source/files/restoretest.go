package files

import (
	"context"
	"fmt"

	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// RestoreTest restores snap into a temporary folder and compares every file
// with the snapshot: presence, size and SHA-256, and nothing extra.
func (s *Source) RestoreTest(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	rep := &source.TestReport{Snapshot: snap, What: "files"}

	return source.RestoreTestInFolder(ctx, r, s.cfg.Name, rep, opt, func(dir string) error {
		if _, err := r.Restore(ctx, snap.ID, dir, repo.RestoreOptions{Progress: opt.Progress}); err != nil {
			return fmt.Errorf("restore snapshot %s: %w", snap.ID, err)
		}

		return nil
	}, func(dir string) error {
		cmp, err := r.CompareTree(ctx, snap.ID, dir)
		if err != nil {
			return err
		}

		rep.Checked, rep.Problems = cmp.Files, cmp.Problems

		return nil
	})
}
