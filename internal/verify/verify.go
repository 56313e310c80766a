// Package verify proves snapshots can be read back: every stored byte
// decrypted and authenticated, every tree's digest recomputed. It records each
// snapshot's result and each source's last run in the repository, so prune
// can protect the newest good snapshot and status and the metrics can say when
// a source was last verified and how it went.
package verify

import (
	"context"

	"lifeboat/internal/clock"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// Run verifies snaps of source (all of its snapshots when nil) and records
// the results.
func Run(ctx context.Context, clk clock.Clock, r *repo.Repository, source string, snaps []*repo.Snapshot, progress repo.Progress) (*repo.VerifyResult, error) {
	return RunSample(ctx, clk, r, source, snaps, 1, progress)
}

// RunSample is Run reading about fraction of the file content (see
// repo.VerifySample).
func RunSample(ctx context.Context, clk clock.Clock, r *repo.Repository, source string, snaps []*repo.Snapshot, fraction float64, progress repo.Progress) (*repo.VerifyResult, error) {
	if snaps == nil {
		var err error
		if snaps, err = r.Snapshots(ctx, source); err != nil {
			return nil, err
		}
	}

	res, err := r.VerifySample(ctx, snaps, fraction, progress)
	if err != nil {
		return res, err
	}

	now := clock.Or(clk).Now()

	for _, s := range snaps {
		if err := records.Put(ctx, r, records.KindVerify, s.ID, records.Verify{OK: !res.Failed[s.ID], At: now, Source: s.Source}); err != nil {
			return res, err
		}
	}

	if source != "" {
		err = records.Put(ctx, r, records.KindVerifyRun, source, records.VerifyRun{
			OK: res.OK(), At: now, Snapshots: res.Snapshots, Problems: len(res.Problems), Read: fraction,
		})
	}

	return res, err
}
