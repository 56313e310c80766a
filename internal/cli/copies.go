package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/progress"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// KindCopy is the record kind of each copy's last replication.
const KindCopy = copies.Kind

// readCommands may read from a copy (--from, or a fallback when the primary
// cannot be reached): they never write the repository except a restore's
// safety snapshot.
var readCommands = map[string]bool{"restore": true, "verify": true, "drill": true, "ls": true, "snapshots": true, "export": true, "status": true, "points": true}

// copyStorage resolves a copy's storage.
func (a *App) copyStorage(cfg *config.Config, c *config.Copy) (repo.Storage, error) {
	return a.storageOf(cfg, "copies."+c.Name, c.Path, c.S3)
}

// present reports whether an offline copy is attached now: its folder exists.
func present(c *config.Copy) bool {
	if !c.Offline || c.S3 != nil {
		return true
	}

	fi, err := os.Stat(c.Path)

	return err == nil && fi.IsDir()
}

func (a *App) copyByName(cfg *config.Config, name string) (*config.Copy, error) {
	c, ok := cfg.Copies[name]
	if !ok {
		if len(cfg.CopyNames) == 0 {
			return nil, usage("unknown copy %q: %s defines no copies (add them under copies:)", name, cfg.File)
		}

		return nil, usage("unknown copy %q: %s defines %s", name, cfg.File, strings.Join(cfg.CopyNames, ", "))
	}

	return c, nil
}

// openCopy opens a copy as a repository (same password).
func (a *App) openCopy(ctx context.Context, cfg *config.Config, c *config.Copy, pw repo.Password) (*repo.Repository, error) {
	if !present(c) {
		return nil, fmt.Errorf("offline copy %s is not attached: %s does not exist; attach the disk (and create that folder once)", c.Name, c.Path)
	}

	where, err := a.copyStorage(cfg, c)
	if err != nil {
		return nil, err
	}

	r, err := repo.OpenAt(ctx, where, pw, a.log)
	if errors.Is(err, repo.ErrNotInitialized) {
		// A copy is made by replicate, which writes the repository's format
		// last: without it, replication never finished, and init would be
		// the wrong advice.
		return nil, fmt.Errorf("copy %s (%s): %w yet, only part of one (a replication did not finish): run `lifeboat replicate --to %s` to complete it", c.Name, c.Location(), repo.ErrNotInitialized, c.Name)
	}

	return r, err
}

// fallback opens the first copy that answers, after the primary failed.
func (a *App) fallback(ctx context.Context, cfg *config.Config, pw repo.Password, primaryErr error) (*repo.Repository, error) {
	for _, name := range cfg.CopyNames {
		c := cfg.Copies[name]
		if !present(c) {
			continue
		}

		r, err := a.openCopy(ctx, cfg, c, pw)
		if err != nil {
			a.log.Warn("copy cannot be opened either", "copy", name, "err", err)
			continue
		}

		fmt.Fprintf(a.Stderr, "warning: the repository cannot be read (%v); reading from copy %s (%s) instead\n", primaryErr, name, c.Location())
		a.usingCopy = name

		return r, nil
	}

	return nil, primaryErr
}

func (a *App) replicateCommand() *cobra.Command {
	var to string

	cmd := &cobra.Command{
		Use:   "replicate [--to NAME]",
		Short: "Bring the copies of the repository up to date (every snapshot and binlog segment they lack), verified",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			names := cfg.CopyNames
			if to != "" {
				if _, err := a.copyByName(cfg, to); err != nil {
					return err
				}

				names = []string{to}
			}

			if len(names) == 0 {
				return usage("no copies to replicate to: add them under copies: in %s (see examples/sml-library/lifeboat.yaml)", cfg.File)
			}

			pw, err := a.password(cfg, false)
			if err != nil {
				return err
			}

			var failed []string

			for _, name := range names {
				if err := a.replicateOne(cmd.Context(), cfg, r, cfg.Copies[name], pw, to != ""); err != nil {
					fmt.Fprintf(a.Stderr, "error: copy %s: %v\n", name, err)
					failed = append(failed, name)
				}
			}

			if len(failed) > 0 {
				return fmt.Errorf("replication failed for: %s", strings.Join(failed, ", "))
			}

			return nil
		},
	}

	cmd.Flags().StringVar(&to, "to", "", "only this copy")

	return cmd
}

// replicateOne brings one copy up to date, opens it to check it holds every
// snapshot, and records the result.
func (a *App) replicateOne(ctx context.Context, cfg *config.Config, r *repo.Repository, c *config.Copy, pw repo.Password, named bool) error {
	if !present(c) {
		last := "never"
		if rec, ok, err := records.Get[records.Copy](ctx, r, KindCopy, c.Name); err == nil && ok && !rec.At.IsZero() {
			last = human(time.Since(rec.At)) + " ago"
		}

		msg := fmt.Sprintf("offline copy %s is not attached (%s does not exist); last brought up to date: %s", c.Name, c.Path, last)
		if named {
			return errors.New(msg + "; attach the disk and run again")
		}

		fmt.Fprintln(a.Stdout, msg+"; skipped")

		return nil
	}

	where, err := a.copyStorage(cfg, c)
	if err != nil {
		return err
	}

	start := time.Now()
	bar := a.bar("replicate to " + c.Name)
	st, err := r.Replicate(ctx, where, bar)
	bar.Done()

	rec := audit.Record{Action: "replicate", Outcome: audit.OK}

	if err != nil {
		rec.Outcome, rec.Detail = audit.Failed, fmt.Sprintf("copy %s: %v", c.Name, err)
		a.record(cfg, rec)

		return err
	}

	// Open the copy as a repository: it must hold every snapshot.
	cp, err := repo.OpenAt(ctx, where, pw, a.log)
	if err != nil {
		return fmt.Errorf("the copy does not open after replication: %w", err)
	}
	defer cp.Close(ctx)

	restorable := map[string]time.Time{}

	for _, name := range cfg.SourceNames {
		want, err := r.Snapshots(ctx, name)
		if err != nil {
			return err
		}

		got, err := cp.Snapshots(ctx, name)
		if err != nil {
			return fmt.Errorf("list the copy's snapshots: %w", err)
		}

		if len(got) < len(want) {
			return fmt.Errorf("the copy holds %d snapshots of %s, the repository %d", len(got), name, len(want))
		}

		src, err := a.source(cfg, name)
		if err != nil {
			return err
		}

		if t, err := source.Restorable(ctx, cp, src); err == nil && !t.IsZero() {
			restorable[name] = t.UTC()
		}
	}

	err = records.Put(context.WithoutCancel(ctx), r, KindCopy, c.Name, records.Copy{
		At: start, OK: true, Blobs: st.Blobs, Bytes: st.Bytes, Total: st.Total, Restorable: restorable,
	})
	if err != nil {
		return err
	}

	rec.Detail = fmt.Sprintf("copy %s: %d blobs, %d bytes copied and read back; %d already there", c.Name, st.Blobs, st.Bytes, st.Present)
	a.record(cfg, rec)

	fmt.Fprintf(a.Stdout, "copy %s (%s): %d blobs (%s) copied and read back, %d already there, in %s; it opens and holds every snapshot\n",
		c.Name, c.Location(), st.Blobs, progress.Bytes(st.Bytes), st.Present, seconds(time.Since(start)))

	return nil
}

// exportRepoCommand writes a self-contained copy of the repository into a
// folder (removable media).
func (a *App) exportRepoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "export-repo DIR",
		Short: "Write a self-contained copy of the repository into DIR (removable media); it opens with the same password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			pw, err := a.password(cfg, false)
			if err != nil {
				return err
			}

			c := &config.Copy{Name: "export", Path: args[0]}

			if abs, err := filepath.Abs(args[0]); err == nil {
				c.Path = abs
			}

			if c.Path == cfg.Repository.Path {
				return usage("export-repo %s: that is the repository itself", args[0])
			}

			return a.replicateOne(cmd.Context(), cfg, r, c, pw, true)
		},
	}
}
