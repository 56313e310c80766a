package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

func (a *App) exportCommand() *cobra.Command {
	var (
		snapID string
		out    string
		dryRun bool
		masked bool
	)

	cmd := &cobra.Command{
		Use:   "export SOURCE -o FILE.sql[.gz] [--masked] [--dry-run]",
		Short: "Write a database snapshot as one SQL file the stock mariadb/mysql client loads",
		Args:  cobra.ExactArgs(1),
		Example: "  lifeboat export shop-db -o shop.sql.gz\n" +
			"  lifeboat export shop-db --snapshot 3f2a9c -o shop.sql\n" +
			"  lifeboat export shop-db --masked -o shop-dev.sql.gz",
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usage("export: -o FILE.sql.gz is required")
			}

			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			s, err := a.source(cfg, args[0])
			if err != nil {
				return err
			}

			req := ops.Export{
				Source: s.Name(), Snapshot: snapID, Output: out, Asked: asked(), DryRun: dryRun, Masked: masked,
				Instead: func(snap, full *repo.Snapshot) {
					fmt.Fprintf(a.Stderr, "note: exporting the latest full backup, %s from %s; the %s backup %s after it holds binlog only and is not in the export\n",
						shortID(full.ID), full.Time.Local().Format(time.DateTime), snap.Type, shortID(snap.ID))
				},
			}

			res, err := a.executor(cfg, r, []source.Source{s}, runName(cmd, args)).Export(cmd.Context(), req, nil)
			if err != nil {
				return err
			}

			if dryRun {
				fmt.Fprintf(a.Stdout, "would export %s snapshot %s (%s) to %s\ndry run: nothing was written\n",
					s.Name(), shortID(res.Snapshot.ID), res.Snapshot.Time.Local().Format(time.DateTime), out)

				return nil
			}

			if a.jsonOut {
				return a.emitJSON(exportJSON{Source: s.Name(), SnapshotID: res.Snapshot.ID, Output: out, Bytes: res.Size})
			}

			what := "exported"
			if masked {
				what = "exported a masked copy of"
			}

			fmt.Fprintf(a.Stdout, "%s %s snapshot %s to %s (%s); load it with: gunzip -c %s | mariadb DATABASE\n",
				what, s.Name(), shortID(res.Snapshot.ID), out, progress.Bytes(res.Size), out)

			return nil
		},
	}

	cmd.Flags().StringVar(&snapID, "snapshot", "latest", "snapshot ID (or unique prefix), or latest")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write; .gz compresses")
	a.jsonFlag(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say which snapshot would be exported, and write nothing")
	cmd.Flags().BoolVar(&masked, "masked", false, "write a masked copy (the source's masking rules): safe to hand to developers")

	return cmd
}
