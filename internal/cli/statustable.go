package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
)

// statusWidth is the terminal width the default status fits: its tables
// shorten names, give times relative to now and list problems below, so a
// 120-column terminal shows every line whole. --wide prints the full detail.
const statusWidth = 120

// statusCompact prints the sources' status in at most statusWidth columns,
// with each source's problem in full on its own lines below the table.
func (a *App) statusCompact(out []sourceStatus) {
	now := a.clock().Now()

	var buf bytes.Buffer

	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTIER\tLAST BACKUP\tRPO/OBJ\tNEXT RUN\tVERIFIED\tRESTORE TEST\t3-2-1\tSTATE")

	var problems []string

	for _, st := range out {
		last, rpo := "never", "-"
		if !st.LastBackup.IsZero() {
			last = ago(now, st.LastBackup) + " " + shortType(st.LastType)
		}

		if !st.Restorable.IsZero() {
			rpo = human(time.Duration(st.RPOSeconds * float64(time.Second)))
		}

		rpo += "/" + short(time.Duration(st.RPOObjective*float64(time.Second)))

		next := "-"
		if !st.NextRun.IsZero() {
			next = ago(now, st.NextRun)
		}

		state := "ok"
		if !st.OK {
			state = "PROBLEM"
			problems = append(problems, st.Source+": "+printable(st.Problem))
		}

		c321 := fmt.Sprintf("%d/%d/%d", st.Copies.Copies, st.Copies.Media, st.Copies.Offsite)
		if !st.Copies.Meets {
			c321 += " no"
		}

		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ellipsis(st.Source, 22), ellipsis(st.Tier, 10), last, rpo, next,
			checked(now, st.LastVerify, st.VerifyOK), checked(now, st.LastRestoreTest, st.RestoreTestOK), c321, state)
	}

	tw.Flush()
	fitLines(a.Stdout, buf.String())

	if len(problems) > 0 {
		fmt.Fprintln(a.Stdout)

		for _, p := range problems {
			fmt.Fprint(a.Stdout, wrap(p, statusWidth, "    "))
		}
	}
}

// planResultWidth is what the plan table leaves its last column: the
// columns before it take at most 80 of the 120.
const planResultWidth = 38

// planCompact prints every plan's last drill in at most statusWidth
// columns: a long verdict is cut in the table and printed whole below it.
func (a *App) planCompact(cmd *cobra.Command, cfg *config.Config, r *repo.Repository) error {
	if len(cfg.PlanNames) == 0 {
		return nil
	}

	now := a.clock().Now()

	var buf bytes.Buffer

	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAN\tTIER\tLAST DRILL\tRTO/OBJECTIVE\tRPO/OBJECTIVE\tRESULT")

	var whole []string

	for _, name := range cfg.PlanNames {
		tier := cfg.Tiers[cfg.Plans[name].Tier]

		last, err := plan.Latest(cmd.Context(), r, plan.KindDrill, name)
		if err != nil {
			return err
		}

		when, rto, rpo, result := "never", "-", "-", "not drilled: run `lifeboat drill "+name+"`"
		if last != nil {
			when, rto, rpo = ago(now, last.Started), plan.Dur(last.RTOSeconds), plan.Dur(last.RPOSeconds)
			result = last.Verdict()
		}

		// A verdict longer than the column has left is shortened there
		// ("FAILED: why" to FAILED) and printed whole below.
		result = printable(result)
		head := result

		if utf8.RuneCountInString(result) > planResultWidth {
			whole = append(whole, name+": "+result)

			head = ellipsis(result, planResultWidth)
			if i := strings.Index(result, ": "); i > 0 && i <= planResultWidth {
				head = result[:i]
			}
		}

		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ellipsis(name, 24), ellipsis(cfg.Plans[name].Tier, 10), when,
			rto+"/"+short(tier.RTO), rpo+"/"+short(tier.RPO), head)
	}

	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(a.Stdout)
	fitLines(a.Stdout, buf.String())

	if len(whole) > 0 {
		fmt.Fprintln(a.Stdout)

		for _, p := range whole {
			fmt.Fprint(a.Stdout, wrap(p, statusWidth, "    "))
		}
	}

	return nil
}

// copyCompact prints every copy in at most statusWidth columns: the oldest
// of the instants it restores stands for the per-source list of --wide,
// and the medium for the offline flag.
func (a *App) copyCompact(cfg *config.Config, cps []*copies.Copy) {
	if len(cps) == 0 {
		return
	}

	now := a.clock().Now()

	var buf bytes.Buffer

	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COPY\tWHERE\tMEDIUM\tOFFSITE\tREPLICATED\tRESTORES")

	for _, c := range cps {
		when := "never"
		if !c.Replicated.IsZero() {
			when = ago(now, c.Replicated)
		}

		var oldest time.Time

		n := 0

		for _, name := range cfg.SourceNames {
			if t, ok := c.Restorable[name]; ok {
				n++

				if oldest.IsZero() || t.Before(oldest) {
					oldest = t
				}
			}
		}

		restores := fmt.Sprintf("%d/%d sources", n, len(cfg.SourceNames))
		if n > 0 {
			restores += ", oldest " + ago(now, oldest)
		}

		offsite := "no"
		if c.Offsite {
			offsite = "yes"
		}

		// The medium says offline: a removable disk is the offline copy.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ellipsis(c.Name, 16), middle(c.Location, 30), c.Medium, offsite, when, restores)
	}

	tw.Flush()
	fmt.Fprintln(a.Stdout)
	fitLines(a.Stdout, buf.String())
}

// ago says when t was, relative to now, in its largest whole unit:
// "5m ago", "3h ago", "12d ago"; a time to come is "in 5m".
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		return "in " + unit(-d)
	}

	if d < time.Minute {
		return "just now"
	}

	return unit(d) + " ago"
}

func unit(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}

	return fmt.Sprintf("%dd", int(d.Hours())/24)
}

// short is an objective as people say it: 15m, 4h, 1h30m, 7d.
func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", int(d.Hours())/24)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}

	return human(d)
}

// checked is a verification's or restore test's column: when and how it
// went, or never.
func checked(now, at time.Time, ok *bool) string {
	if at.IsZero() || ok == nil {
		return "never"
	}

	if *ok {
		return ago(now, at) + " ok"
	}

	return ago(now, at) + " FAILED"
}

// shortType abbreviates a backup type for the compact table.
func shortType(t string) string {
	switch t {
	case repo.TypeIncremental:
		return "incr"
	case repo.TypeDifferential:
		return "diff"
	}

	return t
}

// ellipsis cuts s to at most n columns, marking the cut with "…".
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}

	return string([]rune(s)[:n-1]) + "…"
}

// middle cuts s to at most n columns in its middle, where a path or URL
// says least: both the scheme or root and the last folder stay.
func middle(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}

	head := (n - 1) / 2

	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

// fitLines writes text with every line cut to statusWidth columns: the
// columns are sized to fit, this only catches what no one foresaw.
func fitLines(w io.Writer, text string) {
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}

		body := strings.TrimSuffix(line, "\n")
		fmt.Fprintln(w, ellipsis(strings.TrimRight(body, " "), statusWidth))
	}
}

// wrap breaks text into lines of at most width columns at spaces, the
// lines after the first indented; a word longer than a line is cut.
func wrap(text string, width int, indent string) string {
	var (
		b    strings.Builder
		line string
	)

	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			b.WriteString(ellipsis(line, width) + "\n")
			line = indent + word
		}
	}

	if line != "" {
		b.WriteString(ellipsis(line, width) + "\n")
	}

	return b.String()
}
