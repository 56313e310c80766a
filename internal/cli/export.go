package cli

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

func (a *App) exportCommand() *cobra.Command {
	var (
		snapID string
		out    string
	)

	cmd := &cobra.Command{
		Use:   "export SOURCE -o FILE.sql[.gz]",
		Short: "Write a database snapshot as one SQL file the stock mariadb/mysql client loads",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usage("export: -o FILE.sql.gz is required")
			}

			r, s, err := a.openSource(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			ex, ok := s.(source.Exporter)
			if !ok {
				return usage("export: source %s is a %s source; export writes database snapshots (restore a %s source with `lifeboat restore`)", s.Name(), s.Kind(), s.Kind())
			}

			snap, err := r.Find(cmd.Context(), s.Name(), snapID)
			if err != nil {
				return err
			}

			// An export is one consistent dump: it comes from a full. Binlog
			// backups after it are not in it, and the user is told so.
			if snap.Type != repo.TypeFull {
				full, err := r.Base(cmd.Context(), s.Name(), repo.TypeDifferential)
				if err != nil {
					return err
				}

				if full == nil || snapID != "latest" {
					return usage("export: %s is %s backup (binlog); an export comes from a full backup: give --snapshot with a full's ID, or recover to that point with `lifeboat restore %s --snapshot %s --target-database NAME` and dump NAME", shortID(snap.ID), map[bool]string{true: "an incremental", false: "a differential"}[snap.Type == repo.TypeIncremental], s.Name(), shortID(snap.ID))
				}

				fmt.Fprintf(a.Stderr, "note: exporting the latest full backup, %s from %s; the %s backup %s after it holds binlog only and is not in the export\n",
					shortID(full.ID), full.Time.Local().Format(time.DateTime), snap.Type, shortID(snap.ID))

				snap = full
			}

			// Write beside the destination and rename, so a failed export
			// never leaves a truncated file under the final name.
			tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*")
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer os.Remove(tmp.Name())

			var w io.Writer = tmp

			var zw *gzip.Writer
			if strings.HasSuffix(out, ".gz") {
				zw = gzip.NewWriter(tmp)
				w = zw
			}

			if err := ex.Export(cmd.Context(), r, snap, w); err != nil {
				tmp.Close()
				return err
			}

			if zw != nil {
				if err := zw.Close(); err != nil {
					return fmt.Errorf("export: %w", err)
				}
			}

			if err := tmp.Close(); err != nil {
				return fmt.Errorf("export: %w", err)
			}

			if err := os.Rename(tmp.Name(), out); err != nil {
				return fmt.Errorf("export: %w", err)
			}

			fi, _ := os.Stat(out)
			fmt.Fprintf(a.Stdout, "exported %s snapshot %s to %s (%s); load it with: gunzip -c %s | mariadb DATABASE\n",
				s.Name(), shortID(snap.ID), out, progress.Bytes(fi.Size()), out)

			return nil
		},
	}

	cmd.Flags().StringVar(&snapID, "snapshot", "latest", "snapshot ID (or unique prefix), or latest")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write; .gz compresses")

	return cmd
}
