package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func (a *App) versionCommand() *cobra.Command {
	var j *jsonOut

	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Args:    cobra.NoArgs,
		Example: "  lifeboat version\n  lifeboat version --json",
		RunE: func(*cobra.Command, []string) error {
			kopia := "unknown"

			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/kopia/kopia" {
						kopia = d.Version
					}
				}
			}

			if j.on {
				return j.emit(versionJSON{Version: toolVersion(), Go: runtime.Version(), Kopia: kopia})
			}

			fmt.Fprintf(a.Stdout, "lifeboat %s (%s, kopia %s)\n", toolVersion(), runtime.Version(), kopia)

			return nil
		},
	}

	j = a.jsonFlag(cmd)

	return cmd
}

// versionJSON is what version --json prints.
type versionJSON struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	Kopia   string `json:"kopia"`
}
