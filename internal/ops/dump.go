package ops

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Export asks to write a database snapshot as one SQL file.
type Export struct {
	Source string
	// Snapshot is an ID, a unique prefix of one, or "latest".
	Snapshot string
	// Output is the file written; a name ending in .gz is compressed.
	Output string
	// Asked is what was asked (the command line): the audit record's
	// detail when the export succeeds.
	Asked string
	// Instead, if set, is told before the export starts that the latest
	// full backup is exported rather than the backup of binlog asked for.
	Instead func(asked, full *repo.Snapshot)
	// DryRun resolves the snapshot that would be exported, and writes
	// nothing.
	DryRun bool
	// Masked writes a masked copy: every column with a masking rule is
	// masked before it reaches the file.
	Masked bool
}

// ExportResult is what an export wrote.
type ExportResult struct {
	// Snapshot is the full backup exported.
	Snapshot *repo.Snapshot
	// Size is the file's size in bytes.
	Size int64
}

// Export writes a full backup of a database source as one SQL file the
// stock client loads. The file appears under its name only once complete.
func (e *Executor) Export(ctx context.Context, req Export, obs Observer) (*ExportResult, error) {
	op := Op{Name: "export", Source: req.Source, What: "export " + req.Source}
	res := &ExportResult{}

	err := e.Run(ctx, op, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		src, err := e.source(req.Source)
		if err != nil {
			return Outcome{}, err
		}

		ex, ok := src.(source.Exporter)
		if !ok {
			return Outcome{}, invalid("export: source %s is a %s source; export writes database snapshots (restore a %s source with `lifeboat restore`)", src.Name(), src.Kind(), src.Kind())
		}

		write := ex.Export
		if req.Masked {
			mx, ok := src.(source.MaskedExporter)
			if !ok {
				return Outcome{}, invalid("export: source %s cannot write masked copies", src.Name())
			}

			write = mx.ExportMasked
		}

		snap, err := e.exported(ctx, req)
		if err != nil {
			return Outcome{}, err
		}

		res.Snapshot = snap

		if req.DryRun {
			detail := "dry run: would export snapshot " + snap.ID + " to " + req.Output
			return Outcome{Record: audit.Record{Detail: detail}, Summary: detail}, nil
		}

		m.Step("export %s snapshot %s to %s", req.Source, snap.ID, req.Output)

		if res.Size, err = writeExport(ctx, e.Repo, write, snap, req.Output); err != nil {
			return Outcome{}, err
		}

		return Outcome{Record: audit.Record{Detail: req.Asked}, Summary: "exported snapshot " + snap.ID + " to " + req.Output}, nil
	})

	return res, err
}

// exported finds the full backup req exports. An export is one consistent
// dump: it comes from a full. Binlog backups after it are not in it, and
// the user is told so.
func (e *Executor) exported(ctx context.Context, req Export) (*repo.Snapshot, error) {
	snap, err := e.Repo.Find(ctx, req.Source, req.Snapshot)
	if err != nil || snap.Type == repo.TypeFull {
		return snap, err
	}

	full, err := e.Repo.Base(ctx, req.Source, repo.TypeDifferential)
	if err != nil {
		return nil, err
	}

	if full == nil || req.Snapshot != "latest" {
		kind := "a differential"
		if snap.Type == repo.TypeIncremental {
			kind = "an incremental"
		}

		return nil, invalid("export: %s is %s backup (binlog); an export comes from a full backup: give --snapshot with a full's ID, or recover to that point with `lifeboat restore %s --snapshot %s --target-database NAME` and dump NAME", shortID(snap.ID), kind, req.Source, shortID(snap.ID))
	}

	if req.Instead != nil {
		req.Instead(snap, full)
	}

	return full, nil
}

// writeExport writes snap's dump to out, beside it first and renamed once
// complete, so a failed export never leaves a truncated file under the
// final name. It returns the file's size.
func writeExport(ctx context.Context, r *repo.Repository, export func(context.Context, *repo.Repository, *repo.Snapshot, io.Writer) error, snap *repo.Snapshot, out string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*")
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp.Name())

	var w io.Writer = tmp

	var zw *gzip.Writer
	if strings.HasSuffix(out, ".gz") {
		zw = gzip.NewWriter(tmp)
		w = zw
	}

	if err := export(ctx, r, snap, w); err != nil {
		tmp.Close()
		return 0, err
	}

	if zw != nil {
		if err := zw.Close(); err != nil {
			return 0, fmt.Errorf("export: %w", err)
		}
	}

	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}

	if err := os.Rename(tmp.Name(), out); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}

	fi, err := os.Stat(out)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}

	return fi.Size(), nil
}

// Import asks to take a logical dump made elsewhere into the repository as
// a full backup of a database source.
type Import struct {
	Source string
	// File is the dump; a name ending in .gz is decompressed.
	File string
	// Database is the database the file holds (empty: named by the file,
	// or the source's only database).
	Database string
	// Asked is what was asked (the command line): the audit record's
	// detail when the import succeeds.
	Asked string
	// DryRun checks the source takes imports and the file opens (and is
	// gzip when named so), and imports nothing. The SQL itself is read only
	// by an import, which stores it as it reads: it is not checked.
	DryRun bool
}

// ImportResult is what an import took in.
type ImportResult struct {
	Snapshot *repo.Snapshot
	// Took is how long the import itself took.
	Took time.Duration
}

// Import takes a dump file in as a full snapshot of a database source.
func (e *Executor) Import(ctx context.Context, req Import, obs Observer) (*ImportResult, error) {
	op := Op{Name: "import", Source: req.Source, What: "import " + req.File}
	res := &ImportResult{}

	err := e.Run(ctx, op, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		src, err := e.source(req.Source)
		if err != nil {
			return Outcome{}, err
		}

		db, ok := src.(source.Importer)
		if !ok {
			return Outcome{}, invalid("import: source %s is a %s source; import takes mysqldump files into database sources", src.Name(), src.Kind())
		}

		f, err := os.Open(req.File)
		if err != nil {
			return Outcome{}, invalid("import: %v", err)
		}
		defer f.Close()

		var rd io.Reader = bufio.NewReader(f)
		if strings.HasSuffix(req.File, ".gz") {
			zr, err := gzip.NewReader(rd)
			if err != nil {
				return Outcome{}, invalid("import: %s is not a gzip file: %v", req.File, err)
			}

			rd = zr
		}

		if req.DryRun {
			detail := "dry run: would import " + req.File + " into " + req.Source
			return Outcome{Record: audit.Record{Detail: detail}, Summary: detail}, nil
		}

		now := clock.Or(e.Clock).Now
		start := now()

		m.Step("import %s into %s", req.File, req.Source)

		snap, err := db.Import(ctx, e.Repo, rd, filepath.Base(req.File), req.Database, source.BackupOptions{Version: e.Version, Log: e.Log})
		if err != nil {
			return Outcome{}, err
		}

		res.Snapshot, res.Took = snap, now().Sub(start)

		return Outcome{Record: audit.Record{Detail: req.Asked}, Summary: "imported as snapshot " + snap.ID}, nil
	})

	return res, err
}
