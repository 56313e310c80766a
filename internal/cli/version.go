package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func (a *App) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Args:    cobra.NoArgs,
		Example: "  lifeboat version",
		Run: func(*cobra.Command, []string) {
			kopia := "unknown"

			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/kopia/kopia" {
						kopia = d.Version
					}
				}
			}

			fmt.Fprintf(a.Stdout, "lifeboat %s (%s, kopia %s)\n", toolVersion(), runtime.Version(), kopia)
		},
	}
}
