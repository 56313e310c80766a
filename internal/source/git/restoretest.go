package git

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// RestoreTest restores snap's bundle into a temporary folder, verifies it,
// clones it, checks the clone with git fsck and compares its refs and HEAD
// with what the backup recorded.
func (s *Source) RestoreTest(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	clk := r.Clock()
	start := clk.Now()
	name := s.cfg.Name
	rep := &source.TestReport{Snapshot: snap, What: "refs"}

	tmp, err := os.MkdirTemp("", "lifeboat-restore-test-")
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)

	raw, clone := filepath.Join(tmp, "raw"), filepath.Join(tmp, "clone")
	if _, err := r.Restore(ctx, snap.ID, raw, repo.RestoreOptions{Progress: opt.Progress}); err != nil {
		return nil, fmt.Errorf("restore test of %s: restore snapshot %s: %w", name, snap.ID, err)
	}

	rep.Restore = clock.Since(clk, start)

	if opt.Tamper != nil {
		if err := opt.Tamper(ctx, raw); err != nil {
			return nil, err
		}
	}

	bundle := filepath.Join(raw, bundleName)
	fail := func(format string, args ...any) (*source.TestReport, error) {
		rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
		rep.Total = clock.Since(clk, start)

		return rep, nil
	}

	if _, err := gitCmd(ctx, tmp, "clone", "--quiet", "--mirror", bundle, clone); err != nil {
		return fail("the bundle does not clone: %v", err)
	}

	if _, err := gitCmd(ctx, clone, "bundle", "verify", "--quiet", bundle); err != nil {
		return fail("the bundle does not verify: %v", err)
	}

	if _, err := gitCmd(ctx, clone, "fsck", "--no-progress", "--full"); err != nil {
		return fail("git fsck of the clone: %v", err)
	}

	heads, err := gitCmd(ctx, clone, "for-each-ref", "--format=%(refname)")
	if err != nil {
		return fail("list the clone's refs: %v", err)
	}

	got := len(strings.Fields(heads))
	rep.Checked = int64(got)

	if want, err := strconv.Atoi(snap.Extra["refs"]); err == nil && want != got {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the clone has %d refs, the backup recorded %d", got, want))
	}

	// The recorded HEAD is a ref name (or a commit when detached); it must
	// resolve in the clone.
	if head := snap.Extra["head"]; head != "" {
		if _, err := gitCmd(ctx, clone, "rev-parse", "--verify", "--quiet", head+"^{commit}"); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("the recorded HEAD %s does not resolve in the clone", head))
		}
	}

	rep.Total = clock.Since(clk, start)

	return rep, nil
}
