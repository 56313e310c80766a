package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// runner builds a plan runner on an open repository, for a dry run (which
// changes nothing, so nothing is audited).
func (a *App) runner(cfg *config.Config, r *repo.Repository) *plan.Runner {
	return &plan.Runner{
		Cfg: cfg, Repo: r, Out: a.Stdout, Log: a.log, Version: toolVersion(), Actor: audit.Actor(), Clock: a.clock(),
		Source: func(name string) (source.Source, error) { return a.source(cfg, name) },
	}
}

type planFlags struct {
	dryRun bool
	toTime string
	point  string
	resume bool
	keep   bool
	output string
	show   string
	format string
	j      *jsonOut
}

func (a *App) recoverCommand() *cobra.Command {
	var f planFlags

	cmd := &cobra.Command{
		Use:   "recover PLAN [--dry-run] [--to-time T] [--point ID] [--resume] [-o DIR]",
		Short: "Run a recovery plan: its steps in order, timed, each restore after a safety snapshot of what it overwrites",
		Args:  cobra.ExactArgs(1),
		Example: "  lifeboat recover library --dry-run\n" +
			"  lifeboat recover library --to-time '2026-11-25 14:03:27'\n" +
			"  lifeboat recover library --resume",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPlan(cmd, args[0], plan.ModeRecover, f)
		},
	}

	f.j = a.jsonFlag(cmd)

	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print every step with what it would do and its time in the last drill; change nothing")
	cmd.Flags().StringVar(&f.toTime, "to-time", "", "recover the database restores to this instant (e.g. '2026-11-25 14:03:27')")
	cmd.Flags().StringVar(&f.point, "point", "", "restore every source to this recovery point (`lifeboat points`)")
	cmd.Flags().BoolVar(&f.resume, "resume", false, "continue the plan's last failed recovery from the step that failed")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "also write the report as report.md, report.json and report.html in this folder (created 0700, files 0600)")

	return cmd
}

func (a *App) drillCommand() *cobra.Command {
	var f planFlags

	cmd := &cobra.Command{
		Use:   "drill PLAN [-o DIR] | drill --show RUN [--format md|json|html | -o DIR]",
		Short: "Rehearse a recovery plan in isolation and measure its RTO and RPO against the tier's objectives",
		Args:  cobra.MaximumNArgs(1),
		Example: "  lifeboat drill library\n" +
			"  lifeboat drill library -o drill-report\n" +
			"  lifeboat drill --show latest --format html > drill.html",
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.show != "" {
				format, err := f.j.format(f.format, cmd.Flags().Changed("format"))
				if err != nil {
					return err
				}

				return a.showRun(cmd, f.show, format, f.output)
			}

			if len(args) != 1 {
				return usage("drill: name the plan to rehearse, e.g. `lifeboat drill database`, or --show RUN")
			}

			return a.runPlan(cmd, args[0], plan.ModeDrill, f)
		},
	}

	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the steps the drill would run; change nothing")
	cmd.Flags().StringVar(&f.toTime, "to-time", "", "rehearse recovering the databases to this instant")
	cmd.Flags().StringVar(&f.point, "point", "", "rehearse restoring every source to this recovery point")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "leave the scratch databases and folders for inspection")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "also write the report as report.md, report.json and report.html in this folder (created 0700, files 0600); with --show, the shown run's")
	cmd.Flags().StringVar(&f.show, "show", "", "print the report of a recorded drill or recovery (its ID, or latest)")
	cmd.Flags().StringVar(&f.format, "format", "md", "report format for --show: md, json or html")
	f.j = a.jsonFlag(cmd)
	cmd.Flags().Lookup("json").Usage = "print the drill's report as one line of JSON (with --show: the same as --format json)"

	return cmd
}

func (a *App) runPlan(cmd *cobra.Command, name, mode string, f planFlags) error {
	if f.point != "" && f.toTime != "" {
		return usage("give --point or --to-time, not both")
	}

	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}

	if _, ok := cfg.Plans[name]; !ok {
		return usage("%v", plan.UnknownPlanError{Name: name, Known: cfg.PlanNames, File: cfg.File})
	}

	var opt plan.Options

	if f.toTime != "" {
		if opt.ToTime, err = plan.ParseTime(f.toTime); err != nil {
			return usage("--to-%v", err)
		}
	}

	_, r, err := a.openRepo(cmd.Context())
	if err != nil {
		return err
	}
	defer r.Close(cmd.Context())
	defer a.copyAudit(context.WithoutCancel(cmd.Context()), r, cfg)

	if f.point != "" {
		if opt.Point, err = plan.FindPoint(cmd.Context(), r, f.point); err != nil {
			return err
		}
	}

	if f.resume && (f.point != "" || f.toTime != "") {
		return usage("--resume goes on with the failed run's own recovery point and time; give neither --point nor --to-time")
	}

	if f.resume {
		last, err := plan.Latest(cmd.Context(), r, plan.KindIncident, name)
		if err != nil {
			return err
		}

		if last == nil || last.OK() {
			return usage("--resume: plan %s has no failed recovery to resume; run `lifeboat recover %s`", name, name)
		}

		opt.Resume = last
	}

	if f.dryRun && f.j.on {
		return a.jsonPlanDryRun(cmd.Context(), f.j, a.runner(cfg, r), name, mode, opt)
	}

	if f.dryRun {
		return a.runner(cfg, r).DryRun(cmd.Context(), name, mode, opt)
	}

	ex, err := a.allExecutor(cfg, r)
	if err != nil {
		return err
	}

	run, err := ex.RunPlan(cmd.Context(), ops.PlanRun{Plan: name, Mode: mode, Options: opt, Keep: f.keep, Out: a.textOut(), Actor: audit.Actor()}, nil)
	if run == nil {
		return err
	}

	if f.j.on {
		if jerr := f.j.emit(run); jerr != nil {
			return jerr
		}
	}

	fmt.Fprintf(a.textOut(), "%s %s of plan %s: %s\nRTO measured %.1fs (objective %s); RPO %.1fs (objective %s)\n",
		mode, run.ID, name, run.Verdict(), run.RTOSeconds, human(time.Duration(run.RTOObjective*float64(time.Second))),
		run.RPOSeconds, human(time.Duration(run.RPOObjective*float64(time.Second))))

	if f.output != "" {
		if werr := writeReports(f.output, run); werr != nil {
			return errors.Join(err, werr)
		}

		fmt.Fprintf(a.textOut(), "report: %s\n", filepath.Join(f.output, "report.md"))
	}

	if err != nil && mode == plan.ModeRecover {
		return fmt.Errorf("%w; fix the cause and run `lifeboat recover %s --resume` to go on from that step", err, name)
	}

	return err
}

// writeReports writes a run's reports into dir, readable by the owner only
// (they name hosts, paths and errors). Each file is created exclusively
// under a temporary name and renamed into place, so a link planted where a
// report goes is never written through; one there is refused.
func writeReports(dir string, run *plan.Run) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--output: %w", err)
	}

	for name, b := range map[string][]byte{"report.md": []byte(run.Markdown()), "report.json": run.JSON(), "report.html": run.HTML()} {
		if err := writePrivateFile(filepath.Join(dir, name), b); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}

	return nil
}

// writePrivateFile writes b to path with mode 0600 through a file created
// exclusively (O_EXCL) beside it and renamed over path. A symbolic link at
// path is refused: writing through it would put the file wherever it points.
func writePrivateFile(path string, b []byte) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link: Lifeboat does not write through links; remove it or choose another folder", path)
	} else if err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s exists and is not a regular file: remove it or choose another folder", path)
	}

	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}

	tmp := f.Name()

	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}

	if err == nil {
		err = os.Rename(tmp, path)
	}

	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}

	return nil
}

// showRun prints a recorded drill's or recovery's report.
func (a *App) showRun(cmd *cobra.Command, id, format, output string) error {
	if format != "md" && format != "json" && format != "html" {
		return usage("--format %q: expected md, json or html", format)
	}

	_, r, err := a.openRepo(cmd.Context())
	if err != nil {
		return err
	}
	defer r.Close(cmd.Context())

	var all []*plan.Run

	for _, kind := range []string{plan.KindDrill, plan.KindIncident} {
		runs, err := plan.Runs(cmd.Context(), r, kind, "")
		if err != nil {
			return err
		}

		all = append(all, runs...)
	}

	found, err := findRun(all, id)
	if err != nil {
		return err
	}

	if output != "" {
		if err := writeReports(output, found); err != nil {
			return err
		}

		fmt.Fprintf(a.Stdout, "wrote the reports of %s %s to %s\n", found.Mode, found.ID, output)

		return nil
	}

	switch format {
	case "json":
		_, err = a.Stdout.Write(found.JSON())
	case "html":
		_, err = a.Stdout.Write(found.HTML())
	default:
		_, err = fmt.Fprint(a.Stdout, found.Markdown())
	}

	return err
}

func (a *App) pointsCommand() *cobra.Command {
	var asJSON bool

	cmd := &cobra.Command{
		Use:   "points",
		Short: "List the recovery points: backups of several sources taken together",
		Args:  cobra.NoArgs,
		Example: "  lifeboat points\n" +
			"  lifeboat points --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			pts, err := plan.Points(cmd.Context(), r)
			if err != nil {
				return err
			}

			if asJSON {
				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")

				if pts == nil {
					pts = []*plan.Point{}
				}

				return enc.Encode(pts)
			}

			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POINT\tTIME\tSOURCE\tSNAPSHOT\tHOLDS")

			for _, p := range pts {
				for i, s := range p.Sources() {
					id, when := "", ""
					if i == 0 {
						id, when = p.ID, p.Time.Local().Format(time.DateTime)
					}

					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, when, s, shortID(p.Snapshots[s]), p.Details[s])
				}
			}

			return tw.Flush()
		},
	}

	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	return cmd
}

// findRun resolves a run's ID, a prefix of it, or latest among runs. An
// ambiguous prefix is refused with every run it matches, not resolved to
// one of them.
func findRun(runs []*plan.Run, id string) (*plan.Run, error) {
	var found *plan.Run

	if id == "latest" {
		for _, run := range runs {
			if found == nil || run.Started.After(found.Started) {
				found = run
			}
		}

		if found == nil {
			return nil, usage("no drill or recovery has been recorded yet: run `lifeboat drill PLAN`")
		}

		return found, nil
	}

	var match []*plan.Run

	for _, run := range runs {
		if run.ID == id {
			return run, nil
		}

		if id != "" && strings.HasPrefix(run.ID, id) {
			match = append(match, run)
		}
	}

	switch len(match) {
	case 0:
		return nil, usage("no recorded drill or recovery %q; `lifeboat report` lists them", id)
	case 1:
		return match[0], nil
	}

	var b strings.Builder

	fmt.Fprintf(&b, "run ID prefix %q matches %d drills and recoveries; give more characters of one of them:", id, len(match))

	for _, run := range match {
		fmt.Fprintf(&b, "\n  %s  %s %s  %s", run.ID, run.Mode, run.Plan, run.Started.Local().Format(time.DateTime))
	}

	return nil, usage("%s", b.String())
}
