package source

import (
	"context"
	"fmt"
	"os"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
)

// RestoreTestInFolder runs a restore test through a scratch folder, removed
// afterwards: restore writes the snapshot into it (rep.Restore is how long
// that took), opt.Tamper may change it, and check compares it with the
// snapshot, filling rep's Checked and Problems; rep.Total is the whole.
// An error of restore or check comes back as "restore test of NAME: ...".
func RestoreTestInFolder(ctx context.Context, r *repo.Repository, name string, rep *TestReport, opt TestOptions,
	restore, check func(dir string) error,
) (*TestReport, error) {
	clk := r.Clock()
	start := clk.Now()

	tmp, err := os.MkdirTemp("", "lifeboat-restore-test-")
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)

	if err := restore(tmp); err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}

	rep.Restore = clock.Since(clk, start)

	if opt.Tamper != nil {
		if err := opt.Tamper(ctx, tmp); err != nil {
			return nil, err
		}
	}

	if err := check(tmp); err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}

	rep.Total = clock.Since(clk, start)

	return rep, nil
}
