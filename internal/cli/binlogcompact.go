package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"lifeboat/internal/binlog"
	"lifeboat/internal/progress"
)

// EnvFault names the variable that makes a command kill itself at a named
// point (compact:after-write, say), so tests can prove a crash there leaves
// the repository whole.
const EnvFault = "LIFEBOAT_FAULT"

func (a *App) binlogCompactCommand() *cobra.Command {
	var dryRun, asJSON bool

	cmd := &cobra.Command{
		Use:   "compact SOURCE [--dry-run] [--json]",
		Short: "Merge the old segments of a database source's binlog archive into hourly and daily pieces",
		Long: "Segments whose last event is older than binlog.compact_after (default 10m) are merged into one\n" +
			"piece per UTC hour, the hours of a day that ended more than a day ago into one piece per day,\n" +
			"and the days of a file the server rotated away from into one piece, within one binlog file,\n" +
			"keeping every byte, position, GTID and event time. Every command\n" +
			"then reads fewer segments. The daemon does this every 10 minutes; a run killed at any point\n" +
			"leaves the archive complete, and the next run finishes the job.",
		Args: cobra.ExactArgs(1),
		Example: "  lifeboat binlog compact shop-db --dry-run\n" +
			"  lifeboat binlog compact shop-db",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(context.WithoutCancel(cmd.Context()))

			if _, err := databaseSources(cfg, args); err != nil {
				return err
			}

			name := args[0]
			opt := binlog.CompactOptions{Now: a.clock().Now(), After: cfg.Sources[name].MySQL.Binlog.CompactAfter, DryRun: dryRun, Fault: faultPoint(a.Getenv(EnvFault), "compact")}

			res, err := binlog.Compact(cmd.Context(), r, name, opt)
			if err != nil {
				return err
			}

			if res.Before == 0 {
				return usage("source %s has no binlog archive to compact: archive its binlog with `lifeboat binlog stream %s` (or binlog: {stream: true} for the daemon), or take incremental backups", name, name)
			}

			if !dryRun && res.Pieces+res.Deleted > 0 {
				a.copyAudit(context.WithoutCancel(cmd.Context()), r, cfg)
			}

			if asJSON {
				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")

				return enc.Encode(struct {
					Source string `json:"source"`
					DryRun bool   `json:"dry_run"`
					Before int    `json:"segments_before"`
					After  int    `json:"segments_after"`
					Pieces int    `json:"pieces"`
					Delete int    `json:"deleted"`
					Bytes  int64  `json:"bytes"`
				}{name, dryRun, res.Before, res.After, res.Pieces, res.Deleted, res.Bytes})
			}

			switch {
			case res.Pieces+res.Deleted == 0:
				fmt.Fprintf(a.Stdout, "binlog of %s: nothing to compact (%d segments; those whose last event is newer than %s stay as they are)\n", name, res.Before, opt.After)
			case dryRun:
				fmt.Fprintf(a.Stdout, "dry run: binlog of %s: would write %d pieces (%s) and delete %d segments, from %d segments to %d; nothing was changed\n",
					name, res.Pieces, progress.Bytes(res.Bytes), res.Deleted, res.Before, res.After)
			default:
				fmt.Fprintf(a.Stdout, "binlog of %s: wrote %d pieces (%s) and deleted %d segments, from %d segments to %d\n",
					name, res.Pieces, progress.Bytes(res.Bytes), res.Deleted, res.Before, res.After)
			}

			return nil
		},
	}

	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be merged, and change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	return cmd
}

// faultPoint reads $LIFEBOAT_FAULT ("compact:after-write") into a function
// that kills this process, as kill -9 would, at that point of operation op.
func faultPoint(spec, op string) func(string) {
	want, ok := strings.CutPrefix(spec, op+":")
	if !ok || want == "" {
		return nil
	}

	return func(point string) {
		if point == want {
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				p.Kill()  //nolint:errcheck
				select {} // the signal is on its way
			}
		}
	}
}
