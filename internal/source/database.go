package source

import (
	"context"
	"errors"
	"time"

	"lifeboat/internal/repo"
)

// ErrNotInSnapshot means a restore named a table the snapshot does not hold.
var ErrNotInSnapshot = errors.New("not in the snapshot")

// ErrSystemSchema means a restore or import named a database the server
// keeps for itself.
var ErrSystemSchema = errors.New("is a system schema of the server")

// DatabaseRestoreOptions choose what a database restore writes where.
type DatabaseRestoreOptions struct {
	// Database is the name to restore under; "" keeps the original name(s).
	Database string
	// Tables restricts the restore to these tables (no views or routines).
	Tables    []string
	Overwrite bool
	// Masked restores a masked copy: every column with a masking rule is
	// masked before its rows reach the server.
	Masked bool
	// Datadir is the empty data directory a physical backup is restored
	// into (a new server's, or the original's once moved aside).
	Datadir string
	// Scratch makes the restore a drill's copy, checked and removed: with
	// both Datadir and Database it goes the way estimated faster, and a
	// copy in Datadir is served by a private server known as Database
	// (Assert runs there; DropDatabase stops it).
	Scratch bool
	// Saved says what the restore replaces is already in a safety snapshot
	// (an earlier attempt took it), so none is taken.
	Saved    bool
	Version  string
	Progress repo.Progress
}

// DatabaseRestoreReport says what a database restore did and what it checked.
type DatabaseRestoreReport struct {
	Databases []string
	Tables    int
	Rows      int64
	Objects   int
	// Checked is how many tables had their row count and checksum compared.
	Checked int
	// Accounts is how many users were created (existing ones are left alone).
	Accounts int
	Safety   *repo.Snapshot
	// Datadir is where a physical backup was restored; Physical says how.
	Datadir  string
	Physical string
}

// DatabaseRestorer restores a snapshot into a database server, under its
// own name or another, whole or some of its tables. A source that has it
// restores with --target-database instead of a folder.
type DatabaseRestorer interface {
	RestoreDatabase(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt DatabaseRestoreOptions) (*DatabaseRestoreReport, error)
}

// Recovered says what a recovery plan's restore of a database gave back.
type Recovered struct {
	// Databases are the names restored into.
	Databases []string
	// DataTime is the instant the restored data is from.
	DataTime time.Time
	// Snapshot is the full backup the recovery started from.
	Snapshot *repo.Snapshot
	Safety   *repo.Snapshot
	Tables   int
	Rows     int64
	// Transactions replayed from the archive after the full.
	Transactions int
	// Datadir is where a copy restored into a data directory is; Compared
	// counts the tables compared with a record of the snapshot.
	Datadir  string
	Compared int
	// Choice says which way the recovery took, when it had a choice.
	Choice string
}

// Recoverer restores a database for a recovery plan: to a snapshot (its
// chain applied), else to an instant, else to the newest restorable instant.
type Recoverer interface {
	Recover(ctx context.Context, r *repo.Repository, snapID string, at time.Time, opt DatabaseRestoreOptions) (*Recovered, error)
	// CheckReplayLogin tries the login a recovery's replay would use, so a
	// dry run reports a refused login before the recovery needs it.
	CheckReplayLogin(ctx context.Context, r *repo.Repository) error
}

// ScratchDatabases are what a drill restores a database into instead of
// the original: one database under a scratch name, dropped afterwards.
type ScratchDatabases interface {
	// OneDatabase is the only database of the newest full backup; it fails
	// when there are several.
	OneDatabase(ctx context.Context, r *repo.Repository) (string, error)
	DropDatabase(ctx context.Context, db string) error
}

// SQLChecker runs a plan's SQL checks against a database of the source.
type SQLChecker interface {
	// Assert runs each assertion in db (a drill's copy when copy is set)
	// and returns the ones that did not hold.
	Assert(ctx context.Context, db string, assertions []string, copy bool) ([]string, error)
	// Databases are the databases the configuration names.
	Databases() []string
}
