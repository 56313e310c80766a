package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/metrics"
	"lifeboat/internal/ops"
	"lifeboat/internal/plan"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

type backupOptions struct {
	typ                string
	mode               string
	checkpointInterval time.Duration
	metricsFile        string
	point              bool
	dryRun             bool
}

func (a *App) backupCommand() *cobra.Command {
	var (
		o backupOptions
		j *jsonOut
	)

	cmd := &cobra.Command{
		Use:   "backup [SOURCE...]",
		Short: "Back up the named sources (all sources when none is named)",
		Args:  cobra.ArbitraryArgs,
		Example: "  lifeboat backup\n" +
			"  lifeboat backup docs shop-db --point\n" +
			"  lifeboat backup shop-db --type incremental\n" +
			"  lifeboat backup --dry-run",
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.mode != "" && o.mode != config.ModeLogical && o.mode != config.ModePhysical {
				return usage("--mode %q: expected logical or physical", o.mode)
			}

			switch o.typ {
			case repo.TypeFull, repo.TypeIncremental, repo.TypeDifferential:
			default:
				return usage("--type %q: expected full, incremental or differential", o.typ)
			}

			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			names, srcs, err := a.backupSources(cfg, args, o.point)
			if err != nil {
				return err
			}

			point := o.point || len(args) == 0

			if o.dryRun {
				return a.backupDryRun(cmd.Context(), srcs, o.typ, point)
			}

			_, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			// The daemon and other commands take the same locks: one backup
			// of a source at a time, none during prune --reclaim-now.
			e := a.executor(cfg, r, srcs, runName(cmd, names))
			defer a.copyAudit(context.WithoutCancel(cmd.Context()), r, cfg)

			var m *metrics.Metrics
			if o.metricsFile != "" {
				m = metrics.New(toolVersion())
				m.Clock = a.clock()
				e.Metrics = m
			}

			starts := map[string]time.Time{}
			obs := timed(starts, j.observe(a.perRun(func(ev ops.Event) string {
				if ev.Op != "backup" {
					return ""
				}

				return "backup " + ev.Source
			}).observe))

			res, err := e.Backups(cmd.Context(), ops.Backups{
				Sources: names, Type: o.typ, CheckpointInterval: o.checkpointInterval, Point: point, Mode: o.mode,
				Each: func(name string, snap *repo.Snapshot, err error) {
					a.eachBackup(j, e.Sources[name], snap, err, starts[name])
				},
			}, obs)
			if res == nil {
				return err
			}

			stdout := j.backupPoint(cmd.Context(), res)

			if m != nil {
				if err := writeBackupMetrics(m, r, o.metricsFile); err != nil {
					return err
				}
			}

			return backupOutcome(cmd.Context(), res, err, point, stdout, a.Stderr)
		},
	}

	cmd.Flags().StringVar(&o.mode, "mode", "", "database sources: logical or physical for this run (default: the source's mode), e.g. a weekly physical beside daily logical backups")
	cmd.Flags().StringVarP(&o.typ, "type", "t", repo.TypeFull, "full, incremental (since the previous backup) or differential (since the last full)")
	cmd.Flags().DurationVar(&o.checkpointInterval, "checkpoint-interval", time.Minute, "how often a long backup indexes what it uploaded, so a killed run loses little")
	_ = cmd.Flags().MarkHidden("checkpoint-interval")
	cmd.Flags().BoolVar(&o.point, "point", false, "record the named sources' snapshots as one recovery point (always done when no source is named)")
	j = a.jsonProgressFlags(cmd)
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "list what would be backed up (for files: how many files and bytes), and change nothing")
	cmd.Flags().StringVar(&o.metricsFile, "metrics-file", "", "also write the run's metrics to this file for node_exporter's textfile collector (e.g. /var/lib/node_exporter/textfile/lifeboat.prom)")

	return cmd
}

// printBackup prints how one source's backup, begun at start, went.
func (a *App) printBackup(s source.Source, snap *repo.Snapshot, err error, start time.Time) {
	if err != nil {
		fmt.Fprintf(a.Stderr, "error: %v\n", err)
		return
	}

	fmt.Fprintf(a.Stdout, "%s: %s snapshot %s  %d files  %s  (%d read, %d unchanged)  in %s\n",
		s.Name(), snap.Type, shortID(snap.ID), snap.Files, progress.Bytes(snap.Bytes),
		snap.ReadFiles, snap.ReusedFiles, seconds(clock.Since(a.clock(), start)))

	if cd, ok := s.(source.ConsistencyDescriber); ok {
		if line, ok := cd.Consistency(snap); ok {
			fmt.Fprintf(a.Stdout, "%s: %s\n", s.Name(), line)
		}
	}

	if snap.SkippedErrors > 0 {
		fmt.Fprintf(a.Stderr, "warning: %s: %d unreadable entries were left out (ignore_unreadable: true)\n", s.Name(), snap.SkippedErrors)
	}
}

// backupOutcome is the backup command's verdict on a run of backups that
// got as far as running (err is the run's error): interrupted, failed for
// some sources, or done, with the recovery point it recorded. A run that
// kept snapshots but not all it was asked for (a source failed, unreadable
// entries left out) is partial.
func backupOutcome(ctx context.Context, res *ops.BackupsResult, err error, point bool, stdout, stderr io.Writer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("backup interrupted: no partial snapshot was saved: %w", err)
	}

	if len(res.Failed) > 0 {
		failed := errors.New("backup failed for: " + strings.Join(res.Failed, ", "))
		if len(res.Taken) == 0 {
			return failed
		}

		if point {
			fmt.Fprintln(stderr, "no recovery point recorded: not every source was backed up")
		}

		return &PartialError{Err: fmt.Errorf("%w (the snapshots of the others are kept)", failed)}
	}

	if err != nil {
		return err
	}

	if p := res.Point; p != nil {
		fmt.Fprintf(stdout, "recovery point %s: %s (restore them together with `lifeboat recover PLAN --point %s`)\n", p.ID, strings.Join(p.Sources(), ", "), p.ID)
	}

	var skipped []string

	for _, snap := range res.Taken {
		if snap.SkippedErrors > 0 {
			skipped = append(skipped, snap.Source)
		}
	}

	if len(skipped) > 0 {
		return &PartialError{Err: fmt.Errorf("unreadable entries were left out of %s (ignore_unreadable: true); the rest is in the snapshot", strings.Join(skipped, ", "))}
	}

	return nil
}

// backupSources resolves backup's arguments: the sources named, or every
// source when none is, in the order a recovery point takes them.
func (a *App) backupSources(cfg *config.Config, args []string, point bool) ([]string, []source.Source, error) {
	names := args

	if len(names) == 0 {
		names = plan.PointOrder(cfg, cfg.SourceNames)
	} else if point {
		names = plan.PointOrder(cfg, names)
	}

	srcs := make([]source.Source, 0, len(names))
	for _, n := range names {
		s, err := a.source(cfg, n)
		if err != nil {
			return nil, nil, err
		}

		srcs = append(srcs, s)
	}

	return names, srcs, nil
}

// writeBackupMetrics writes the run's metrics, with the repository's size
// at its end, for node_exporter's textfile collector.
func writeBackupMetrics(m *metrics.Metrics, r *repo.Repository, path string) error {
	if size, err := r.Size(); err == nil {
		m.RepositorySize.Set(float64(size))
		m.RepositoryUp.Set(1)
	}

	if err := m.WriteTextfile(path); err != nil {
		return fmt.Errorf("--metrics-file: %w", err)
	}

	return nil
}

// backupDryRun says what a backup of srcs would take, source by source,
// without opening the repository: nothing is written anywhere.
func (a *App) backupDryRun(ctx context.Context, srcs []source.Source, typ string, point bool) error {
	var failed []string

	for _, s := range srcs {
		what := "would be backed up"

		if p, ok := s.(source.Previewer); ok {
			line, err := p.Preview(ctx)
			if err != nil {
				fmt.Fprintf(a.Stderr, "error: %v\n", err)
				failed = append(failed, s.Name())

				continue
			}

			what = line
		}

		fmt.Fprintf(a.Stdout, "%s (%s, %s): %s\n", s.Name(), s.Kind(), typ, what)
	}

	if point && len(srcs) > 1 {
		fmt.Fprintln(a.Stdout, "and they would be recorded as one recovery point")
	}

	fmt.Fprintln(a.Stdout, "dry run: nothing was backed up or changed")

	if len(failed) > 0 {
		return errors.New("a backup would fail for: " + strings.Join(failed, ", "))
	}

	return nil
}
