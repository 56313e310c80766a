package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/report"
	"lifeboat/internal/source"
)

func (a *App) reportCommand() *cobra.Command {
	var (
		since, format, output string
		j                     *jsonOut
	)

	cmd := &cobra.Command{
		Use:   "report [--since 30d] [--format md|html|json] [-o FILE]",
		Short: "The compliance report: backups, success rate, RPO attained, retention, verification, drills and every restore",
		Args:  cobra.NoArgs,
		Example: "  lifeboat report\n" +
			"  lifeboat report --since 90d --format html -o report.html\n" +
			"  lifeboat report --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := j.format(format, cmd.Flags().Changed("format"))
			if err != nil {
				return err
			}

			d, err := config.ParseDuration(since)
			if err != nil || d <= 0 {
				return usage("--since %q: expected a duration such as 30d or 12h", since)
			}

			if format != "md" && format != "html" && format != "json" {
				return usage("--format %q: expected md, html or json", format)
			}

			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			// The local trail, or the repository's copy on a machine that
			// has none (a rebuilt host).
			recs, err := audit.Read(cfg.Audit.Path)
			if err != nil || len(recs) == 0 {
				if copied, ok, cerr := auditCopy(cmd.Context(), r); cerr == nil && ok {
					recs = copied
				}
			}

			now := a.clock().Now()

			rep, err := report.Build(cmd.Context(), report.Inputs{
				Cfg: cfg, Repo: r, Audit: recs, Since: now.Add(-d), Now: now,
				Source: func(name string) (source.Source, error) { return a.source(cfg, name) },
			})
			if err != nil {
				return err
			}

			var b []byte

			switch format {
			case "json":
				b = rep.JSON()
			case "html":
				b = rep.HTML()
			default:
				b = []byte(rep.Markdown())
			}

			if output != "" {
				// The report names hosts, paths and errors: the owner's only.
				if err := writePrivateFile(output, b); err != nil {
					return fmt.Errorf("--output: %w", err)
				}

				fmt.Fprintf(a.textOut(), "report: %s\n", output)

				return nil
			}

			_, err = a.Stdout.Write(b)

			return err
		},
	}

	cmd.Flags().StringVar(&since, "since", "30d", "the period the report covers, back from now")
	cmd.Flags().StringVarP(&format, "format", "f", "md", "md, html or json")
	j = a.jsonFlag(cmd)
	cmd.Flags().Lookup("json").Usage = "the same as --format json"
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the report to this file (created 0600; a symbolic link there is refused) instead of printing it")

	return cmd
}
