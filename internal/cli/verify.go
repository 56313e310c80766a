package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
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
			res, err := r.Verify(cmd.Context(), snaps, bar)
			bar.Done()

			if err != nil {
				return err
			}

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
