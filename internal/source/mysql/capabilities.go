package mysql

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// The capabilities a database source has beyond backup and restore.
var (
	_ source.DatabaseRestorer     = (*Source)(nil)
	_ source.PointInTimeRestorer  = (*Source)(nil)
	_ source.RestorePointLister   = (*Source)(nil)
	_ source.InstantSource        = (*Source)(nil)
	_ source.Recoverer            = (*Source)(nil)
	_ source.ScratchDatabases     = (*Source)(nil)
	_ source.SQLChecker           = (*Source)(nil)
	_ source.Archiving            = (*Source)(nil)
	_ source.Chain                = (*Source)(nil)
	_ source.Exporter             = (*Source)(nil)
	_ source.MaskedExporter       = (*Source)(nil)
	_ source.MaskScanner          = (*Source)(nil)
	_ source.Importer             = (*Source)(nil)
	_ source.ConsistencyDescriber = (*Source)(nil)
)

// Streams reports whether the configuration has the daemon stream the binlog.
func (s *Source) Streams() bool { return s.cfg.MySQL.Binlog.Stream }

// Export writes snap as one SQL script (see the package function Export).
func (s *Source) Export(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, w io.Writer) error {
	return Export(ctx, r, snap, w)
}

// Consistency is the instant, binlog position and GTID a full backup is
// consistent at, and how long it blocked writes.
func (s *Source) Consistency(snap *repo.Snapshot) (string, bool) {
	meta, err := LoadMeta(snap)
	if err != nil {
		return "", false
	}

	return fmt.Sprintf("consistent at %s (binlog %s:%d, GTID %q); writes blocked %d ms",
		meta.ConsistentAt, meta.BinlogFile, meta.BinlogPos, meta.GTID, meta.LockedMillis), true
}

// FullOf reads a full backup's binlog coordinates (see the package function FullOf).
func (s *Source) FullOf(snap *repo.Snapshot) (binlog.Full, bool) { return Binlog{}.FullOf(snap) }

// End is where an incremental or differential ends in the binlog.
func (s *Source) End(snap *repo.Snapshot) (binlog.Coord, bool) { return Binlog{}.End(snap) }

// Describe says where a snapshot stands in the binlog.
func (s *Source) Describe(snap *repo.Snapshot) string { return Binlog{}.Describe(snap) }

// Binlog reads how this kind's backups chain through the binlog from the
// snapshots alone, for sources the configuration may no longer have.
type Binlog struct{}

var _ source.Chain = Binlog{}

// FullOf reads a full backup's binlog coordinates; ok is false for anything else.
func (Binlog) FullOf(snap *repo.Snapshot) (binlog.Full, bool) { return FullOf(snap) }

// End is where an incremental or differential ends in the binlog; ok is
// false when the snapshot records no range.
func (Binlog) End(snap *repo.Snapshot) (binlog.Coord, bool) {
	// A physical incremental ends where its copy is consistent.
	if _, ok := LoadPhysical(snap); ok && snap.Type != repo.TypeFull {
		m, err := LoadMeta(snap)
		if err != nil || m.BinlogFile == "" {
			return binlog.Coord{}, false
		}

		return binlog.Coord{File: m.BinlogFile, Pos: uint32(m.BinlogPos)}, true
	}

	var br BinlogRange
	if err := json.Unmarshal([]byte(snap.Extra[binlogLabel]), &br); err != nil {
		return binlog.Coord{}, false
	}

	return binlog.Coord{File: br.ToFile, Pos: br.ToPos}, true
}

// Describe is a recovery point's line for a database snapshot: the full's
// binlog coordinates and GTID, or where an incremental's binlog ends.
func (Binlog) Describe(snap *repo.Snapshot) string {
	if f, ok := FullOf(snap); ok {
		d := fmt.Sprintf("full, binlog %s:%d", f.Coord.File, f.Coord.Pos)
		if f.GTID != "" {
			d += ", GTID " + f.GTID
		}

		return d
	}

	if c, ok := (Binlog{}).End(snap); ok && c.File != "" {
		return fmt.Sprintf("%s, binlog up to %s:%d", snap.Type, c.File, c.Pos)
	}

	return snap.Type
}
