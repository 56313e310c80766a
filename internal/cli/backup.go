package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/metrics"
	"lifeboat/internal/plan"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

type backupOptions struct {
	typ                string
	checkpointInterval time.Duration
	metricsFile        string
	point              bool
}

func (a *App) backupCommand() *cobra.Command {
	var o backupOptions

	cmd := &cobra.Command{
		Use:   "backup [SOURCE...]",
		Short: "Back up the named sources (all sources when none is named)",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch o.typ {
			case repo.TypeFull, repo.TypeIncremental, repo.TypeDifferential:
			default:
				return usage("--type %q: expected full, incremental or differential", o.typ)
			}

			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			names := args
			point := o.point || len(names) == 0

			if len(names) == 0 {
				names = plan.PointOrder(cfg, cfg.SourceNames)
			} else if o.point {
				names = plan.PointOrder(cfg, names)
			}

			srcs := make([]source.Source, 0, len(names))
			for _, n := range names {
				s, err := a.source(cfg, n)
				if err != nil {
					return err
				}

				srcs = append(srcs, s)
			}

			_, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			// The daemon and other commands take the same locks: one backup
			// of a source at a time, none during prune --reclaim-now.
			locks, err := r.LockSources(names, runName(cmd, names))
			if err != nil {
				return err
			}
			defer locks.Release()
			defer a.copyAudit(context.WithoutCancel(cmd.Context()), r, cfg)

			var (
				failed []string
				taken  []*repo.Snapshot
			)

			var m *metrics.Metrics
			if o.metricsFile != "" {
				m = metrics.New(toolVersion())
			}

			for _, s := range srcs {
				start := time.Now()

				// Sizing walks every blob of the repository: only for the
				// metrics file, which reports what the backup added.
				var before int64
				if m != nil {
					before, _ = r.Size()
				}

				bar := a.bar("backup " + s.Name())
				snap, err := s.Backup(cmd.Context(), r, source.BackupOptions{
					Type: o.typ, Version: toolVersion(), Progress: bar,
					CheckpointInterval: o.checkpointInterval, Log: a.log,
				})
				bar.Done()

				if m != nil {
					after, _ := r.Size()

					var logical int64
					if snap != nil {
						logical = snap.Bytes
					}

					m.Backup(s.Name(), o.typ, start, time.Now(), logical, after-before, err)
					m.RPOObjective.WithLabelValues(s.Name()).Set(cfg.Tiers[cfg.Sources[s.Name()].Tier].RPO.Seconds())

					if t, _ := source.Restorable(cmd.Context(), r, s); !t.IsZero() {
						m.SetRestorable(s.Name(), t)
					}
				}

				rec := audit.Record{Action: "backup", Source: s.Name(), Outcome: audit.OK}
				if err != nil {
					rec.Outcome, rec.Detail = audit.Failed, fmt.Sprintf("%s: %v", o.typ, err)
				} else {
					rec.Snapshot, rec.Detail = snap.ID, fmt.Sprintf("%s: %d files, %d bytes", snap.Type, snap.Files, snap.Bytes)
				}

				a.record(cfg, rec)

				if err != nil {
					fmt.Fprintf(a.Stderr, "error: %v\n", err)
					failed = append(failed, s.Name())

					if cmd.Context().Err() != nil {
						break
					}

					continue
				}

				taken = append(taken, snap)

				fmt.Fprintf(a.Stdout, "%s: %s snapshot %s  %d files  %s  (%d read, %d unchanged)  in %s\n",
					s.Name(), snap.Type, shortID(snap.ID), snap.Files, progress.Bytes(snap.Bytes),
					snap.ReadFiles, snap.ReusedFiles, seconds(time.Since(start)))

				if cd, ok := s.(source.ConsistencyDescriber); ok {
					if line, ok := cd.Consistency(snap); ok {
						fmt.Fprintf(a.Stdout, "%s: %s\n", s.Name(), line)
					}
				}

				if snap.SkippedErrors > 0 {
					fmt.Fprintf(a.Stderr, "warning: %s: %d unreadable entries were left out (ignore_unreadable: true)\n", s.Name(), snap.SkippedErrors)
				}
			}

			if m != nil {
				if size, err := r.Size(); err == nil {
					m.RepositorySize.Set(float64(size))
					m.RepositoryUp.Set(1)
				}

				if err := m.WriteTextfile(o.metricsFile); err != nil {
					return fmt.Errorf("--metrics-file: %w", err)
				}
			}

			if err := cmd.Context().Err(); err != nil {
				return fmt.Errorf("backup interrupted: no partial snapshot was saved: %w", err)
			}

			if len(failed) > 0 {
				if point && len(taken) > 0 {
					fmt.Fprintln(a.Stderr, "no recovery point recorded: not every source was backed up")
				}

				return errors.New("backup failed for: " + strings.Join(failed, ", "))
			}

			if point && len(taken) > 1 {
				p, err := plan.NewPoint(cmd.Context(), r, taken)
				if err != nil {
					return fmt.Errorf("record the recovery point: %w", err)
				}

				a.record(cfg, audit.Record{Action: "point", Outcome: audit.OK, Detail: fmt.Sprintf("recovery point %s of %s", p.ID, strings.Join(p.Sources(), ", "))})
				fmt.Fprintf(a.Stdout, "recovery point %s: %s (restore them together with `lifeboat recover PLAN --point %s`)\n", p.ID, strings.Join(p.Sources(), ", "), p.ID)
			}

			return nil
		},
	}

	cmd.Flags().StringVarP(&o.typ, "type", "t", repo.TypeFull, "full, incremental (since the previous backup) or differential (since the last full)")
	cmd.Flags().DurationVar(&o.checkpointInterval, "checkpoint-interval", time.Minute, "how often a long backup indexes what it uploaded, so a killed run loses little")
	_ = cmd.Flags().MarkHidden("checkpoint-interval")
	cmd.Flags().BoolVar(&o.point, "point", false, "record the named sources' snapshots as one recovery point (always done when no source is named)")
	cmd.Flags().StringVar(&o.metricsFile, "metrics-file", "", "also write the run's metrics to this file for node_exporter's textfile collector (e.g. /var/lib/node_exporter/textfile/lifeboat.prom)")

	return cmd
}
