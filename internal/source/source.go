// Package source defines what a backup source is and the steps every source
// shares: choosing the base of an incremental or differential, refusing to
// restore over data without --overwrite, and saving what an overwrite replaces.
// What a source can do beyond backup and restore (restore to a point in time,
// list restore points, archive continuously, export a dump, ...) is a small
// capability interface here that callers type-assert, so nothing outside a
// source's own package names its type or kind; internal/sources lists the
// kinds. It never talks to kopia directly; storage goes through internal/repo.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"lifeboat/internal/repo"
)

// Source is one configured thing to back up and restore.
type Source interface {
	Name() string
	Kind() string
	Backup(ctx context.Context, r *repo.Repository, opt BackupOptions) (*repo.Snapshot, error)
	Restore(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, target string, opt RestoreOptions) (*RestoreResult, error)
	// Contains reports whether path lies inside what the source reads, so a
	// restore never lands inside its own source.
	Contains(path string) bool
}

// BackupOptions are the per-run choices of a backup.
type BackupOptions struct {
	Type               string
	Version            string
	Progress           repo.Progress
	CheckpointInterval time.Duration
	Log                *slog.Logger
	// Extra labels to record on the snapshot.
	Extra map[string]string
	// At, when set, is when the data is from, if not now (an imported dump).
	At time.Time
	// Mode, when set, overrides how a database source takes this backup
	// ("logical" or "physical"), so one source can have both.
	Mode string
}

// RestoreOptions are the per-run choices of a restore.
type RestoreOptions struct {
	Overwrite bool
	Version   string
	Progress  repo.Progress
	Log       *slog.Logger
	// Image picks one image of a source that holds several (an image
	// source's reference); empty for every other kind.
	Image string
}

// AddressRestorer is a source whose restore target is an address it
// parses (docker://HOST/NAME:TAG, oci:DIR, docker-archive:FILE) rather
// than a folder. CheckAddress refuses a malformed target, or one holding
// data, without overwrite.
type AddressRestorer interface {
	CheckAddress(target string, overwrite bool) error
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Stats repo.RestoreStats
	// Safety is the snapshot of what the restore overwrote, if it overwrote anything.
	Safety *repo.Snapshot
}

// ErrTargetNotEmpty is returned when a restore would write into existing data
// without --overwrite.
var ErrTargetNotEmpty = errors.New("restore target is not empty")

// ResolveBase returns the type actually taken and the snapshot it builds on.
// An incremental or differential with nothing to build on becomes a full, and
// says so.
func ResolveBase(ctx context.Context, r *repo.Repository, name, typ string, log *slog.Logger) (string, *repo.Snapshot, error) {
	switch typ {
	case "", repo.TypeFull:
		return repo.TypeFull, nil, nil
	case repo.TypeIncremental, repo.TypeDifferential:
	default:
		return "", nil, fmt.Errorf("unknown backup type %q: expected full, incremental or differential", typ)
	}

	base, err := r.Base(ctx, name, typ)
	if err != nil {
		return "", nil, err
	}

	if base == nil {
		if log != nil {
			log.Warn("no earlier backup to build on: taking a full backup instead", "source", name, "requested", typ)
		}

		return repo.TypeFull, nil, nil
	}

	return typ, base, nil
}

// IsEmptyDir reports whether dir is missing or has no entries.
func IsEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return true, nil
		}

		return false, fmt.Errorf("open restore target %s: %w", dir, err)
	}
	defer f.Close()

	fi, err := f.Stat()
	if err != nil {
		return false, err
	}

	if !fi.IsDir() {
		return false, fmt.Errorf("restore target %s exists and is not a directory", dir)
	}

	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}

	return false, err
}

// CheckTarget refuses a non-empty target unless overwrite is set or it holds
// an interrupted restore (repo.RestoreMarker), which the restore resumes.
func CheckTarget(target string, overwrite bool) error {
	empty, err := IsEmptyDir(target)
	if err != nil {
		return err
	}

	if !empty && !overwrite {
		// An interrupted restore: the restore resumes it, or refuses when
		// the marker names another snapshot.
		if inc, err := repo.ReadRestoreMarker(target); err != nil || inc != nil {
			return err
		}

		return fmt.Errorf("%w: %s holds files; choose an empty or new folder, or pass --overwrite (what it replaces is saved as a safety snapshot first)", ErrTargetNotEmpty, target)
	}

	return nil
}

// SafetySnapshot saves the existing paths among paths before a restore
// overwrites them (the guide's "backup current files" step). It returns nil
// when none of them exists.
func SafetySnapshot(ctx context.Context, r *repo.Repository, name, version string, paths []string) (*repo.Snapshot, error) {
	var existing []string

	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			existing = append(existing, filepath.Clean(p))
		}
	}

	if len(existing) == 0 {
		return nil, nil
	}

	snap, err := r.BackupTree(ctx, repo.TreeSpec{
		Source: name, Kind: "files", Type: repo.TypeFull, Role: repo.RoleSafety,
		Version: version, Roots: existing,
	})
	if err != nil {
		return nil, fmt.Errorf("safety snapshot before overwrite: %w", err)
	}

	return snap, nil
}

// TestOptions are the choices of a restore test.
type TestOptions struct {
	Version  string
	Progress repo.Progress
	Log      *slog.Logger
	// Tamper runs between the restore and the comparison with the restored
	// copy's location (a folder, or a database name). Tests use it to prove
	// the comparison catches a change; it is nil otherwise.
	Tamper func(ctx context.Context, target string) error
}

// TestReport is what a restore test restored and compared.
type TestReport struct {
	Snapshot *repo.Snapshot
	// Checked counts what was compared; What says what it counts (tables,
	// files, refs).
	Checked int64
	What    string
	// Checks, when set, says what was checked of each instead: a source
	// with nothing recorded at backup time to compare against (a physical
	// copy) checks the restored copy on its own, and must not be reported
	// as compared with the backup.
	Checks string
	// Assertions counts the user's assertions that ran.
	Assertions int
	Problems   []string
	// Restore is how long the restore took; Total includes the comparison.
	Restore time.Duration
	Total   time.Duration
}

// OK reports whether the restored copy matched.
func (t *TestReport) OK() bool { return len(t.Problems) == 0 }

// Previewer says what a backup of the source would read, without reading it
// into a repository or changing anything: the line `backup --dry-run`
// prints for the source.
type Previewer interface {
	Preview(ctx context.Context) (string, error)
}
