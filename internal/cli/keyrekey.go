package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// rekeyPasses bounds the copy passes before the switch: each carries over
// what backups and the binlog streamer wrote during the one before.
const rekeyPasses = 5

type rekeyOptions struct {
	np     newPassword
	to     string
	retire bool
}

func (a *App) rekeyCommand() *cobra.Command {
	var o rekeyOptions

	cmd := &cobra.Command{
		Use:   "rekey [--new-password-env NAME | --new-password-file FILE] [--to LOCATION] | rekey --retire",
		Short: "Rotate the repository's key: copy everything into a new repository with fresh keys, then switch to it",
		Long: "Creates a new repository with a new master key beside the old one (FOLDER.rekey) or at --to,\n" +
			"and copies into it every snapshot, binlog segment and record, each read back and compared by\n" +
			"content before it counts. Interrupted, it resumes where it stopped. Backups and the binlog\n" +
			"streamer keep running during the copy; what they wrote meanwhile is carried over by further\n" +
			"passes, the last one with the repository to itself (stop the daemon for that moment). Then a\n" +
			"folder repository is switched in place: the old one is renamed FOLDER.retired-TIME and kept\n" +
			"until `lifeboat key rekey --retire` deletes it; with --to, point repository: at the new location.\n" +
			"A repository in a bucket is built beside the old one (PREFIX.rekey-ID) or at --to s3://BUCKET/PREFIX,\n" +
			"and the configured prefix then points at it (the object lifeboat.rekeyed), so the configuration\n" +
			"stays as it is; --retire deletes the old one but that pointer.\n" +
			"The old password and the old key do not open the new repository. Copies hold the old repository\n" +
			"until the next `lifeboat replicate` (or the daemon's) re-seeds each from the new one, keeping the\n" +
			"old copy aside; `lifeboat status` lists the copies still on the old key.",
		Example: "  lifeboat key rekey --new-password-env LIFEBOAT_NEW_PASSWORD   # the variable holds the new one\n" +
			"  lifeboat key rekey --retire",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.retire {
				return a.retireOld(cmd.Context())
			}

			return a.runRekey(cmd.Context(), &o)
		},
	}

	o.np.bind(cmd, "the new repository's password")
	cmd.Flags().StringVar(&o.to, "to", "", "create the new repository at this folder instead of beside the old one (then point repository.path at it), or at s3://BUCKET/PREFIX for a repository in a bucket")
	cmd.Flags().BoolVar(&o.retire, "retire", false, "delete the repositories an earlier rekey retired (FOLDER.retired-*)")

	return cmd
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (a *App) runRekey(ctx context.Context, o *rekeyOptions) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}

	if cfg.Repository.S3 != nil {
		return a.runRekeyS3(ctx, o, cfg)
	}

	old, err := filepath.Abs(cfg.Repository.Path)
	if err != nil {
		return err
	}

	staging := old + ".rekey"
	if o.to != "" {
		if staging, err = filepath.Abs(o.to); err != nil {
			return err
		}
	}

	// A switch interrupted between its two renames: finish it.
	if o.to == "" && !exists(old) && exists(filepath.Join(staging, "kopia.repository.f")) {
		if err := os.Rename(staging, old); err != nil {
			return fmt.Errorf("rekey: finish the switch: %w", err)
		}

		fmt.Fprintf(a.Stdout, "Finished the switch an earlier run began: %s is the new repository.\n", old)

		return nil
	}

	r, pw, err := a.openForRekey(ctx, cfg, o)
	if err != nil {
		return err
	}

	dst, err := openOrCreate(ctx, repo.AtPath(staging), pw)
	if err != nil {
		r.Close(ctx)
		return err
	}

	lk, err := a.copyAll(ctx, r, dst, staging)

	dst.Close(ctx)
	r.Close(ctx)

	if err != nil {
		return err
	}

	// The hold on the repository lasts through the switch: a binlog
	// streamer's next write waits for it, then finds the new repository.
	defer lk.Release()

	if err := a.switchTo(old, staging, o.to != ""); err != nil {
		return err
	}

	if o.to == "" {
		a.printNewPasswordPlace(cfg)
	}

	return nil
}

// openForRekey opens the repository and reads the new password, which
// must differ from the old.
func (a *App) openForRekey(ctx context.Context, cfg *config.Config, o *rekeyOptions) (*repo.Repository, repo.Password, error) {
	_, r, err := a.openRepo(ctx)
	if err != nil {
		return nil, repo.Password{}, err
	}

	oldPW, err := a.password(cfg, false)
	if err != nil {
		r.Close(ctx)
		return nil, repo.Password{}, err
	}

	pw, err := a.readNewPassword(&o.np)
	if err != nil {
		r.Close(ctx)
		return nil, repo.Password{}, err
	}

	if pw.Value == oldPW.Value {
		r.Close(ctx)
		return nil, repo.Password{}, usage("key rekey: %v: a new key under the old password would still fall to whoever has it", repo.ErrSamePassword)
	}

	return r, pw, nil
}

// openOrCreate opens the new repository a rekey writes into, creating it
// on the first run.
func openOrCreate(ctx context.Context, where repo.Storage, pw repo.Password) (*repo.Repository, error) {
	_, ok, err := where.RepositoryID(ctx)
	if err != nil && where.S3 != nil {
		return nil, fmt.Errorf("rekey: %s: %w", where, err)
	}

	if !ok {
		if err := repo.CreateAt(ctx, where, pw); err != nil {
			return nil, fmt.Errorf("rekey: create the new repository: %w", err)
		}
	}

	dst, err := repo.OpenAt(ctx, where, pw, nil)
	if errors.Is(err, repo.ErrWrongPassword) {
		return nil, usage("rekey: %s was begun with another password: give that one, or delete it to begin again", where)
	}

	return dst, err
}

// copyAll copies in passes until one finds nothing new, the last with the
// repository to itself, and records the rotation in the new repository. It
// returns holding the repository: the caller switches, then releases it.
func (a *App) copyAll(ctx context.Context, r, dst *repo.Repository, staging string) (*repo.Locks, error) {
	if r.ID() == dst.ID() {
		return nil, fmt.Errorf("rekey: %s is the same repository", staging)
	}

	total := repo.RekeyStats{}

	hook := func(n int) error {
		if a.rekeyCrash != nil {
			return a.rekeyCrash(fmt.Sprintf("copied %d", n))
		}

		return nil
	}

	for i := 0; i < rekeyPasses; i++ {
		st, err := r.RekeyInto(ctx, dst, hook)
		if err != nil {
			return nil, err
		}

		total.Snapshots, total.Segments, total.Bytes = total.Snapshots+st.Snapshots, total.Segments+st.Segments, total.Bytes+st.Bytes
		if i == 0 {
			total.Present = st.Present
		}

		total.Records = st.Records

		if st.Copied() == 0 {
			break
		}
	}

	if a.rekeyCrash != nil {
		if err := a.rekeyCrash("copied"); err != nil {
			return nil, err
		}
	}

	lk, err := a.holdForSwitch(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("rekey: everything so far is copied into %s; the last pass needs the repository to itself: %w", staging, err)
	}

	if err := a.finalPass(ctx, r, dst, &total); err != nil {
		lk.Release()
		return nil, err
	}

	fmt.Fprintf(a.Stdout, "Copied into the new repository %s (ID %s): %d snapshots and %d binlog segments (%d bytes, each read back and compared), %d already there from an earlier run, %d records.\n",
		staging, dst.ID(), total.Snapshots, total.Segments, total.Bytes, total.Present, total.Records)

	return lk, nil
}

// holdForSwitch takes the repository to itself for the final pass and the
// switch. A binlog streamer holds it for a moment at each write, so a few
// refusals in a row are waited out; a backup or the daemon is not.
func (a *App) holdForSwitch(ctx context.Context, r *repo.Repository) (*repo.Locks, error) {
	for attempt := 0; ; attempt++ {
		lk, err := r.LockRepository(true, "key rekey (final pass and switch)")
		if err == nil || !errors.Is(err, repo.ErrBusy) || attempt == 200 {
			return lk, err
		}

		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond): // a streamer's write is shorter
		}
	}
}

// finalPass copies what the earlier passes left, with the repository held,
// and records the rotation in the new repository.
func (a *App) finalPass(ctx context.Context, r, dst *repo.Repository, total *repo.RekeyStats) error {
	st, err := r.RekeyInto(ctx, dst, nil)
	if err != nil {
		return err
	}

	total.Snapshots, total.Segments, total.Bytes, total.Records = total.Snapshots+st.Snapshots, total.Segments+st.Segments, total.Bytes+st.Bytes, st.Records

	if err := records.Put(ctx, dst, records.KindKey, "rekey", records.PasswordChange{At: a.clock().Now()}); err != nil {
		return err
	}

	// Copies holding this ID are of the retired key: replicate re-seeds them.
	if err := records.Put(ctx, dst, copies.RetiredKind, r.ID(), records.PasswordChange{At: a.clock().Now()}); err != nil {
		return err
	}

	return nil
}

// switchTo puts the new repository where the configuration looks, keeping
// the old one beside it.
func (a *App) switchTo(old, staging string, elsewhere bool) error {
	if elsewhere {
		fmt.Fprintf(a.Stdout, "The old repository %s is unchanged. Point repository.path at %s, give the new password, and delete the old one when you no longer need it.\n", old, staging)
		return nil
	}

	retired := old + ".retired-" + a.clock().Now().UTC().Format("20060102T150405Z")

	if err := os.Rename(old, retired); err != nil {
		return fmt.Errorf("rekey: retire the old repository: %w", err)
	}

	if a.rekeyCrash != nil {
		if err := a.rekeyCrash("switching"); err != nil {
			return err
		}
	}

	if err := os.Rename(staging, old); err != nil {
		return fmt.Errorf("rekey: put the new repository in place (run the same command again to finish): %w", err)
	}

	fmt.Fprintf(a.Stdout, "%s is now the new repository, with a new key: give the new password from now on.\n", old)
	fmt.Fprintf(a.Stdout, "The old repository is kept at %s until `lifeboat key rekey --retire`. Copies still hold the old one: the next `lifeboat replicate` re-seeds them from the new one.\n", retired)
	fmt.Fprintln(a.Stdout, "Write a new recovery kit (`lifeboat key kit`) and drill it: the old kit names the old repository and password.")

	return nil
}

// retireOld deletes the repositories earlier rekeys retired.
func (a *App) retireOld(ctx context.Context) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}

	if cfg.Repository.S3 != nil {
		return a.retireS3(ctx, cfg)
	}

	old, err := filepath.Abs(cfg.Repository.Path)
	if err != nil {
		return err
	}

	found, _ := filepath.Glob(old + ".retired-*")

	var gone []string

	for _, d := range found {
		if !exists(filepath.Join(d, "kopia.repository.f")) {
			continue
		}

		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("retire %s: %w", d, err)
		}

		gone = append(gone, d)
	}

	if len(gone) == 0 {
		return usage("key rekey --retire: no retired repository beside %s", old)
	}

	for _, d := range gone {
		fmt.Fprintf(a.Stdout, "deleted the retired repository %s\n", d)
	}

	return nil
}
