package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
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
func present(c *config.Copy) bool { return copies.Present(c) }

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
	return copies.Open(ctx, cfg, c, pw, a.Getenv, a.log)
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
	var (
		to     string
		j      *jsonOut
		dryRun bool
	)

	cmd := &cobra.Command{
		Use:   "replicate [--to NAME] [--dry-run]",
		Short: "Bring the copies of the repository up to date (every snapshot and binlog segment they lack), verified",
		Args:  cobra.NoArgs,
		Example: "  lifeboat replicate\n" +
			"  lifeboat replicate --to offsite",
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
				return usage("no copies to replicate to: add them under copies: in %s (`lifeboat config example --sml-library` shows some)", cfg.File)
			}

			pw, err := a.password(cfg, false)
			if err != nil {
				return err
			}

			var failed []string

			for _, name := range names {
				if err := a.replicateOne(cmd.Context(), j, cfg, r, cfg.Copies[name], pw, to != "", dryRun); err != nil {
					fmt.Fprintf(a.Stderr, "error: copy %s: %v\n", name, err)
					j.replicateFailed(cfg.Copies[name], err)
					failed = append(failed, name)
				}
			}

			if len(failed) > 0 {
				err := fmt.Errorf("replication failed for: %s", strings.Join(failed, ", "))
				if len(failed) < len(names) {
					// The others are up to date and stay so.
					return &PartialError{Err: err}
				}

				return err
			}

			return nil
		},
	}

	cmd.Flags().StringVar(&to, "to", "", "only this copy")
	j = a.jsonProgressFlags(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what each copy lacks and would be sent, and copy nothing")

	return cmd
}

// replicateOne brings one copy up to date through the operations executor
// and says what it did. named: the copy was asked for by name, so an offline
// copy that is not attached is an error rather than skipped.
func (a *App) replicateOne(ctx context.Context, j *jsonOut, cfg *config.Config, r *repo.Repository, c *config.Copy, pw repo.Password, named, dryRun bool) error {
	ex, err := a.allExecutor(cfg, r)
	if err != nil {
		return err
	}

	res, err := ex.Replicate(ctx, ops.Replicate{Copy: c, Password: pw, Getenv: a.Getenv, DryRun: dryRun}, j.observe(a.barObserver("replicate to "+c.Name)))
	if err != nil {
		return err
	}

	if res.Absent {
		last := "never"
		if !res.LastAt.IsZero() {
			last = human(clock.Since(a.clock(), res.LastAt)) + " ago"
		}

		msg := fmt.Sprintf("offline copy %s is not attached (%s does not exist); last brought up to date: %s", c.Name, c.Path, last)
		if named {
			return errors.New(msg + "; attach the disk and run again")
		}

		if j.on {
			return j.emit(replicateJSON{Type: "result", Copy: c.Name, Location: c.Location(), OK: true, Absent: true, LastReplicated: lastAt(res.LastAt)})
		}

		fmt.Fprintln(a.Stdout, msg+"; skipped")

		return nil
	}

	if j.on {
		last := lastAt(a.clock().Now())
		if dryRun {
			last = lastAt(res.LastAt)
		}

		return j.emit(replicateJSON{
			Type: "result", Copy: c.Name, Location: c.Location(), OK: true, Blobs: res.Stats.Blobs, Bytes: res.Stats.Bytes,
			AlreadyPresent: res.Stats.Present, Seconds: res.Took.Seconds(), LastReplicated: last, DryRun: dryRun,
		})
	}

	st := res.Stats

	if res.Reseeded != "" {
		fmt.Fprintln(a.Stdout, res.Reseeded)
	}

	if dryRun {
		fmt.Fprintf(a.Stdout, "copy %s (%s): would copy %d blobs (%s); %d already there\ndry run: nothing was copied or changed\n",
			c.Name, c.Location(), st.Blobs, progress.Bytes(st.Bytes), st.Present)

		return nil
	}

	fmt.Fprintf(a.Stdout, "copy %s (%s): %d blobs (%s) copied and read back, %d already there, in %s; it opens and holds every snapshot\n",
		c.Name, c.Location(), st.Blobs, progress.Bytes(st.Bytes), st.Present, seconds(res.Took))

	return nil
}

// exportRepoCommand writes a self-contained copy of the repository into a
// folder (removable media).
func (a *App) exportRepoCommand() *cobra.Command {
	var (
		j      *jsonOut
		dryRun bool
	)

	cmd := &cobra.Command{
		Use:     "export-repo DIR [--dry-run]",
		Short:   "Write a self-contained copy of the repository into DIR (removable media); it opens with the same password",
		Args:    cobra.ExactArgs(1),
		Example: "  lifeboat export-repo /media/usb/lifeboat",
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

			return a.replicateOne(cmd.Context(), j, cfg, r, c, pw, true, dryRun)
		},
	}

	j = a.jsonProgressFlags(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what DIR lacks and would be written, and write nothing")

	return cmd
}
