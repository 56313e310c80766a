package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"lifeboat/internal/source"
)

func (a *App) maskCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mask",
		Short: "Masked copies of database sources: find the columns that hold personal data",
		Example: "  lifeboat mask scan database\n" +
			"  lifeboat restore database --masked --target-database sml_dev\n" +
			"  lifeboat export database --masked -o sml-dev.sql.gz",
	}

	cmd.AddCommand(a.maskScanCommand())

	return cmd
}

// maskScanJSON is mask scan's --json result.
type maskScanJSON struct {
	Source   string            `json:"source"`
	Findings []maskFindingJSON `json:"findings"`
}

type maskFindingJSON struct {
	Column string `json:"column"`
	Type   string `json:"type"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	// Ruled is the rule the configuration has for the column, "" for none.
	Ruled string `json:"ruled"`
}

func (a *App) maskScanCommand() *cobra.Command {
	var j *jsonOut

	cmd := &cobra.Command{
		Use:   "scan SOURCE",
		Short: "Find columns that look like personal data (by name and sampled values) and print starting masking rules",
		Args:  cobra.ExactArgs(1),
		Example: "  lifeboat mask scan database\n" +
			"  lifeboat mask scan database >> rules.yaml   # then review every rule",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			src, err := a.source(cfg, args[0])
			if err != nil {
				return err
			}

			sc, ok := src.(source.MaskScanner)
			if !ok {
				return usage("mask scan: source %s is a %s source; masking is for database sources", src.Name(), src.Kind())
			}

			found, err := sc.MaskScan(cmd.Context())
			if err != nil {
				return err
			}

			if j.on {
				res := maskScanJSON{Source: src.Name(), Findings: []maskFindingJSON{}}
				for _, f := range found {
					res.Findings = append(res.Findings, maskFindingJSON(f))
				}

				return a.emitJSON(res)
			}

			a.printMaskRules(src.Name(), found)

			return nil
		},
	}

	j = a.jsonFlag(cmd)

	return cmd
}

// printMaskRules prints the findings as a masking block to paste under the
// source, each rule with what gave the column away.
func (a *App) printMaskRules(name string, found []source.MaskFinding) {
	w := a.Stdout

	if len(found) == 0 {
		fmt.Fprintf(w, "# no column of %s looks like personal data by its name or sampled values\n", name)
		return
	}

	width := 0
	for _, f := range found {
		width = max(width, len(f.Column)+len(f.Rule)+2)
	}

	fmt.Fprintf(w, "# %d columns of %s look like personal data. Starting rules for sources.%s:\n", len(found), name, name)
	fmt.Fprintf(w, "# review each: change the transformer, or write keep for a column that is not personal.\n")
	fmt.Fprintf(w, "masking:\n  key_env: LIFEBOAT_MASKING_KEY\n  mode: strict\n  rules:\n")

	for _, f := range found {
		line := f.Column + ": " + f.Rule
		note := f.Type + ", found by " + f.Reason

		if f.Ruled != "" {
			note += "; already ruled: " + f.Ruled
		}

		fmt.Fprintf(w, "    %s%s# %s\n", line, strings.Repeat(" ", width-len(line)+2), note)
	}
}
