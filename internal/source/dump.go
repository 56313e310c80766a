package source

import (
	"context"
	"io"

	"lifeboat/internal/repo"
)

// Exporter writes a snapshot as a logical dump a stock client loads.
type Exporter interface {
	Export(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, w io.Writer) error
}

// MaskedExporter writes a snapshot as a logical dump with every column that
// has a masking rule masked as the rows are read.
type MaskedExporter interface {
	ExportMasked(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, w io.Writer) error
}

// Importer takes a logical dump made elsewhere as a snapshot of the source.
type Importer interface {
	Import(ctx context.Context, r *repo.Repository, file io.Reader, fileName, dbName string, opt BackupOptions) (*repo.Snapshot, error)
}

// ConsistencyDescriber says, after a backup, the instant and position its
// snapshot is consistent at.
type ConsistencyDescriber interface {
	// Consistency is the line printed after the backup; ok is false for a
	// snapshot that records none.
	Consistency(snap *repo.Snapshot) (line string, ok bool)
}

// MaskFinding is a column that looks like personal data, found by a scan.
type MaskFinding struct {
	// Column is db.table.column; Type its data type.
	Column, Type string
	// Rule is the suggested transformer, Reason what gave the column away,
	// and Ruled the rule the configuration already has ("" for none).
	Rule, Reason, Ruled string
}

// MaskScanner finds the columns of a database source that look like
// personal data, by their names and by sampling their values.
type MaskScanner interface {
	MaskScan(ctx context.Context) ([]MaskFinding, error)
}
