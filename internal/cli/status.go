package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/daemon"
	"lifeboat/internal/health"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// sourceStatus is one line of `lifeboat status`.
type sourceStatus struct {
	Source     string    `json:"source"`
	Kind       string    `json:"kind"`
	Tier       string    `json:"tier"`
	LastBackup time.Time `json:"last_backup,omitzero"`
	LastType   string    `json:"last_type,omitempty"`
	// Restorable is the newest instant the source can be recovered to.
	Restorable time.Time `json:"restorable,omitzero"`
	// RPOSeconds is how much would be lost if the source were lost now.
	RPOSeconds   float64 `json:"rpo_seconds"`
	RPOObjective float64 `json:"rpo_objective_seconds"`
	// NextRun is the source's next scheduled backup (zero: none scheduled).
	NextRun    time.Time `json:"next_run,omitzero"`
	LastVerify time.Time `json:"last_verify,omitzero"`
	VerifyOK   *bool     `json:"verify_ok,omitempty"`
	// LastRestoreTest is when the source was last restored and compared.
	LastRestoreTest time.Time `json:"last_restore_test,omitzero"`
	RestoreTestOK   *bool     `json:"restore_test_ok,omitempty"`
	// Copies is the 3-2-1 count: the repository and the copies that can
	// restore the source.
	Copies copies.Summary `json:"copies"`
	// CopyRestorable is the newest instant each copy can restore.
	CopyRestorable map[string]time.Time `json:"copy_restorable,omitempty"`
	OK             bool                 `json:"ok"`
	Problem        string               `json:"problem,omitempty"`
	// RecoveryKitStale says why the recovery kit, which restores every
	// source without the usual operators, no longer serves.
	RecoveryKitStale string `json:"recovery_kit_stale,omitempty"`
}

func (a *App) statusCommand() *cobra.Command {
	var asJSON, wide bool

	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every source's newest restorable instant and RPO against its objective (exit 4 when any is out of objective)",
		Args:  cobra.NoArgs,
		Example: "  lifeboat status\n" +
			"  lifeboat status --wide\n" +
			"  lifeboat status --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			now := a.clock().Now()

			jobs, err := (&daemon.Daemon{Cfg: cfg}).Jobs()
			if err != nil {
				return usage("%v", err)
			}

			h, err := health.Compute(cmd.Context(), health.Inputs{
				Cfg: cfg, Repo: r, Jobs: jobs, Now: now,
				Source: func(name string) (source.Source, error) { return a.source(cfg, name) },
			})
			if err != nil {
				return err
			}

			cps := h.Copies

			var out []sourceStatus

			bad := 0

			for _, hs := range h.Sources {
				st := sourceLine(hs)
				st.RecoveryKitStale = h.Key.KitStale()

				if !st.OK {
					bad++
				}

				out = append(out, st)
			}

			a.warnInterruptedRestores(cfg)

			if err := a.printStatus(cmd, cfg, r, out, cps, asJSON, wide); err != nil {
				return err
			}

			a.keyStatus(h, now, asJSON)

			// The audit trail is the repository's too: a copy that is gone
			// or that the local log no longer extends is a problem.
			trail := a.trailProblem(cmd.Context(), cfg, r, false)
			if trail != "" {
				w := a.Stdout
				if asJSON {
					w = a.Stderr
				}

				line := "audit trail: PROBLEM: " + trail
				if !wide && !asJSON {
					line = wrap(line, statusWidth, "    ")
				}

				fmt.Fprintf(w, "\n%s\n", strings.TrimSuffix(line, "\n"))
			}

			a.printFingerprint(cfg, asJSON)

			if bad > 0 {
				return &ObjectiveError{Err: errors.New(plural(bad, "source is", "sources are") + " out of objective")}
			}

			if trail != "" {
				return errors.New("the audit trail has a problem (above)")
			}

			return nil
		},
	}

	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&wide, "wide", false, "print every detail (full times, kinds, each copy's instants, whole problems) in lines wider than 120 columns")

	return cmd
}

// printStatus prints the sources, plans and copies: as JSON (the sources),
// with every detail (wide), or to fit a 120-column terminal.
func (a *App) printStatus(cmd *cobra.Command, cfg *config.Config, r *repo.Repository, out []sourceStatus, cps []*copies.Copy, asJSON, wide bool) error {
	switch {
	case asJSON:
		enc := json.NewEncoder(a.Stdout)
		enc.SetIndent("", "  ")

		return enc.Encode(out)
	case wide:
		a.statusTable(out)

		if err := a.planStatus(cmd, cfg, r); err != nil {
			return err
		}

		a.copyStatus(cfg, cps)
	default:
		a.statusCompact(out)

		if err := a.planCompact(cmd, cfg, r); err != nil {
			return err
		}

		a.copyCompact(cfg, cps)
	}

	return nil
}

// statusTable prints the sources' status as a table with every detail
// (status --wide).
func (a *App) statusTable(out []sourceStatus) {
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tTIER\tLAST BACKUP\tNEWEST RESTORABLE\tRPO NOW\tOBJECTIVE\tNEXT RUN\tLAST VERIFIED\tLAST RESTORE TEST\tCOPIES (3-2-1)\tSTATE")

	for _, st := range out {
		last, rest, rpo := "-", "-", "-"
		if !st.LastBackup.IsZero() {
			last = st.LastBackup.Local().Format(time.DateTime) + " " + st.LastType
		}

		if !st.Restorable.IsZero() {
			rest = st.Restorable.Local().Format("2006-01-02 15:04:05.000")
			rpo = human(time.Duration(st.RPOSeconds * float64(time.Second)))
		}

		state := "ok"
		if !st.OK {
			state = st.Problem
		}

		nextRun, verified, tested := "-", "never", "never"
		if !st.LastRestoreTest.IsZero() {
			tested = st.LastRestoreTest.Local().Format(time.DateTime) + map[bool]string{true: " ok", false: " FAILED"}[*st.RestoreTestOK]
		}

		if !st.NextRun.IsZero() {
			nextRun = st.NextRun.Local().Format("2006-01-02 15:04")
		}

		if !st.LastVerify.IsZero() {
			verified = st.LastVerify.Local().Format(time.DateTime)
		}

		c321 := fmt.Sprintf("%d/%d/%d", st.Copies.Copies, st.Copies.Media, st.Copies.Offsite)
		if !st.Copies.Meets {
			c321 += " (not 3-2-1)"
		}

		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Source, st.Kind, st.Tier, last, rest, rpo, human(time.Duration(st.RPOObjective*float64(time.Second))), nextRun, verified, tested, c321, printable(state))
	}

	tw.Flush()
}

// sourceLine is a source's health as status shows it, with the one problem
// it names: a failed verification before an unknown instant, either before
// a failed restore test, and the RPO only when nothing else is wrong.
func sourceLine(h health.Source) sourceStatus {
	name := h.Name
	st := sourceStatus{Source: name, Kind: h.Kind, Tier: h.Tier, RPOObjective: h.Objective.Seconds(),
		LastBackup: h.LastBackup, LastType: h.LastType, Restorable: h.Restorable, NextRun: h.NextRun,
		Copies: h.Copies, CopyRestorable: h.CopyRestorable}

	if v := h.Verify; v != nil {
		st.LastVerify, st.VerifyOK = v.At, &v.OK
	}

	if v := h.RestoreTest; v != nil {
		st.LastRestoreTest, st.RestoreTestOK = v.At, &v.OK
	}

	// The RPO is told when nothing else is wrong, as the problem says.
	st.Problem = h.Problem()
	if !st.Restorable.IsZero() && h.Fault() == "" {
		st.RPOSeconds = h.RPO.Seconds()
	}

	st.OK = st.Problem == ""

	return st
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}

	return fmt.Sprintf("%d %s", n, many)
}

// human prints a duration the way people say it (health.Human: status
// and the dashboard print them alike).
func human(d time.Duration) string { return health.Human(d) }

// planStatus prints every plan's last drill against its objectives.
func (a *App) planStatus(cmd *cobra.Command, cfg *config.Config, r *repo.Repository) error {
	if len(cfg.PlanNames) == 0 {
		return nil
	}

	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(a.Stdout)
	fmt.Fprintln(tw, "PLAN\tTIER\tLAST DRILL\tRTO MEASURED\tRTO OBJECTIVE\tRPO\tRPO OBJECTIVE\tRESULT")

	for _, name := range cfg.PlanNames {
		tier := cfg.Tiers[cfg.Plans[name].Tier]

		last, err := plan.Latest(cmd.Context(), r, plan.KindDrill, name)
		if err != nil {
			return err
		}

		when, rto, rpo, result := "never", "-", "-", "not drilled: run `lifeboat drill "+name+"`"
		if last != nil {
			when, rto, rpo = last.Started.Local().Format(time.DateTime), plan.Dur(last.RTOSeconds), plan.Dur(last.RPOSeconds)
			result = last.Verdict()
		}

		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, cfg.Plans[name].Tier, when, rto, human(tier.RTO), rpo, human(tier.RPO), printable(result))
	}

	return tw.Flush()
}

// copyStatus prints every copy: where, what medium, when last brought up to
// date, and the newest instant it restores for each source.
func (a *App) copyStatus(cfg *config.Config, cps []*copies.Copy) {
	if len(cps) == 0 {
		return
	}

	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(a.Stdout)
	fmt.Fprintln(tw, "COPY\tWHERE\tMEDIUM\tOFFSITE\tOFFLINE\tLAST REPLICATED\tNEWEST RESTORABLE")

	for _, c := range cps {
		when, newest := "never", "-"
		if !c.Replicated.IsZero() {
			when = c.Replicated.Local().Format(time.DateTime) + " (" + human(clock.Since(a.clock(), c.Replicated)) + " ago)"
		}

		var parts []string

		for _, name := range cfg.SourceNames {
			if t, ok := c.Restorable[name]; ok {
				parts = append(parts, name+" "+t.Local().Format(time.DateTime))
			}
		}

		if len(parts) > 0 {
			newest = strings.Join(parts, ", ")
		}

		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%v\t%s\t%s\n", c.Name, c.Location, c.Medium, c.Offsite, c.Offline, when, newest)
	}

	tw.Flush()
}
