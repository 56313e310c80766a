package cli

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/progress"
	"lifeboat/internal/source"
)

func (a *App) restoreCommand() *cobra.Command {
	var (
		snapID    string
		target    string
		overwrite bool
	)

	cmd := &cobra.Command{
		Use:   "restore SOURCE --target DIR",
		Short: "Restore a snapshot of a source into a folder",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				return usage("restore: --target DIR is required (an empty or new folder; --overwrite to restore over existing files)")
			}

			abs, err := filepath.Abs(target)
			if err != nil {
				return usage("--target %s: %v", target, err)
			}

			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			s, err := a.source(cfg, args[0])
			if err != nil {
				return err
			}

			if s.Contains(abs) {
				return usage("--target %s lies inside source %s: restoring there would mix the backup into the data it came from; choose a folder outside it", abs, s.Name())
			}

			if err := source.CheckTarget(abs, overwrite); err != nil {
				return err
			}

			_, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			snap, err := r.Find(cmd.Context(), s.Name(), snapID)
			if err != nil {
				return err
			}

			start := time.Now()
			bar := a.bar("restore " + s.Name())
			res, err := s.Restore(cmd.Context(), r, snap, abs, source.RestoreOptions{
				Overwrite: overwrite, Version: toolVersion(), Progress: bar, Log: a.log,
			})
			bar.Done()

			if res != nil && res.Safety != nil {
				fmt.Fprintf(a.Stdout, "saved what the restore replaces as safety snapshot %s (%d files, %s)\n",
					shortID(res.Safety.ID), res.Safety.Files, progress.Bytes(res.Safety.Bytes))
			}

			if err != nil {
				return err
			}

			fmt.Fprintf(a.Stdout, "restored %s snapshot %s (%s, %s) to %s: %d files, %s in %s\n",
				s.Name(), shortID(snap.ID), snap.Type, snap.Time.Local().Format(time.DateTime), abs,
				res.Stats.Files, progress.Bytes(res.Stats.Bytes), seconds(time.Since(start)))

			return nil
		},
	}

	cmd.Flags().StringVar(&snapID, "snapshot", "latest", "snapshot ID (or a unique prefix of 6+ characters), or latest")
	cmd.Flags().StringVar(&target, "target", "", "folder to restore into")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "restore over existing files, after saving them as a safety snapshot")

	return cmd
}
