package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/prune"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

func (a *App) pruneCommand() *cobra.Command {
	var (
		dryRun     bool
		reclaimNow bool
		j          *jsonOut
		sourceFlag []string
	)

	cmd := &cobra.Command{
		Use:   "prune [SOURCE...] [--dry-run]",
		Short: "Delete the snapshots no retention rule keeps, saying for each why it stays or goes",
		Long: "Applies every source's retention: rules (latest, hourly, daily, weekly, monthly, yearly,\n" +
			"within). Pinned snapshots and the newest snapshot that passed verification always stay, as\n" +
			"do the full backups and binlog that kept database backups need. Then runs repository\n" +
			"maintenance. Deleted data is reclaimed by maintenance a day later, which is safe while other\n" +
			"backups run; --reclaim-now reclaims it at once, in one run, together with what failed or killed\n" +
			"backups left (their checkpoints are dropped). It needs the repository to itself: it is refused\n" +
			"while a backup or the daemon runs.",
		Args: cobra.ArbitraryArgs,
		Example: "  lifeboat prune --dry-run\n" +
			"  lifeboat prune docs",
		RunE: func(cmd *cobra.Command, args []string) error {
			sources := sourceArgs(args, sourceFlag...)

			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			for _, s := range sources {
				if _, err := a.source(cfg, s); err != nil {
					return err
				}
			}

			// --reclaim-now deletes data no snapshot refers to yet, such as
			// what a running backup has written so far: it needs the
			// repository to itself.
			what := runName(cmd, nil)
			if reclaimNow {
				what += " --reclaim-now"
			}

			res, err := a.executor(cfg, r, nil, what).Prune(cmd.Context(), ops.Prune{Sources: sources, DryRun: dryRun, ReclaimNow: reclaimNow}, nil)
			if res == nil || res.Plan == nil {
				return err
			}

			if j.on {
				return a.jsonPrune(cmd.Context(), j, cfg, r, res, err, dryRun, reclaimNow)
			}

			plan := res.Plan

			a.printPrunePlan(plan)

			snaps, segs := plan.Deletes()

			if dryRun && err == nil {
				fmt.Fprintf(a.Stdout, "dry run: would delete %d snapshots and %d binlog segments; nothing was changed\n", snaps, segs)
				return nil
			}

			if err != nil {
				return err
			}

			before, after := res.Before, res.After
			a.copyAudit(context.WithoutCancel(cmd.Context()), r, cfg)

			fmt.Fprintf(a.Stdout, "deleted %d snapshots and %d binlog segments; maintenance ran; the repository went from %s to %s",
				snaps, segs, progress.Bytes(before), progress.Bytes(after))

			if !reclaimNow {
				fmt.Fprint(a.Stdout, " (deleted data is reclaimed by maintenance after a day's safety margin)")
			}

			fmt.Fprintln(a.Stdout)

			return nil
		},
	}

	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be deleted and why, and change nothing")
	cmd.Flags().BoolVar(&reclaimNow, "reclaim-now", false, "drop maintenance's safety margins so space comes back now, with what failed backups left (refused while a backup or the daemon runs)")
	cmd.Flags().StringSliceVar(&sourceFlag, "source", nil, "prune only these sources")
	a.deprecateSourceFlag(cmd, "lifeboat prune docs")
	j = a.jsonFlag(cmd)

	return cmd
}

// printPrunePlan prints what prune decides for each snapshot, and why.
func (a *App) printPrunePlan(plan *prune.Plan) {
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)

	for _, sp := range plan.Sources {
		fmt.Fprintf(tw, "%s\n", sp.Source)

		for _, d := range sp.Decisions {
			verdict := "keep"
			if !d.Keep {
				verdict = "DELETE"
			}

			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", verdict, shortID(d.Snap.ID), d.Snap.Time.Local().Format(time.DateTime), d.Snap.Type+rolePart(d.Snap.Role), strings.Join(d.Reasons, "; "))
		}

		if sp.SegmentsWhy != "" {
			fmt.Fprintf(tw, "  binlog: %d segments stay, %d go: %s\n", sp.KeptSegments, len(sp.Segments), sp.SegmentsWhy)
		}
	}

	tw.Flush()
}

func rolePart(role string) string {
	if role == "backup" {
		return ""
	}

	return " (" + role + ")"
}

func (a *App) pinCommand() *cobra.Command {
	var (
		reason string
		dryRun bool
	)

	cmd := &cobra.Command{
		Use:     "pin [SOURCE] SNAPSHOT --reason TEXT [--dry-run]",
		Short:   "Keep a snapshot whatever the retention rules say (a legal hold)",
		Args:    cobra.RangeArgs(1, 2),
		Example: "  lifeboat pin docs 3f2a9c --reason 'legal hold: case 2026-17'",
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usage("pin: --reason is required, e.g. --reason \"legal hold, case 2026-114\"")
			}

			return a.onSnapshot(cmd, args, dryRun, func(e *ops.Executor, snap *repo.Snapshot, _ bool) (string, error) {
				if dryRun {
					return fmt.Sprintf("would pin %s snapshot %s (%s)", snap.Source, shortID(snap.ID), reason), nil
				}

				err := e.Pin(cmd.Context(), ops.Pin{Source: snap.Source, Snapshot: snap.ID, Reason: reason, By: audit.Actor()}, nil)

				return fmt.Sprintf("pinned %s snapshot %s (%s): prune keeps it until `lifeboat unpin %s`", snap.Source, shortID(snap.ID), reason, shortID(snap.ID)), err
			})
		},
	}

	cmd.Flags().StringVar(&reason, "reason", "", "why it must be kept (recorded with the pin and in the audit log)")
	a.jsonFlag(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say which snapshot would be pinned, and change nothing")

	return cmd
}

func (a *App) unpinCommand() *cobra.Command {
	var dryRun bool

	cmd := &cobra.Command{
		Use:     "unpin [SOURCE] SNAPSHOT [--dry-run]",
		Short:   "Let retention rules decide about a pinned snapshot again",
		Args:    cobra.RangeArgs(1, 2),
		Example: "  lifeboat unpin docs 3f2a9c",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSnapshot(cmd, args, dryRun, func(e *ops.Executor, snap *repo.Snapshot, pinned bool) (string, error) {
				if !pinned {
					return "", usage("snapshot %s of %s is not pinned", shortID(snap.ID), snap.Source)
				}

				if dryRun {
					return fmt.Sprintf("would unpin %s snapshot %s", snap.Source, shortID(snap.ID)), nil
				}

				return fmt.Sprintf("unpinned %s snapshot %s", snap.Source, shortID(snap.ID)), e.Unpin(cmd.Context(), ops.Pin{Source: snap.Source, Snapshot: snap.ID}, nil)
			})
		},
	}

	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say which snapshot would be unpinned, and change nothing")
	a.jsonFlag(cmd)

	return cmd
}

// onSnapshot opens the repository, resolves [SOURCE] ID, runs change with
// whether the snapshot is pinned, and copies the audit log into the
// repository after a change.
func (a *App) onSnapshot(cmd *cobra.Command, args []string, dryRun bool, change func(*ops.Executor, *repo.Snapshot, bool) (string, error)) error {
	ctx := cmd.Context()

	cfg, r, err := a.openRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close(ctx)

	snap, err := findAny(ctx, r, args)
	if err != nil {
		return err
	}

	pins, err := records.All[records.Pin](ctx, r, records.KindPin)
	if err != nil {
		return err
	}

	_, pinned := pins[snap.ID]

	msg, err := change(a.executor(cfg, r, nil, runName(cmd, args)), snap, pinned)
	if err != nil {
		return err
	}

	if dryRun {
		fmt.Fprintf(a.Stdout, "%s\ndry run: nothing was changed\n", msg)

		return nil
	}

	a.copyAudit(context.WithoutCancel(ctx), r, cfg)

	if a.jsonOut {
		return a.emitJSON(pinJSON{Source: snap.Source, SnapshotID: snap.ID, Pinned: a.command == "pin"})
	}

	fmt.Fprintln(a.Stdout, msg)

	return nil
}

func (a *App) auditCommand() *cobra.Command {
	var (
		since  string
		asJSON bool
	)

	cmd := &cobra.Command{
		Use:   "audit [--since T]",
		Short: "List the audit log (`audit verify` checks it has not been tampered with)",
		Args:  cobra.NoArgs,
		Example: "  lifeboat audit --since 7d\n" +
			"  lifeboat audit --json",
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			recs, err := audit.Read(cfg.Audit.Path)
			if err != nil {
				return fmt.Errorf("audit log %s: %w", cfg.Audit.Path, err)
			}

			var from time.Time

			if since != "" {
				if d, err := parseAge(since); err == nil {
					from = a.clock().Now().Add(-d)
				} else if from, err = ParseTime(since); err != nil {
					return usage("--since %q: expected a duration such as 7d or a time such as '2026-11-01 00:00'", since)
				}
			}

			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(tw, "#\tTIME\tACTOR\tACTION\tSOURCE\tOUTCOME\tDETAIL")
			}

			for _, r := range recs {
				if r.Time.Before(from) {
					continue
				}

				if asJSON {
					b, _ := jsonLine(r)
					if _, err := a.Stdout.Write(b); err != nil {
						return fmt.Errorf("print the audit log: %w", err)
					}

					continue
				}

				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Local().Format(time.DateTime), printable(r.Actor), printable(r.Action), printable(r.Source), printable(r.Outcome), printable(r.Detail))
			}

			return tw.Flush()
		},
	}

	cmd.Flags().StringVar(&since, "since", "", "only records newer than this (7d, 12h, or a time)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the records as JSON lines")

	verify := &cobra.Command{
		Use:     "verify",
		Short:   "Check the audit log's keyed hash chain, and against the copy kept in the repository (fails when that cannot be checked)",
		Args:    cobra.NoArgs,
		Example: "  lifeboat audit verify",
		RunE:    func(cmd *cobra.Command, _ []string) error { return a.auditVerify(cmd) },
	}
	a.jsonFlag(verify)
	cmd.AddCommand(verify)

	return cmd
}

var errNotAge = errors.New("not an age")

// parseAge reads "7d", "12h", "30m".
func parseAge(s string) (time.Duration, error) {
	d, err := config.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errNotAge
	}

	return d, nil
}

// findAny resolves [SOURCE] ID: with no source, the ID (or a unique prefix)
// is looked up among every source's snapshots.
func findAny(ctx context.Context, r *repo.Repository, args []string) (*repo.Snapshot, error) {
	if len(args) == 2 {
		return r.Find(ctx, args[0], args[1])
	}

	all, err := r.Snapshots(ctx, "")
	if err != nil {
		return nil, err
	}

	found, err := repo.MatchID(all, args[0])

	var amb *repo.AmbiguousError

	switch {
	case errors.As(err, &amb):
		return nil, &UsageError{Err: err}
	case err != nil:
		return nil, err
	case found == nil:
		return nil, fmt.Errorf("%w: no snapshot with ID %q; list them with `lifeboat snapshots`", repo.ErrSnapshotNotFound, args[0])
	}

	return found, nil
}
