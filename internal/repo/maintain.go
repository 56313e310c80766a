package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot/snapshotmaintenance"
)

// DeleteSnapshot forgets a snapshot; its data goes at the next maintenance
// once nothing else refers to it.
func (r *Repository) DeleteSnapshot(ctx context.Context, id string) error {
	return repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat prune"}, func(ctx context.Context, w repo.RepositoryWriter) error {
		if err := w.DeleteManifest(ctx, manifest.ID(id)); err != nil {
			return fmt.Errorf("delete snapshot %s: %w", id, err)
		}

		return nil
	})
}

// Maintain runs kopia's full maintenance: data no snapshot refers to is
// garbage-collected and packs are compacted. With reclaimNow the safety
// margins are dropped so space comes back in this run; that is safe only
// when no other process writes to the repository at the same time. Without
// it, deleted data is removed by maintenance a day or more later, which is
// safe against concurrent backups.
func (r *Repository) Maintain(ctx context.Context, reclaimNow bool) error {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return errors.New("maintenance needs a direct repository connection")
	}

	safety := maintenance.SafetyFull
	if reclaimNow {
		safety = maintenance.SafetyNone
	}

	return repo.DirectWriteSession(ctx, dr, repo.WriteSessionOptions{Purpose: "lifeboat maintenance"}, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		// Whoever prunes owns maintenance: a repository moved to a new
		// host keeps being maintained.
		p, err := maintenance.GetParams(ctx, w)
		if err != nil {
			return fmt.Errorf("maintenance settings: %w", err)
		}

		if me := w.ClientOptions().UsernameAtHost(); p.Owner != me {
			p.Owner = me
			if err := maintenance.SetParams(ctx, w, p); err != nil {
				return fmt.Errorf("take maintenance ownership: %w", err)
			}
		}

		if err := snapshotmaintenance.Run(ctx, w, maintenance.ModeFull, true, safety); err != nil {
			return fmt.Errorf("maintenance: %w", err)
		}

		return nil
	})
}

// Size is the bytes the repository takes in its storage.
func (r *Repository) Size() (int64, error) {
	var n int64

	if r.where.S3 != nil {
		dr, ok := r.rep.(repo.DirectRepository)
		if !ok {
			return 0, errors.New("size: not a direct repository")
		}

		err := dr.BlobReader().ListBlobs(context.Background(), "", func(m blob.Metadata) error {
			n += m.Length
			return nil
		})

		return n, r.where.explain(err)
	}

	err := filepath.WalkDir(r.path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}

		if !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}

		return nil
	})

	return n, err
}
