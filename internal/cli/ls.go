package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func (a *App) lsCommand() *cobra.Command {
	var (
		snapID string
		asJSON bool
	)

	cmd := &cobra.Command{
		Use:   "ls SOURCE [PATH]",
		Short: "List the files of a snapshot",
		Args:  cobra.RangeArgs(1, 2),
		Example: "  lifeboat ls docs\n" +
			"  lifeboat ls docs reports/2026 --snapshot 3f2a9c\n" +
			"  lifeboat ls docs --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			r, s, err := a.openSource(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			snap, err := r.Find(cmd.Context(), s.Name(), snapID)
			if err != nil {
				return err
			}

			sub := ""
			if len(args) == 2 {
				sub = args[1]
			}

			entries, err := r.List(cmd.Context(), snap.ID, sub)
			if err != nil {
				return err
			}

			if asJSON {
				return json.NewEncoder(a.Stdout).Encode(entries)
			}

			tw := tabwriter.NewWriter(a.Stdout, 0, 4, 1, ' ', 0)
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%d:%d\t%d\t%s\t%s\n", e.Mode, e.UID, e.GID, e.Size, e.ModTime.Local().Format(time.DateTime), e.Path)
			}

			return tw.Flush()
		},
	}

	cmd.Flags().StringVar(&snapID, "snapshot", "latest", "snapshot ID (or unique prefix), or latest")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	return cmd
}
