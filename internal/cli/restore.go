package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

func (a *App) restoreCommand() *cobra.Command {
	var (
		snapID    string
		target    string
		overwrite bool
		database  string
		datadir   string
		tables    []string
		image     string
		pit       pointFlags
		masked    bool
		workers   int
		j         *jsonOut
	)

	cmd := &cobra.Command{
		Use:   "restore SOURCE (--target DIR | [--target-database NAME | --target-datadir DIR] [--tables a,b] [--to-time T | --to-position FILE:POS | --to-gtid G] [--skip-gtid G] [--dry-run])",
		Short: "Restore a snapshot of a source into a folder, or a database snapshot into the server",
		Args:  cobra.ExactArgs(1),
		Example: "  lifeboat restore docs --target /tmp/docs-restored\n" +
			"  lifeboat restore shop-db --to-time '2026-11-25 14:03:27' --dry-run\n" +
			"  lifeboat restore shop-db --snapshot 3f2a9c --target-database shop_check\n" +
			"  lifeboat restore shop-db --masked --target-database shop_dev\n" +
			"  lifeboat restore shop-db --to-time '2026-11-25 14:03:27' --target-datadir /var/lib/mysql-new",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			if src, err := a.source(cfg, args[0]); err == nil && isAddress(src) {
				if database != "" || tables != nil || datadir != "" || masked || pit.set() {
					return usage("restore: --target-database, --target-datadir, --tables, --masked, --to-time, --to-position, --to-gtid and --skip-gtid are for database sources")
				}

				return a.restoreAddress(cmd, j, cfg, src, addressRestore{snapID: snapID, target: target, image: image, overwrite: overwrite, dryRun: pit.dryRun})
			} else if image != "" {
				return usage("restore: --image is for image sources")
			}

			if isDatabase(a.source(cfg, args[0])) {
				if target != "" {
					return usage("restore: --target is for files and git sources; restore a database with --target-database NAME (default: its own name)")
				}

				if masked && datadir != "" {
					return usage("restore: --masked restores rows into a server; a physical restore (--target-datadir) copies the data files as they are and cannot mask them")
				}

				if workers < 0 {
					return usage("restore: --replay-workers must be 0 (the source's workers) or more, not %d", workers)
				}

				return a.restorePoint(cmd, j, cfg, args[0], snapID, cmd.Flags().Changed("snapshot"), pit, ops.DatabaseOptions{
					Database: database, Tables: tables, Overwrite: overwrite, Masked: masked, Datadir: datadir, ReplayWorkers: workers,
				})
			}

			if masked {
				return usage("restore: --masked is for database sources (their masking rules)")
			}

			if database != "" || tables != nil || datadir != "" {
				return usage("restore: --target-database, --target-datadir and --tables are for database sources")
			}

			if pit.set() {
				return usage("restore: --to-time, --to-position, --to-gtid and --skip-gtid are for database sources")
			}

			return a.restoreFolder(cmd, j, cfg, args[0], snapID, target, overwrite, pit.dryRun)
		},
	}

	cmd.Flags().StringVar(&snapID, "snapshot", "latest", "snapshot ID (or a unique prefix of 6+ characters), or latest")
	cmd.Flags().StringVar(&target, "target", "", "folder to restore into")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "restore over existing files or a database, after saving them as a safety snapshot")
	cmd.Flags().StringVar(&database, "target-database", "", "database sources: restore under this name (default: the original)")
	cmd.Flags().StringVar(&datadir, "target-datadir", "", "database sources with physical backups: restore into this empty data directory (then start a server on it)")
	cmd.Flags().StringSliceVar(&tables, "tables", nil, "database sources: restore only these tables")
	cmd.Flags().StringVar(&image, "image", "", "image sources: the image to restore (required when the source has several, except into oci:DIR); --target is docker://HOST/NAME:TAG, oci:DIR or docker-archive:FILE")
	cmd.Flags().BoolVar(&masked, "masked", false, "database sources: restore a masked copy (the source's masking rules), for non-production use")
	cmd.Flags().StringVar(&pit.toTime, "to-time", "", "database sources: recover to this instant (e.g. '2026-11-25 14:03:27.5' local time, or RFC 3339)")
	cmd.Flags().StringVar(&pit.toPosition, "to-position", "", "database sources: recover every transaction that starts before binlog FILE:POS")
	cmd.Flags().StringVar(&pit.toGTID, "to-gtid", "", "database sources: recover up to and including this GTID (domain-server-seq)")
	cmd.Flags().StringSliceVar(&pit.skipGTIDs, "skip-gtid", nil, "database sources: leave out this transaction (e.g. a DROP TABLE) while replaying; repeatable")
	cmd.Flags().IntVar(&workers, "replay-workers", 0, "database sources: how many replay the binlog of a point-in-time recovery in parallel, commit order kept: connections into a server, or the private server's replication threads with --target-datadir (default: the source's workers; 1: serially)")
	cmd.Flags().BoolVar(&pit.dryRun, "dry-run", false, "say what would be restored and where, and change nothing (database sources: the recovery plan: full backup, binlog segments, instant reached)")
	a.ro.mysql.bind(cmd)
	j = a.jsonProgressFlags(cmd)

	return cmd
}

// restoreFolder restores a snapshot of a files or git source into target.
func (a *App) restoreFolder(cmd *cobra.Command, j *jsonOut, cfg *config.Config, name, snapID, target string, overwrite, dryRun bool) error {
	if target == "" {
		return usage("restore: --target DIR is required (an empty or new folder; --overwrite to restore over existing files)")
	}

	abs, err := filepath.Abs(target)
	if err != nil {
		return usage("--target %s: %v", target, err)
	}

	s, err := a.source(cfg, name)
	if err != nil {
		return err
	}

	if s.Contains(abs) && !sourceGone(cfg.Sources[name], abs) {
		return usage("--target %s lies inside source %s: restoring there would mix the backup into the data it came from; choose a folder outside it "+
			"(its own place is fine once it is missing or empty: that puts the backup back)", abs, s.Name())
	}

	// Checked again by the restore; here, before the repository is opened,
	// so a wrong target is told at once.
	if err := source.CheckTarget(abs, overwrite); err != nil {
		return err
	}

	_, r, err := a.openRepo(cmd.Context())
	if err != nil {
		return err
	}
	defer r.Close(cmd.Context())

	if dryRun {
		return a.restoreFolderDryRun(cmd.Context(), r, name, snapID, abs, overwrite)
	}

	req := ops.Restore{
		Source: name, Snapshot: snapID, Target: abs, Overwrite: overwrite, Asked: asked(),
		Begin: func(snap *repo.Snapshot, inc *repo.IncompleteRestore) {
			if inc != nil {
				fmt.Fprintf(a.textOut(), "%s holds an interrupted restore (%s): resuming it, keeping the files already complete\n", abs, inc)
			}

			a.noteRestore(cfg, restoreNote{Source: name, Snapshot: snap.ID, Target: abs})
		},
		// Data the repository cannot give back (a corrupt or missing
		// blob) is what the copies are for: the same snapshot from one.
		FromCopy: a.copyRetry(cfg, r, name, func(err error) bool { return ExitCode(err) == ExitFailed }),
	}

	e := a.executor(cfg, r, []source.Source{s}, runName(cmd, []string{name}))
	res, err := e.Restore(cmd.Context(), req, j.observe(a.perRun(func(ops.Event) string { return "restore " + name }).observe))

	if res.Restored != nil && res.Restored.Safety != nil && (!j.on || err != nil) {
		fmt.Fprintf(a.textOut(), "saved what the restore replaces as safety snapshot %s (%d files, %s)\n",
			shortID(res.Restored.Safety.ID), res.Restored.Safety.Files, progress.Bytes(res.Restored.Safety.Bytes))
	}

	if err != nil {
		return err
	}

	forgetRestore(cfg, abs)

	if j.on {
		return j.emit(a.folderRestoreJSON(name, abs, res))
	}

	snap, st := res.Snapshot, res.Restored.Stats
	fmt.Fprintf(a.Stdout, "restored %s snapshot %s (%s, %s) to %s: %d files, %s in %s\n",
		name, shortID(snap.ID), snap.Type, snap.Time.Local().Format(time.DateTime), abs,
		st.Files, progress.Bytes(st.Bytes), seconds(res.Took))

	if st.Resumed != nil {
		fmt.Fprintf(a.Stdout, "finished the interrupted restore: %d files and symlinks it had completed were kept\n", st.Kept)
	}

	return nil
}

// copyRetry repeats a restore of the named source that failed in a way
// retryable says a copy can mend, from the first copy holding the
// snapshot; nil when no copy can be tried (none configured, or this run
// already reads one).
func (a *App) copyRetry(cfg *config.Config, r *repo.Repository, name string, retryable func(error) bool) ops.FromCopy {
	if a.usingCopy != "" || len(cfg.CopyNames) == 0 {
		return nil
	}

	return func(ctx context.Context, snap *repo.Snapshot, primary error, attempt func(cp *repo.Repository, csnap *repo.Snapshot) error) error {
		if !retryable(primary) {
			return primary
		}

		return a.fromCopy(ctx, cfg, r, name, snap, primary, attempt)
	}
}

// fromCopy repeats a failed restore of snap (attempt) from the first copy
// that holds it, says so, and heals the repository from that copy.
func (a *App) fromCopy(ctx context.Context, cfg *config.Config, r *repo.Repository, sourceName string, snap *repo.Snapshot, primaryErr error, attempt func(cp *repo.Repository, csnap *repo.Snapshot) error) error {
	pw, err := a.password(cfg, false)
	if err != nil {
		return primaryErr
	}

	for _, name := range cfg.CopyNames {
		c := cfg.Copies[name]
		if !present(c) {
			continue
		}

		cp, err := a.openCopy(ctx, cfg, c, pw)
		if err != nil {
			continue
		}

		csnap, err := cp.Find(ctx, sourceName, snap.ID)
		if err != nil {
			cp.Close(ctx)
			continue
		}

		fmt.Fprintf(a.Stderr, "warning: restoring from the repository failed (%v); restoring snapshot %s from copy %s (%s) instead\n", primaryErr, shortID(snap.ID), name, c.Location())

		err = attempt(cp, csnap)
		cp.Close(ctx)

		if err != nil {
			return fmt.Errorf("restore failed from the repository (%v) and from copy %s: %w", primaryErr, name, err)
		}

		a.usingCopy = name
		fmt.Fprintf(a.textOut(), "restored from copy %s: the repository's data for this snapshot is damaged\n", name)

		// Heal the repository from the copy, so the next restore and the
		// next replication work from good data.
		if where, err := a.copyStorage(cfg, c); err == nil {
			healed, herr := r.Heal(ctx, where)

			switch {
			case herr != nil:
				fmt.Fprintf(a.Stderr, "warning: healing the repository from copy %s failed: %v\n", name, herr)
			case len(healed) > 0:
				fmt.Fprintf(a.textOut(), "healed the repository from copy %s: %d damaged or missing data blobs written back; `lifeboat verify` checks it\n", name, len(healed))
				a.record(cfg, audit.Record{Action: "heal", Outcome: audit.OK, Detail: fmt.Sprintf("%d blobs from copy %s", len(healed), name)})
			}
		}

		return nil
	}

	return primaryErr
}

// sourceGone reports whether every path of sc that holds target is missing
// or an empty folder: on a new machine, restoring there puts the backup
// back where it was, with nothing to mix it into.
func sourceGone(sc *config.Source, target string) bool {
	paths := sc.Paths
	if sc.Path != "" {
		paths = []string{sc.Path}
	}

	for _, p := range paths {
		if !repo.Contains(p, target) {
			continue
		}

		entries, err := os.ReadDir(p)
		if err == nil && len(entries) > 0 || err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}

	return true
}

// isDatabase reports whether src restores into a database server (with
// --target-database) rather than into a folder; a source that cannot be
// built is not, and the folder path reports why.
func isDatabase(src source.Source, err error) bool {
	_, ok := src.(source.DatabaseRestorer)

	return err == nil && ok
}

// restoreFolderDryRun says which snapshot a restore would write into target
// and what would happen to what target holds, and writes nothing: the
// repository is only read, target is only looked at.
func (a *App) restoreFolderDryRun(ctx context.Context, r *repo.Repository, name, snapID, target string, overwrite bool) error {
	snap, err := r.Find(ctx, name, snapID)
	if err != nil {
		return err
	}

	// A dry run is no restore: the audit trail records none.
	a.ran = true

	fmt.Fprintf(a.Stdout, "would restore %s snapshot %s (%s, %s): %d files, %s\n", name, shortID(snap.ID), snap.Type,
		snap.Time.Local().Format(time.DateTime), snap.Files, progress.Bytes(snap.Bytes))

	switch empty, err := source.IsEmptyDir(target); {
	case err != nil:
		return fmt.Errorf("--target %s: %w", target, err)
	case empty:
		fmt.Fprintf(a.Stdout, "into %s (missing or empty)\n", target)
	case overwrite:
		fmt.Fprintf(a.Stdout, "over what %s holds, after saving what it replaces as a safety snapshot\n", target)
	default:
		fmt.Fprintf(a.Stdout, "into %s, resuming the interrupted restore it holds\n", target)
	}

	fmt.Fprintln(a.Stdout, "dry run: nothing was restored or changed")

	return nil
}
