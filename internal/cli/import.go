package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/source"
)

func (a *App) importCommand() *cobra.Command {
	var (
		database string
		dryRun   bool
	)

	cmd := &cobra.Command{
		Use:   "import SOURCE FILE.sql[.gz] [--dry-run]",
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

			req := ops.Import{Source: s.Name(), File: args[1], Database: database, Asked: asked(), DryRun: dryRun}

			res, err := a.executor(cfg, r, []source.Source{s}, runName(cmd, args)).Import(cmd.Context(), req, nil)
			if err != nil {
				return err
			}

			if dryRun {
				return a.importDryRun(s.Name(), args[1], database)
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

	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check that the file opens and the source takes imports, and import nothing (the SQL itself is read only by the import)")
	cmd.Flags().StringVar(&database, "database", "", "the database the file holds (default: named by the file, or the source's only database)")
	a.jsonFlag(cmd)

	return cmd
}

// importDryRun says what the import would take in; ops checked the source
// and the file.
func (a *App) importDryRun(name, file, database string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}

	if database == "" {
		database = "named by the file, or the source's only database"
	}

	fmt.Fprintf(a.Stdout, "would import %s (%s) into %s as a full backup (database: %s)\n", file, progress.Bytes(fi.Size()), name, database)
	fmt.Fprintln(a.Stdout, "dry run: nothing was imported or changed; the SQL itself is read only by the import, so it was not checked")

	return nil
}
