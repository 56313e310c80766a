package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/verify"
)

func (a *App) verifyCommand() *cobra.Command {
	var snapID string

	cmd := &cobra.Command{
		Use:   "verify [SOURCE]",
		Short: "Read back and authenticate every stored byte of the snapshots",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			name := ""
			if len(args) == 1 {
				s, err := a.source(cfg, args[0])
				if err != nil {
					return err
				}

				name = s.Name()
			}

			var snaps []*repo.Snapshot

			if snapID != "" {
				if name == "" {
					return usage("--snapshot needs a SOURCE")
				}

				s, err := r.Find(cmd.Context(), name, snapID)
				if err != nil {
					return err
				}

				snaps = []*repo.Snapshot{s}
			} else if snaps, err = r.Snapshots(cmd.Context(), name); err != nil {
				return err
			}

			start := time.Now()
			bar := a.bar("verify")

			// Per source, so each source's result is recorded.
			bySource := map[string][]*repo.Snapshot{}

			var order []string

			for _, s := range snaps {
				if _, seen := bySource[s.Source]; !seen {
					order = append(order, s.Source)
				}

				bySource[s.Source] = append(bySource[s.Source], s)
			}

			res := &repo.VerifyResult{Failed: map[string]bool{}}

			for _, src := range order {
				one, err := verify.Run(cmd.Context(), r, src, bySource[src], bar)
				if err != nil {
					bar.Done()
					return err
				}

				res.Snapshots += one.Snapshots
				res.Files += one.Files
				res.BytesRead += one.BytesRead
				res.Problems = append(res.Problems, one.Problems...)

				rec := audit.Record{Action: "verify", Source: src, Outcome: audit.OK, Detail: fmt.Sprintf("%d snapshots", one.Snapshots)}
				if !one.OK() {
					rec.Outcome, rec.Detail = audit.Failed, fmt.Sprintf("%d problems in %d snapshots", len(one.Problems), one.Snapshots)
				}

				a.record(cfg, rec)
			}

			bar.Done()

			for _, p := range res.Problems {
				fmt.Fprintf(a.Stderr, "problem: %s\n", p)
			}

			fmt.Fprintf(a.Stdout, "verified %d snapshots, %d files, %s of distinct content read back in %s: ",
				res.Snapshots, res.Files, progress.Bytes(res.BytesRead), seconds(time.Since(start)))

			if !res.OK() {
				fmt.Fprintf(a.Stdout, "%d PROBLEMS\n", len(res.Problems))
				return errors.New("verification failed: the snapshots named above cannot be trusted; restore from another snapshot or copy")
			}

			fmt.Fprintln(a.Stdout, "OK")

			return nil
		},
	}

	cmd.Flags().StringVar(&snapID, "snapshot", "", "verify only this snapshot of SOURCE")

	return cmd
}
