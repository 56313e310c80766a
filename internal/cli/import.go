package cli

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/progress"
	"lifeboat/internal/source"
)

func (a *App) importCommand() *cobra.Command {
	var database string

	cmd := &cobra.Command{
		Use:   "import SOURCE FILE.sql[.gz]",
		Short: "Take an existing mysqldump file into the repository as a full backup of a database source",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, s, err := a.openSource(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			db, ok := s.(source.Importer)
			if !ok {
				return usage("import: source %s is a %s source; import takes mysqldump files into database sources", s.Name(), s.Kind())
			}

			f, err := os.Open(args[1])
			if err != nil {
				return usage("import: %v", err)
			}
			defer f.Close()

			var rd io.Reader = bufio.NewReader(f)
			if strings.HasSuffix(args[1], ".gz") {
				zr, err := gzip.NewReader(rd)
				if err != nil {
					return usage("import: %s is not a gzip file: %v", args[1], err)
				}

				rd = zr
			}

			start := time.Now()

			snap, err := db.Import(cmd.Context(), r, rd, filepath.Base(args[1]), database, source.BackupOptions{Version: toolVersion(), Log: a.log})
			if err != nil {
				return err
			}

			fmt.Fprintf(a.Stdout, "imported %s as %s full snapshot %s  %d tables  %s  in %s\n",
				args[1], s.Name(), shortID(snap.ID), snap.Files, progress.Bytes(snap.Bytes), seconds(time.Since(start)))

			return nil
		},
	}

	cmd.Flags().StringVar(&database, "database", "", "the database the file holds (default: named by the file, or the source's only database)")

	return cmd
}
