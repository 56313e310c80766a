package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
)

func (a *App) snapshotsCommand() *cobra.Command {
	var (
		src    string
		asJSON bool
	)

	cmd := &cobra.Command{
		Use:   "snapshots [SOURCE...]",
		Short: "List snapshots (of the named sources, else of all)",
		Args:  cobra.ArbitraryArgs,
		Example: "  lifeboat snapshots\n" +
			"  lifeboat snapshots docs --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			names := sourceArgs(args, src)

			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			for _, n := range names {
				if _, err := a.source(cfg, n); err != nil {
					return err
				}
			}

			snaps, err := r.Snapshots(cmd.Context(), "")
			if err != nil {
				return err
			}

			if len(names) > 0 {
				snaps = slices.DeleteFunc(snaps, func(s *repo.Snapshot) bool { return !slices.Contains(names, s.Source) })
			}

			if asJSON {
				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")

				return enc.Encode(snaps)
			}

			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSOURCE\tKIND\tTYPE\tTIME\tFILES\tSIZE\tDURATION")

			for _, s := range snaps {
				typ := s.Type
				if s.Role != "backup" {
					typ = s.Role
				}

				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", shortID(s.ID), s.Source, s.Kind, typ,
					s.Time.Local().Format(time.DateTime), s.Files, progress.Bytes(s.Bytes), seconds(s.End.Sub(s.Time)))
			}

			return tw.Flush()
		},
	}

	cmd.Flags().StringVarP(&src, "source", "s", "", "only this source")
	a.deprecateSourceFlag(cmd, "lifeboat snapshots docs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	return cmd
}

// sourceArgs merges the sources named as arguments with those of the
// deprecated --source flag, which is kept so existing scripts go on working.
func sourceArgs(args []string, flag ...string) []string {
	names := slices.Clone(args)

	for _, f := range flag {
		if f != "" && !slices.Contains(names, f) {
			names = append(names, f)
		}
	}

	return names
}

// deprecateSourceFlag hides a command's --source: sources are named as
// arguments on every command; the flag stays as an alias, and its use is
// noted on stderr (pflag's own deprecation note would go to stdout, into
// the JSON a script reads).
func (a *App) deprecateSourceFlag(cmd *cobra.Command, example string) {
	_ = cmd.Flags().MarkHidden("source")

	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if c.Flags().Changed("source") {
			fmt.Fprintf(a.Stderr, "note: --source is deprecated: name the sources as arguments, e.g. `%s`\n", example)
		}

		return run(c, args)
	}
}
