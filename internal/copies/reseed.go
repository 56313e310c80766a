package copies

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// Target is where a replication writes, and what it must do afterwards.
type Target struct {
	// Where the blobs go: the copy's location, or where a copy of a retired
	// key is re-seeded.
	Where repo.Storage
	// Reseed says what happened to a copy of a retired key (empty: nothing).
	Reseed string
	// Finish points the copy's configured location at the re-seeded copy
	// once it holds everything (a bucket, which has no rename); nil when
	// nothing is left to do.
	Finish func(ctx context.Context) error
}

// Prepare says where a replication of r into the copy c (at where) goes. A
// copy holding a repository that a rekey retired still has the old keys:
// blobs of the new repository cannot join it, so it is re-seeded whole: a
// folder is moved aside (FOLDER.retired-TIME) and filled again at its place;
// in a bucket, where nothing can be renamed and Object Lock may forbid
// deleting, the new copy goes beside the old (PREFIX.rekey-ID) and the
// copy's configured prefix is pointed at it once it is complete. The old
// copy is kept either way. A copy holding some other repository is refused
// before anything is written.
func Prepare(ctx context.Context, r *repo.Repository, c *config.Copy, where repo.Storage, now time.Time) (Target, error) {
	cur, rd, id, err := classify(ctx, r, c, where)
	if err != nil || id == "" {
		return Target{Where: cur}, err
	}

	if where.S3 == nil {
		aside := where.Path + ".retired-" + now.UTC().Format("20060102T150405Z")
		if err := os.Rename(where.Path, aside); err != nil {
			return Target{}, fmt.Errorf("copy %s holds the retired key's repository; move it aside: %w", c.Name, err)
		}

		return Target{Where: where, Reseed: fmt.Sprintf("copy %s held the repository's retired key (ID %.12s): moved aside to %s (kept: delete it when no longer needed) and re-seeded from the new repository", c.Name, id, aside)}, nil
	}

	return reseedBucket(r, c, where, cur, rd, id, now)
}

// Plan is what Prepare would do, doing nothing: Where is what a dry run
// counts against (a re-seeded copy starts empty) and Reseed says what would
// happen to a copy of a retired key.
func Plan(ctx context.Context, r *repo.Repository, c *config.Copy, where repo.Storage) (Target, error) {
	cur, rd, id, err := classify(ctx, r, c, where)
	if err != nil || id == "" {
		return Target{Where: cur}, err
	}

	if where.S3 == nil {
		return Target{Where: repo.AtPath(where.Path + ".retired-none"), Reseed: fmt.Sprintf("copy %s holds the repository's retired key (ID %.12s): it would be moved aside and re-seeded from the new repository", c.Name, id)}, nil
	}

	tg, err := reseedBucket(r, c, where, cur, rd, id, time.Time{})
	tg.Finish, tg.Reseed = nil, fmt.Sprintf("copy %s holds the repository's retired key (ID %.12s): it would be re-seeded from the new repository at %s, beside the old one", c.Name, id, tg.Where)

	return tg, err
}

// classify finds the copy's current location and, when it holds a
// repository this one replaced in a rekey, that one's ID (empty: the copy
// is this repository, or none yet). Another repository is an error.
func classify(ctx context.Context, r *repo.Repository, c *config.Copy, where repo.Storage) (repo.Storage, *repo.Redirect, string, error) {
	cur, rd, err := where.Resolve(ctx)
	if err != nil {
		return where, nil, "", fmt.Errorf("copy %s: %w", c.Name, err)
	}

	id, ok, err := cur.RepositoryID(ctx)
	if err != nil && where.S3 != nil {
		return cur, nil, "", fmt.Errorf("copy %s: %w", c.Name, err)
	}

	if !ok || id == r.ID() {
		return cur, rd, "", nil
	}

	retired, err := records.All[records.PasswordChange](ctx, r, RetiredKind)
	if err != nil {
		return cur, nil, "", err
	}

	if _, old := retired[id]; !old {
		return cur, nil, "", fmt.Errorf("copy %s (%s) holds another repository (ID %s), neither this one (ID %s) nor one it was rekeyed from: nothing was written to it; point copies.%s at an empty folder or prefix", c.Name, c.Location(), id, r.ID(), c.Name)
	}

	return cur, rd, id, nil
}

// reseedBucket re-seeds a bucket copy beside the old one.
func reseedBucket(r *repo.Repository, c *config.Copy, where, cur repo.Storage, rd *repo.Redirect, id string, now time.Time) (Target, error) {
	loc := cur.Location()
	if loc.Prefix == "" {
		return Target{}, fmt.Errorf("copy %s fills bucket %s and holds the repository's retired key (ID %.12s): a new copy cannot go beside it; point copies.%s at another bucket or a prefix", c.Name, loc.Bucket, id, c.Name)
	}

	fresh := where.Within(loc.Bucket, strings.TrimSuffix(loc.Prefix, "/")+".rekey-"+r.ID()[:12]+"/")

	kept := "kept: delete it when no longer needed"
	if where.S3.LockPeriod > 0 {
		kept = "kept: its objects are locked (Object Lock) and cannot be deleted before their retention ends"
	}

	finish := func(ctx context.Context) error {
		next := repo.Redirect{Bucket: loc.Bucket, Prefix: fresh.S3.Prefix, ID: r.ID(), At: now.UTC()}
		if rd != nil {
			next.Retired = rd.Retired
		}

		next.Retired = append(next.Retired, loc)

		return where.WriteRedirect(ctx, next)
	}

	return Target{
		Where: fresh, Finish: finish,
		Reseed: fmt.Sprintf("copy %s held the repository's retired key (ID %.12s) at %s (%s): re-seeded from the new repository at %s, where %s now points", c.Name, id, cur, kept, fresh, c.Location()),
	}, nil
}
