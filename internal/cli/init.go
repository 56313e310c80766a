package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

func (a *App) initCommand() *cobra.Command {
	var dryRun bool

	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the encrypted repository named in the configuration",
		Long: "Creates the encrypted repository named in the configuration.\n\n" +
			"With --repo DIR|s3://bucket/prefix and no configuration file, it creates the repository there and writes a\n" +
			"configuration that remembers it (--config FILE, else $" + config.EnvConfig + ", else " + config.UserFileHelp + "),\n" +
			"so the next commands need no flags: add sources with `lifeboat source add`. It never replaces a file.",
		Example: "  export LIFEBOAT_PASSWORD='a long passphrase'\n" +
			"  lifeboat init --repo /srv/backups\n" +
			"  lifeboat source add docs --files /srv/docs\n" +
			"  lifeboat backup",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target, ok := a.starterTarget(); ok {
				return a.initWithConfig(cmd.Context(), target, dryRun)
			}

			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			if dryRun {
				where, err := a.storage(cfg)
				if err != nil {
					return err
				}

				return a.initDryRun(where, "")
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

			if a.jsonOut {
				return a.emitJSON(initJSON{Repository: fmt.Sprint(where), ConfigFile: cfg.File})
			}

			fmt.Fprintf(a.Stdout, "created encrypted repository at %s (AES-256-GCM, zstd, deduplicated)\n", where)
			fmt.Fprintf(a.Stdout, "keep the password safe: without it the backups cannot be read\n")

			return nil
		},
	}

	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say where the repository (and, with --repo, the configuration) would be created, and create nothing")
	a.jsonFlag(cmd)

	return cmd
}

// initDryRun says what init would create; config is the configuration file
// it would write ("" when it uses one that exists).
func (a *App) initDryRun(where repo.Storage, config string) error {
	fmt.Fprintf(a.Stdout, "would create an encrypted repository at %s (refused if one is there already)\n", where)

	if config != "" {
		fmt.Fprintf(a.Stdout, "would write the configuration %s (0600) that remembers it\n", config)
	}

	fmt.Fprintln(a.Stdout, "dry run: nothing was created or written")

	return nil
}
