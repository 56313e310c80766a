package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	smllibrary "lifeboat/examples/sml-library"
	"lifeboat/internal/starter"
)

// configExampleCommand prints a starter configuration from the binary
// itself, so an install without this source tree has one to begin with.
func (a *App) configExampleCommand() *cobra.Command {
	var (
		sml    bool
		output string
		force  bool
	)

	cmd := &cobra.Command{
		Use:   "example [--sml-library] [-o FILE [--force]]",
		Short: "Print a starter configuration (edit the repository and the sources, then `config check`)",
		Example: "  lifeboat config example > lifeboat.yaml\n" +
			"  lifeboat config example --sml-library > lifeboat.yaml   # the Smart Library's: database, uploads, code, plans, copies\n" +
			"  lifeboat config example -o ~/.config/lifeboat/lifeboat.yaml",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			text := starter.Generic
			if sml {
				text = smllibrary.Config
			}

			if output == "" {
				_, err := a.Stdout.Write(text)

				return err
			}

			// 0600 and never over an existing file: the configuration the
			// user fills in next holds where the repository and its
			// password file are.
			if err := writeNew(output, text, force); err != nil {
				return usage("config example: %v", err)
			}

			fmt.Fprintf(a.Stdout, "wrote a starter configuration to %s: edit its repository and sources, then `lifeboat --config %s config check`\n", output, output)

			return nil
		},
	}

	cmd.Flags().StringVarP(&output, "output", "o", "", "write it to this file (created 0600) instead of printing it")
	cmd.Flags().BoolVar(&force, "force", false, "with -o: replace FILE if it exists")
	cmd.Flags().BoolVar(&sml, "sml-library", false, "the Smart Library Booking System's configuration: every source kind, recovery plans, copies and jobs")

	return cmd
}
