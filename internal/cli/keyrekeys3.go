package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// runRekeyS3 rekeys a repository in a bucket. A bucket has no rename, so the
// new repository stays where it was made (beside the old one, PREFIX.rekey-ID
// where ID begins the old repository's ID, or at --to) and the switch is one
// object written at the configured prefix naming it: every process opening
// the configured location from then on opens the new repository, as a
// renamed folder does. The old one is kept, untouched but for that object,
// until --retire.
func (a *App) runRekeyS3(ctx context.Context, o *rekeyOptions, cfg *config.Config) error {
	base, err := a.storage(cfg)
	if err != nil {
		return err
	}

	r, pw, err := a.openForRekey(ctx, cfg, o)
	if err != nil {
		return err
	}
	defer r.Close(ctx)

	staging, err := rekeyTarget(base, r, o.to)
	if err != nil {
		return err
	}

	dst, err := openOrCreate(ctx, staging, pw)
	if err != nil {
		return err
	}
	defer dst.Close(ctx)

	lk, err := a.copyAll(ctx, r, dst, staging.String())
	if err != nil {
		return err
	}
	defer lk.Release()

	if a.rekeyCrash != nil {
		if err := a.rekeyCrash("switching"); err != nil {
			return err
		}
	}

	old, err := base.ReadRedirect(ctx)
	if err != nil {
		return err
	}

	rd := repo.Redirect{Bucket: staging.S3.Bucket, Prefix: staging.S3.Prefix, ID: dst.ID(), At: a.clock().Now().UTC()}
	if old != nil {
		rd.Retired = old.Retired
	}

	rd.Retired = append(rd.Retired, r.Where().Location())

	if err := base.WriteRedirect(ctx, rd); err != nil {
		return fmt.Errorf("rekey: switch %s to the new repository (run the same command again to finish): %w", base, err)
	}

	fmt.Fprintf(a.Stdout, "%s now opens the new repository at %s, with a new key: give the new password from now on.\n", base, staging)
	fmt.Fprintf(a.Stdout, "The old repository is kept at %s until `lifeboat key rekey --retire`. Copies still hold the old one: the next `lifeboat replicate` re-seeds them from the new one.\n", r.Where())
	fmt.Fprintln(a.Stdout, "Write a new recovery kit (`lifeboat key kit`) and drill it: the old kit names the old repository and password.")
	a.printNewPasswordPlace(cfg)

	return nil
}

// rekeyTarget is where a rekey of the repository r (configured at base)
// builds the new one: --to (s3://bucket/prefix, same endpoint and keys) or
// beside the current one.
func rekeyTarget(base repo.Storage, r *repo.Repository, to string) (repo.Storage, error) {
	cur := r.Where().Location()

	if to == "" {
		if cur.Prefix == "" {
			return repo.Storage{}, usage("key rekey: the repository fills bucket %s (no prefix), so there is no room beside it: give --to s3://BUCKET/PREFIX for the new one", cur.Bucket)
		}

		// Named after the old repository: a resumed run finds the same place.
		return base.Within(cur.Bucket, strings.TrimSuffix(cur.Prefix, "/")+".rekey-"+r.ID()[:12]+"/"), nil
	}

	rest, ok := strings.CutPrefix(to, "s3://")
	bucket, prefix, _ := strings.Cut(rest, "/")

	if !ok || bucket == "" {
		return repo.Storage{}, usage("key rekey --to %s: the repository is in a bucket, so the new one goes to s3://BUCKET/PREFIX (same endpoint and keys)", to)
	}

	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		prefix += "/"
	}

	at := repo.Location{Bucket: bucket, Prefix: prefix}
	if repo.Nested(at, cur) || repo.Nested(at, base.Location()) {
		return repo.Storage{}, usage("key rekey --to %s: that overlaps the repository (s3://%s/%s): choose a prefix beside it, such as s3://%s/%snew", to, cur.Bucket, cur.Prefix, bucket, strings.TrimSuffix(cur.Prefix, "/")+".")
	}

	return base.Within(bucket, prefix), nil
}

// retireS3 deletes the repositories earlier rekeys of a bucket replaced,
// keeping the object that points the configured prefix at the current one.
func (a *App) retireS3(ctx context.Context, cfg *config.Config) error {
	base, err := a.storage(cfg)
	if err != nil {
		return err
	}

	rd, err := base.ReadRedirect(ctx)
	if err != nil {
		return err
	}

	if rd == nil || len(rd.Retired) == 0 {
		return usage("key rekey --retire: no retired repository at %s", base)
	}

	var errs []error

	left := rd.Retired[:0:0]

	for _, l := range rd.Retired {
		where := base.Within(l.Bucket, l.Prefix)

		n, err := where.DeleteAt(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("retire %s: %w", where, err))
			left = append(left, l)

			continue
		}

		fmt.Fprintf(a.Stdout, "deleted the retired repository %s (%d objects)\n", where, n)

		if base.S3.LockPeriod > 0 {
			fmt.Fprintf(a.Stdout, "  the bucket keeps locked versions of them until their retention (immutable_for) ends\n")
		}
	}

	rd.Retired = left
	if err := base.WriteRedirect(ctx, *rd); err != nil {
		errs = append(errs, err)
	}

	return errors.Join(errs...)
}
