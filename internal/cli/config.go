package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func (a *App) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with the configuration", Example: "  lifeboat config check\n" +
		"  lifeboat config example > lifeboat.yaml"}

	var j *jsonOut

	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration",
		Args:  cobra.NoArgs,
		Example: "  lifeboat config check\n" +
			"  lifeboat --config /etc/lifeboat/lifeboat.yaml config check\n" +
			"  lifeboat config check --json",
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			var parts, warnings []string

			for _, n := range cfg.SourceNames {
				s := cfg.Sources[n]
				parts = append(parts, fmt.Sprintf("%s (%s, %s)", n, s.Type, s.Tier))

				paths := s.Paths
				if s.Path != "" {
					paths = []string{s.Path}
				}

				for _, p := range paths {
					if _, err := os.Lstat(p); err != nil {
						fmt.Fprintf(a.Stderr, "warning: sources.%s: %s does not exist on this machine\n", n, p)
						warnings = append(warnings, fmt.Sprintf("sources.%s: %s does not exist on this machine", n, p))
					}
				}
			}

			for _, w := range a.environmentProblems(cfg) {
				fmt.Fprintf(a.Stderr, "warning: %s\n", w)
				warnings = append(warnings, w)
			}

			if j.on {
				return j.emit(configCheckResult(cfg, warnings))
			}

			fmt.Fprintf(a.Stdout, "%s: OK: repository %s; %d sources: %s", cfg.File, cfg.Repository.Location(), len(cfg.SourceNames), strings.Join(parts, ", "))

			if len(cfg.PlanNames) > 0 {
				var plans []string
				for _, n := range cfg.PlanNames {
					plans = append(plans, fmt.Sprintf("%s (%s, %d steps)", n, cfg.Plans[n].Tier, len(cfg.Plans[n].Steps)))
				}

				fmt.Fprintf(a.Stdout, "; %d recovery plans: %s", len(plans), strings.Join(plans, ", "))
			}

			if len(cfg.CopyNames) > 0 {
				var cps []string
				for _, n := range cfg.CopyNames {
					c := cfg.Copies[n]
					cps = append(cps, fmt.Sprintf("%s (%s%s)", n, c.Location(), map[bool]string{true: ", offline", false: ""}[c.Offline]))
				}

				fmt.Fprintf(a.Stdout, "; %d copies: %s", len(cps), strings.Join(cps, ", "))
			}

			fmt.Fprintln(a.Stdout)

			return nil
		},
	}
	j = a.jsonFlag(check)
	cmd.AddCommand(check)

	cmd.AddCommand(a.configStoreCommands()...)
	cmd.AddCommand(a.configExampleCommand())

	return cmd
}
