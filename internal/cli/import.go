package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/source"
)

func (a *App) importCommand() *cobra.Command {
	var database string

	cmd := &cobra.Command{
		Use:   "import SOURCE FILE.sql[.gz]",
		Short: "Take an existing mysqldump file into the repository as a full backup of a database source",
		Args:  cobra.ExactArgs(2),
		Example: "  lifeboat import shop-db dump.sql.gz\n" +
			"  lifeboat import shop-db shop.sql --database shop",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			s, err := a.source(cfg, args[0])
			if err != nil {
				return err
			}

			req := ops.Import{Source: s.Name(), File: args[1], Database: database, Asked: asked()}

			res, err := a.executor(cfg, r, []source.Source{s}, runName(cmd, args)).Import(cmd.Context(), req, nil)
			if err != nil {
				return err
			}

			if a.jsonOut {
				return a.emitJSON(importJSON{
					Source: s.Name(), File: args[1], SnapshotID: res.Snapshot.ID, Tables: res.Snapshot.Files, Bytes: res.Snapshot.Bytes, Seconds: res.Took.Seconds(),
				})
			}

			fmt.Fprintf(a.Stdout, "imported %s as %s full snapshot %s  %d tables  %s  in %s\n",
				args[1], s.Name(), shortID(res.Snapshot.ID), res.Snapshot.Files, progress.Bytes(res.Snapshot.Bytes), seconds(res.Took))

			return nil
		},
	}

	cmd.Flags().StringVar(&database, "database", "", "the database the file holds (default: named by the file, or the source's only database)")
	a.jsonFlag(cmd)

	return cmd
}
