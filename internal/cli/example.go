package cli

import (
	"github.com/spf13/cobra"

	smllibrary "lifeboat/examples/sml-library"
	"lifeboat/internal/starter"
)

// configExampleCommand prints a starter configuration from the binary
// itself, so an install without this source tree has one to begin with.
func (a *App) configExampleCommand() *cobra.Command {
	var sml bool

	cmd := &cobra.Command{
		Use:   "example [--sml-library]",
		Short: "Print a starter configuration (edit the repository and the sources, then `config check`)",
		Example: "  lifeboat config example > lifeboat.yaml\n" +
			"  lifeboat config example --sml-library > lifeboat.yaml   # the Smart Library's: database, uploads, code, plans, copies",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			text := starter.Generic
			if sml {
				text = smllibrary.Config
			}

			_, err := a.Stdout.Write(text)

			return err
		},
	}

	cmd.Flags().BoolVar(&sml, "sml-library", false, "the Smart Library Booking System's configuration: every source kind, recovery plans, copies and jobs")

	return cmd
}
