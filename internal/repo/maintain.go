package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/content/indexblob"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/snapshotgc"
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
// when no other process writes to the repository at the same time (prune
// takes the repository's lock for it). Without it, deleted data is removed
// by maintenance a day or more later, which is safe against concurrent
// backups.
func (r *Repository) Maintain(ctx context.Context, reclaimNow bool) error {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return errors.New("maintenance needs a direct repository connection")
	}

	r.maintMu.Lock()
	defer r.maintMu.Unlock()

	safety := maintenance.SafetyFull

	if reclaimNow {
		safety = maintenance.SafetyNone

		if err := r.forgetUnreferenced(ctx, dr); err != nil {
			return err
		}
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

		dropped, err := r.rewriteRangeWithoutTombstones(ctx, w)
		if err != nil {
			return fmt.Errorf("maintenance: %w", err)
		}

		if dropped > 0 {
			r.log.Info("maintenance: rewrote the index without the markers of deleted contents", "dropped", dropped)
		}

		n, err := r.dropSupersededIndexes(ctx, w)
		if err != nil {
			return fmt.Errorf("maintenance: %w", err)
		}

		if n > 0 {
			r.log.Info("maintenance: deleted index blobs a range checkpoint holds", "count", n)
		}

		if n, err = r.dropEmptyIndexShards(ctx, w); err != nil {
			return fmt.Errorf("maintenance: %w", err)
		}

		if n > 0 {
			r.log.Info("maintenance: removed empty index folders", "count", n)
		}

		return nil
	})
}

// forgetUnreferenced drops the checkpoints of unfinished backups, marks
// every content no snapshot refers to as deleted,
// commits that, and moves the deletion watermark past it, so the maintenance
// that follows sees those contents as gone. kopia's own full maintenance
// does the marking in the same session as the pack rewrite, which then
// still sees them and copies them into the new packs: the space came back
// only a run or two later, after another backup.
func (r *Repository) forgetUnreferenced(ctx context.Context, dr repo.DirectRepository) error {
	opts := repo.WriteSessionOptions{Purpose: "lifeboat maintenance: forget unreferenced data"}

	// No backup runs now (prune holds the repository): every checkpoint is
	// of a run that failed or was killed, and would keep what it uploaded.
	err := repo.DirectWriteSession(ctx, dr, opts, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		ids, err := snapshot.ListSnapshotManifests(ctx, w, nil, map[string]string{"type": "snapshot", labelRole: "checkpoint"})
		if err != nil {
			return fmt.Errorf("list checkpoints: %w", err)
		}

		for _, id := range ids {
			if err := w.DeleteManifest(ctx, id); err != nil {
				return fmt.Errorf("delete checkpoint %s: %w", id, err)
			}
		}

		if len(ids) > 0 {
			r.log.Info("maintenance: dropped the checkpoints of unfinished backups", "count", len(ids))
		}

		return nil
	})
	if err != nil {
		return fmt.Errorf("maintenance: %w", err)
	}

	err = repo.DirectWriteSession(ctx, dr, opts, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		return snapshotgc.Run(ctx, w, true, maintenance.SafetyNone, w.Time()) //nolint:wrapcheck
	})
	if err != nil {
		return fmt.Errorf("maintenance: find unreferenced data: %w", err)
	}

	// The watermark has a resolution of a second: wait into the next one
	// so it lies after every deletion just committed. The second is kopia's
	// clock's, which stamped the deletions.
	if t := dr.Time(); t.Truncate(time.Second).Add(time.Second).After(t) {
		time.Sleep(t.Truncate(time.Second).Add(time.Second).Sub(t))
	}

	err = repo.DirectWriteSession(ctx, dr, opts, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		_, err := w.ContentManager().CompactIndexes(ctx, indexblob.CompactOptions{
			AllIndexes: true, DropDeletedBefore: w.Time(), DisableEventualConsistencySafety: true,
		})

		return err //nolint:wrapcheck
	})
	if err != nil {
		return fmt.Errorf("maintenance: drop unreferenced data from the index: %w", err)
	}

	if err := dr.Refresh(ctx); err != nil {
		return fmt.Errorf("maintenance: reread the index: %w", err)
	}

	return nil
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
