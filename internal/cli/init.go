package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"lifeboat/internal/repo"
)

func (a *App) initCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the encrypted repository named in the configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			pw, err := a.password(cfg, true)
			if err != nil {
				return err
			}

			where, err := a.storage(cfg)
			if err != nil {
				return err
			}

			if err := repo.CreateAt(cmd.Context(), where, pw); err != nil {
				return err
			}

			// The configuration goes in from the start, so the repository
			// alone tells how it is meant to be used.
			if r, err := repo.OpenAt(cmd.Context(), where, pw, a.log); err == nil {
				a.storeConfig(cmd.Context(), r, cfg)
				r.Close(cmd.Context())
			}

			fmt.Fprintf(a.Stdout, "created encrypted repository at %s (AES-256-GCM, zstd, deduplicated)\n", where)
			fmt.Fprintf(a.Stdout, "keep the password safe: without it the backups cannot be read\n")

			return nil
		},
	}
}
