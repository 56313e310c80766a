package cli

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/daemon"
	"lifeboat/internal/metrics"
	"lifeboat/internal/notify"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/schedule"
	"lifeboat/internal/source"
)

func (a *App) newDaemon(cfg *config.Config, r *repo.Repository) (*daemon.Daemon, error) {
	srcs := map[string]source.Source{}

	for _, name := range cfg.SourceNames {
		s, err := a.source(cfg, name)
		if err != nil {
			return nil, err
		}

		srcs[name] = s
	}

	pw, err := a.password(cfg, false)
	if err != nil {
		return nil, err
	}

	m, n, log := metrics.New(toolVersion()), notify.New(cfg.Notify, a.Getenv, a.log), a.auditLog(cfg)
	m.Clock, n.Clock = a.clock(), a.clock()

	return &daemon.Daemon{
		Cfg: cfg, Repo: r, Sources: srcs, Log: a.log, Version: toolVersion(),
		Audit: log, Metrics: m, Notify: n, Password: pw, Getenv: a.Getenv, Clock: a.clock(),
		Ops: &ops.Executor{
			Cfg: cfg, Repo: r, Sources: srcs, Log: a.log, Version: toolVersion(),
			Audit: log, Metrics: m, Notify: n, Who: "lifeboat daemon", Clock: a.clock(),
		},
	}, nil
}

func (a *App) daemonCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Run every scheduled backup, verify and prune, and the binlog streamers, until SIGTERM",
		Long: "Runs the schedules of lifeboat.yaml (sources' schedule:, jobs.verify, jobs.prune) and the\n" +
			"binlog streamers (binlog.stream: true), serves /metrics, /healthz and /readyz on server.listen,\n" +
			"notifies (notify:) on failures, recoveries and RPO breaches, and writes the audit log.\n" +
			"Runs missed while it was down are caught up once at start. SIGTERM lets running jobs finish\n" +
			"for daemon.stop_timeout, then aborts them: an aborted backup saves nothing.",
		Args: cobra.NoArgs,
		Example: "  lifeboat daemon\n" +
			"  lifeboat --config /etc/lifeboat/lifeboat.yaml daemon --verbose",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(context.Background())

			d, err := a.newDaemon(cfg, r)
			if err != nil {
				return err
			}

			if _, err := d.Jobs(); err != nil {
				return usage("%v", err)
			}

			if err := a.apiFront(cfg, d); err != nil {
				return err
			}

			l, err := d.Listen()
			if err != nil {
				return usage("%v", err)
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()

			fmt.Fprintf(a.Stdout, "lifeboat daemon: serving /metrics and /api/v1 on %s://%s; stop with SIGTERM\n", scheme(d), l.Addr())

			err = d.Run(ctx, l)
			d.CopyAudit(context.Background())

			if err == nil {
				fmt.Fprintln(a.Stdout, "lifeboat daemon: stopped")
			}

			return err
		},
	}
}

func (a *App) scheduleCommand() *cobra.Command {
	var j *jsonOut

	cmd := &cobra.Command{
		Use:     "schedule",
		Short:   "Print the next run of every scheduled job",
		Args:    cobra.NoArgs,
		Example: "  lifeboat schedule\n  lifeboat schedule --json",
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			d := &daemon.Daemon{Cfg: cfg}

			jobs, err := d.Jobs()
			if err != nil {
				return usage("%v", err)
			}

			if len(jobs) == 0 {
				fmt.Fprintf(a.textOut(), "nothing is scheduled: add schedule: to sources, or jobs: verify/prune, in %s\n", cfg.File)
				return nil
			}

			s := &schedule.Scheduler{Jobs: jobs, Clock: a.clock()}
			now := a.clock().Now()

			if j.on {
				return jsonSchedule(j, s.Next(now), now)
			}

			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSCHEDULE\tNEXT RUN\tIN")

			for _, p := range s.Next(now) {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Job.Name, p.Job.Spec, p.At.Format("2006-01-02 15:04 MST"), human(p.At.Sub(now)))
			}

			return tw.Flush()
		},
	}

	j = a.jsonFlag(cmd)

	return cmd
}
