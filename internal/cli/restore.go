package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
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
		tables    []string
		pit       pointFlags
	)

	cmd := &cobra.Command{
		Use:   "restore SOURCE (--target DIR | [--target-database NAME] [--tables a,b] [--to-time T | --to-position FILE:POS | --to-gtid G] [--skip-gtid G] [--dry-run])",
		Short: "Restore a snapshot of a source into a folder, or a database snapshot into the server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			if isDatabase(a.source(cfg, args[0])) {
				if target != "" {
					return usage("restore: --target is for files and git sources; restore a database with --target-database NAME (default: its own name)")
				}

				return a.restorePoint(cmd, cfg, args[0], snapID, cmd.Flags().Changed("snapshot"), pit, source.DatabaseRestoreOptions{
					Database: database, Tables: tables, Overwrite: overwrite, Version: toolVersion(),
				})
			}

			if database != "" || tables != nil {
				return usage("restore: --target-database and --tables are for database sources")
			}

			if pit.set() || pit.dryRun {
				return usage("restore: --to-time, --to-position, --to-gtid, --skip-gtid and --dry-run are for database sources")
			}

			if target == "" {
				return usage("restore: --target DIR is required (an empty or new folder; --overwrite to restore over existing files)")
			}

			abs, err := filepath.Abs(target)
			if err != nil {
				return usage("--target %s: %v", target, err)
			}

			s, err := a.source(cfg, args[0])
			if err != nil {
				return err
			}

			if s.Contains(abs) && !sourceGone(cfg.Sources[args[0]], abs) {
				return usage("--target %s lies inside source %s: restoring there would mix the backup into the data it came from; choose a folder outside it "+
					"(its own place is fine once it is missing or empty: that puts the backup back)", abs, s.Name())
			}

			if err := source.CheckTarget(abs, overwrite); err != nil {
				return err
			}

			_, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			snap, err := r.Find(cmd.Context(), s.Name(), snapID)
			if err != nil {
				return err
			}

			if inc, err := repo.ReadRestoreMarker(abs); err == nil && inc != nil && inc.Snapshot == snap.ID {
				fmt.Fprintf(a.Stdout, "%s holds an interrupted restore (%s): resuming it, keeping the files already complete\n", abs, inc)
			}

			a.noteRestore(cfg, restoreNote{Source: s.Name(), Snapshot: snap.ID, Target: abs})

			start := time.Now()
			bar := a.bar("restore " + s.Name())
			res, err := s.Restore(cmd.Context(), r, snap, abs, source.RestoreOptions{
				Overwrite: overwrite, Version: toolVersion(), Progress: bar, Log: a.log,
			})
			bar.Done()

			// Data the repository cannot give back (a corrupt or missing
			// blob) is what the copies are for: the same snapshot from one.
			if err != nil && a.usingCopy == "" && len(cfg.CopyNames) > 0 && ExitCode(err) == 1 && cmd.Context().Err() == nil {
				// What the failed attempt wrote is replaced; the target
				// was empty or already saved in a safety snapshot.
				err = a.fromCopy(cmd, cfg, r, s.Name(), snap, err, func(cp *repo.Repository, csnap *repo.Snapshot) (err error) {
					res, err = s.Restore(cmd.Context(), cp, csnap, abs, source.RestoreOptions{Overwrite: true, Version: toolVersion(), Log: a.log})
					return err
				})
			}

			if res != nil && res.Safety != nil {
				fmt.Fprintf(a.Stdout, "saved what the restore replaces as safety snapshot %s (%d files, %s)\n",
					shortID(res.Safety.ID), res.Safety.Files, progress.Bytes(res.Safety.Bytes))
			}

			if err != nil {
				return err
			}

			forgetRestore(cfg, abs)

			fmt.Fprintf(a.Stdout, "restored %s snapshot %s (%s, %s) to %s: %d files, %s in %s\n",
				s.Name(), shortID(snap.ID), snap.Type, snap.Time.Local().Format(time.DateTime), abs,
				res.Stats.Files, progress.Bytes(res.Stats.Bytes), seconds(time.Since(start)))

			if res.Stats.Resumed != nil {
				fmt.Fprintf(a.Stdout, "finished the interrupted restore: %d files and symlinks it had completed were kept\n", res.Stats.Kept)
			}

			return nil
		},
	}

	cmd.Flags().StringVar(&snapID, "snapshot", "latest", "snapshot ID (or a unique prefix of 6+ characters), or latest")
	cmd.Flags().StringVar(&target, "target", "", "folder to restore into")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "restore over existing files or a database, after saving them as a safety snapshot")
	cmd.Flags().StringVar(&database, "target-database", "", "database sources: restore under this name (default: the original)")
	cmd.Flags().StringSliceVar(&tables, "tables", nil, "database sources: restore only these tables")
	cmd.Flags().StringVar(&pit.toTime, "to-time", "", "database sources: recover to this instant (e.g. '2026-11-25 14:03:27.5' local time, or RFC 3339)")
	cmd.Flags().StringVar(&pit.toPosition, "to-position", "", "database sources: recover every transaction that starts before binlog FILE:POS")
	cmd.Flags().StringVar(&pit.toGTID, "to-gtid", "", "database sources: recover up to and including this GTID (domain-server-seq)")
	cmd.Flags().StringSliceVar(&pit.skipGTIDs, "skip-gtid", nil, "database sources: leave out this transaction (e.g. a DROP TABLE) while replaying; repeatable")
	cmd.Flags().BoolVar(&pit.dryRun, "dry-run", false, "database sources: print the recovery plan (full backup, binlog segments, instant reached) and change nothing")
	a.ro.mysql.bind(cmd)

	return cmd
}

func (a *App) restoreDatabase(cmd *cobra.Command, cfg *config.Config, name, snapID, database string, tables []string, overwrite bool) error {
	s, err := a.source(cfg, name)
	if err != nil {
		return err
	}

	_, r, err := a.openRepo(cmd.Context())
	if err != nil {
		return err
	}
	defer r.Close(cmd.Context())

	snap, err := r.Find(cmd.Context(), name, snapID)
	if err != nil {
		return err
	}

	start := time.Now()
	bar := a.bar("restore " + name)
	opt := source.DatabaseRestoreOptions{Database: database, Tables: tables, Overwrite: overwrite, Version: toolVersion(), Progress: bar}
	rep, err := s.(source.DatabaseRestorer).RestoreDatabase(cmd.Context(), r, snap, opt)
	bar.Done()

	if rep != nil && rep.Safety != nil {
		fmt.Fprintf(a.Stdout, "saved the databases it replaces as safety snapshot %s\n", shortID(rep.Safety.ID))
	}

	// Dump data the repository cannot give back: the same snapshot from a
	// copy. The failed attempt may have loaded part of it, so the retry
	// replaces that; what was there before is in the safety snapshot.
	if err != nil && a.usingCopy == "" && len(cfg.CopyNames) > 0 && repo.IsDataError(err) && cmd.Context().Err() == nil {
		opt.Progress, opt.Overwrite, opt.Saved = nil, true, true
		err = a.fromCopy(cmd, cfg, r, name, snap, err, func(cp *repo.Repository, csnap *repo.Snapshot) (err error) {
			rep, err = s.(source.DatabaseRestorer).RestoreDatabase(cmd.Context(), cp, csnap, opt)
			return err
		})
	}

	if err != nil {
		return err
	}

	fmt.Fprintf(a.Stdout, "restored %s snapshot %s (%s) into %s: %d tables, %d rows, %d views/routines/triggers/events in %s; row counts and checksums of %d tables match the backup\n",
		name, shortID(snap.ID), snap.Time.Local().Format(time.DateTime), strings.Join(rep.Databases, ", "),
		rep.Tables, rep.Rows, rep.Objects, seconds(time.Since(start)), rep.Checked)

	return nil
}

// fromCopy repeats a failed restore of snap (attempt) from the first copy
// that holds it, says so, and heals the repository from that copy.
func (a *App) fromCopy(cmd *cobra.Command, cfg *config.Config, r *repo.Repository, sourceName string, snap *repo.Snapshot, primaryErr error, attempt func(cp *repo.Repository, csnap *repo.Snapshot) error) error {
	pw, err := a.password(cfg, false)
	if err != nil {
		return primaryErr
	}

	for _, name := range cfg.CopyNames {
		c := cfg.Copies[name]
		if !present(c) {
			continue
		}

		cp, err := a.openCopy(cmd.Context(), cfg, c, pw)
		if err != nil {
			continue
		}

		csnap, err := cp.Find(cmd.Context(), sourceName, snap.ID)
		if err != nil {
			cp.Close(cmd.Context())
			continue
		}

		fmt.Fprintf(a.Stderr, "warning: restoring from the repository failed (%v); restoring snapshot %s from copy %s (%s) instead\n", primaryErr, shortID(snap.ID), name, c.Location())

		err = attempt(cp, csnap)
		cp.Close(cmd.Context())

		if err != nil {
			return fmt.Errorf("restore failed from the repository (%v) and from copy %s: %w", primaryErr, name, err)
		}

		a.usingCopy = name
		fmt.Fprintf(a.Stdout, "restored from copy %s: the repository's data for this snapshot is damaged\n", name)

		// Heal the repository from the copy, so the next restore and the
		// next replication work from good data.
		if where, err := a.copyStorage(cfg, c); err == nil {
			healed, herr := r.Heal(cmd.Context(), where)

			switch {
			case herr != nil:
				fmt.Fprintf(a.Stderr, "warning: healing the repository from copy %s failed: %v\n", name, herr)
			case len(healed) > 0:
				fmt.Fprintf(a.Stdout, "healed the repository from copy %s: %d damaged or missing data blobs written back; `lifeboat verify` checks it\n", name, len(healed))
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
