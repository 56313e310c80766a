package source

import (
	"log/slog"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
)

// Archiving is a source that keeps an archive of its changes between
// backups (a database's binlog): `lifeboat binlog stream` and the daemon
// stream it, and the daemon compacts and measures it.
type Archiving interface {
	// Archiver returns the archiver that streams the source's changes into r.
	Archiver(r *repo.Repository, log *slog.Logger, version string) *binlog.Archiver
	// Streams reports whether the configuration has the archive streamed
	// continuously by the daemon.
	Streams() bool
}

// Chain reads a kind of source whose incrementals and differentials are
// changes to replay onto the full before them, not copies that restore on
// their own: retention keeps the full a kept incremental needs, and restore
// tests start from a full. It reads snapshots only, so it serves sources the
// configuration no longer has.
type Chain interface {
	// FullOf reads where a full backup starts the archive; ok is false for
	// any other snapshot.
	FullOf(snap *repo.Snapshot) (binlog.Full, bool)
	// End is where an incremental or differential ends in the archive; ok is
	// false when the snapshot records no range.
	End(snap *repo.Snapshot) (binlog.Coord, bool)
	// Describe says where a snapshot stands in the archive, for a recovery
	// point's listing.
	Describe(snap *repo.Snapshot) string
}

// Chained reports whether src's incrementals and differentials need the
// full before them, so only its fulls restore on their own.
func Chained(src Source) bool {
	_, ok := src.(Chain)

	return ok
}
