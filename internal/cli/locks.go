package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// runName names this run in the lock it takes, for the message another
// lifeboat process gets when refused: the command and its arguments, never
// its flags' values (a flag may carry a secret).
func runName(cmd *cobra.Command, args []string) string {
	return strings.TrimSpace(cmd.CommandPath() + " " + strings.Join(args, " "))
}
