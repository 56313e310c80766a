package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/progress"
)

func (a *App) snapshotsCommand() *cobra.Command {
	var (
		src    string
		asJSON bool
	)

	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List snapshots",
		Args:  cobra.NoArgs,
		Example: "  lifeboat snapshots\n" +
			"  lifeboat snapshots --source docs --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			if src != "" {
				if _, err := a.source(cfg, src); err != nil {
					return err
				}
			}

			snaps, err := r.Snapshots(cmd.Context(), src)
			if err != nil {
				return err
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	return cmd
}
