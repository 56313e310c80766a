package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/restore"
	"github.com/kopia/kopia/snapshot/snapshotfs"
)

// restoreParallel is how many files a restore writes at once: 8 saturate two
// cores; 16 gains ~10% for ~60% more memory.
const restoreParallel = 8

// RestoreOptions control a restore.
type RestoreOptions struct {
	// Overwrite replaces existing files and symlinks in the target.
	Overwrite bool
	Progress  Progress
}

// RestoreStats says what a restore wrote.
type RestoreStats struct {
	Files    int64
	Dirs     int64
	Symlinks int64
	Bytes    int64
	// Kept counts the files and symlinks an interrupted restore of the same
	// snapshot had already put in place, kept as they were.
	Kept int64
	// Resumed is the interrupted restore this one finished.
	Resumed *IncompleteRestore
}

// Restore writes the tree of snapshot id below target, with owners, modes and
// times. The whole tree is checked for unsafe names before anything is written.
// Until the last entry is in place the target holds a marker (RestoreMarker)
// and each file is written under a temporary name, so an interrupted restore
// is visible as such; restoring the same snapshot into it again resumes,
// keeping the files already complete.
func (r *Repository) Restore(ctx context.Context, id, target string, opt RestoreOptions) (RestoreStats, error) {
	var st RestoreStats

	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return st, err
	}

	var plan *planBuilder
	if dr, ok := r.rep.(repo.DirectRepository); ok && r.readahead != nil {
		plan = newPlanBuilder(dr.ContentReader())
	}

	if err := r.checkRestore(ctx, m, target, opt.Overwrite, plan); err != nil {
		return st, err
	}

	// checkRestore refused a marker of another snapshot unless overwriting.
	inc, err := ReadRestoreMarker(target)
	if err != nil {
		return st, err
	}

	resume := inc != nil && inc.Snapshot == string(m.ID)

	defer relaxGC()()

	readPlan, err := plan.build(ctx, readaheadBudget)
	if err != nil {
		r.log.Info("restore without readahead", "err", err)
	}

	if readPlan != nil {
		var stop func() ReadaheadStats

		ctx, stop = r.readahead.start(ctx, readPlan)
		defer func() {
			s := stop()
			r.log.Info("restore readahead", "requests", s.Requests, "bytes", s.Bytes, "served", s.Served, "passthrough", s.Passthrough)
		}()
	}

	root, err := snapshotfs.SnapshotRoot(r.rep, m)
	if err != nil {
		return st, fmt.Errorf("restore snapshot %s: %w", id, err)
	}

	fsOut, err := openRestoreTarget(ctx, m, id, target, opt.Overwrite, r.now())
	if err != nil {
		return st, err
	}

	var done, files int64

	fp, _ := opt.Progress.(FileProgress)
	if opt.Progress != nil && m.RootEntry.DirSummary != nil {
		if fp != nil {
			fp.SetTotalFiles(m.RootEntry.DirSummary.TotalFileCount)
		}

		opt.Progress.SetTotal(m.RootEntry.DirSummary.TotalFileSize)
	}

	if readPlan != nil {
		// A snapshot of a single file has no directory to list.
		readPlan.listed("")
	}

	ks, err := restore.Entry(ctx, r.rep, &fileOutput{fsOut, readPlan}, root, restore.Options{
		Parallel:               restoreParallel,
		RestoreDirEntryAtDepth: math.MaxInt32,
		// Resuming: files whose size and time match were completed by the
		// interrupted run (a file gets its real name only when complete).
		Incremental: resume,
		ProgressCallback: func(_ context.Context, s restore.Stats) {
			if opt.Progress != nil {
				n := s.RestoredTotalFileSize + s.SkippedTotalFileSize
				opt.Progress.Add(n - done)
				done = n

				if f := int64(s.RestoredFileCount) + int64(s.SkippedCount); fp != nil && f != files {
					fp.AddFiles(f - files)
					files = f
				}
			}
		},
	})
	if err != nil {
		return st, fmt.Errorf("restore snapshot %s to %s: %w; the target is marked incomplete (%s): run the same restore again to finish it", id, target, err, RestoreMarker)
	}

	if err := r.completeRestore(target, root, inc); err != nil {
		return st, err
	}

	st = RestoreStats{
		Files: int64(ks.RestoredFileCount), Dirs: int64(ks.RestoredDirCount),
		Symlinks: int64(ks.RestoredSymlinkCount), Bytes: ks.RestoredTotalFileSize,
		Kept: int64(ks.SkippedCount),
	}
	if resume {
		st.Resumed = inc
	}

	return st, nil
}

// openRestoreTarget creates target, marks it incomplete until the restore
// of m ends, and returns the output that writes the tree into it.
func openRestoreTarget(ctx context.Context, m *snapshot.Manifest, id, target string, overwrite bool, now time.Time) (*restore.FilesystemOutput, error) {
	if err := os.MkdirAll(target, 0o700); err != nil {
		return nil, fmt.Errorf("restore snapshot %s: create target %s: %w", id, target, err)
	}

	if err := writeRestoreMarker(target, IncompleteRestore{
		Snapshot: string(m.ID), Source: m.Tags[labelSource], Started: now.UTC(), PID: os.Getpid(),
	}); err != nil {
		return nil, err
	}

	fsOut := &restore.FilesystemOutput{
		TargetPath:           target,
		OverwriteDirectories: true,
		OverwriteFiles:       overwrite,
		OverwriteSymlinks:    overwrite,
	}
	if err := fsOut.Init(ctx); err != nil {
		return nil, fmt.Errorf("restore snapshot %s: %w", id, err)
	}

	return fsOut, nil
}

// completeRestore removes what an interrupted restore left (inc, when there
// was one) and the marker, and gives the target back the time of the
// snapshot's root, which removing the marker changed.
func (r *Repository) completeRestore(target string, root fs.Entry, inc *IncompleteRestore) error {
	if inc != nil {
		if err := removePartials(target); err != nil {
			return fmt.Errorf("restore to %s: %w", target, err)
		}
	}

	if err := os.Remove(filepath.Join(target, RestoreMarker)); err != nil {
		return fmt.Errorf("restore to %s: every file is in place, but removing the marker failed: %w; delete %s by hand", target, err, RestoreMarker)
	}

	if root.IsDir() {
		if err := os.Chtimes(target, root.ModTime(), root.ModTime()); err != nil {
			r.log.Warn("restore: could not set the target's modification time", "target", target, "err", err)
		}
	}

	return nil
}

// Entry is one line of a snapshot listing.
type Entry struct {
	Path    string      `json:"path"`
	Type    string      `json:"type"`
	Mode    os.FileMode `json:"mode"`
	Size    int64       `json:"size"`
	ModTime time.Time   `json:"mtime"`
	UID     uint32      `json:"uid"`
	GID     uint32      `json:"gid"`
}

// List returns the entries of a snapshot below sub ("" for all), depth first.
func (r *Repository) List(ctx context.Context, id, sub string) ([]Entry, error) {
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return nil, err
	}

	sub = strings.Trim(path.Clean("/"+sub), "/")

	var out []Entry

	found := sub == ""
	err = walkTree(ctx, r.rep, m.RootEntry, func(_ context.Context, rel string, e fs.Entry, _ *snapshot.DirEntry) error {
		if sub != "" && rel != sub && !strings.HasPrefix(rel, sub+"/") {
			return nil
		}

		found = true
		typ := "file"

		switch {
		case e.IsDir():
			typ = "dir"
		case e.Mode()&os.ModeSymlink != 0:
			typ = "symlink"
		}

		out = append(out, Entry{
			Path: rel, Type: typ, Mode: e.Mode(), Size: e.Size(), ModTime: e.ModTime().UTC(),
			UID: e.Owner().UserID, GID: e.Owner().GroupID,
		})

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshot %s: %w", id, err)
	}

	if !found {
		return nil, fmt.Errorf("list snapshot %s: %w: no path %q in it", id, ErrSnapshotNotFound, sub)
	}

	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })

	return out, nil
}

// ReadFile streams one file of a snapshot (rel is slash-separated from the root).
func (r *Repository) ReadFile(ctx context.Context, id, rel string, w io.Writer) error {
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return err
	}

	root, err := snapshotfs.SnapshotRoot(r.rep, m)
	if err != nil {
		return fmt.Errorf("open snapshot %s: %w", id, err)
	}

	e, err := snapshotfs.GetNestedEntry(ctx, root, strings.Split(strings.Trim(rel, "/"), "/"))
	if err != nil {
		return fmt.Errorf("snapshot %s: %s: %w", id, rel, err)
	}

	f, ok := e.(fs.File)
	if !ok {
		return fmt.Errorf("snapshot %s: %s is not a file", id, rel)
	}

	rd, err := f.Open(ctx)
	if err != nil {
		return fmt.Errorf("snapshot %s: open %s: %w", id, rel, err)
	}
	defer rd.Close()

	if _, err := io.Copy(w, rd); err != nil {
		return fmt.Errorf("snapshot %s: read %s: %w", id, rel, err)
	}

	return nil
}

// IsUnsafePath reports whether err is a refused unsafe snapshot entry.
func IsUnsafePath(err error) bool { return errors.Is(err, ErrUnsafePath) }

// Contains reports whether p is base or lies below it, after resolving
// symlinks where the paths exist.
func Contains(base, p string) bool {
	b, p2 := resolve(base), resolve(p)

	rel, err := filepath.Rel(b, p2)
	if err != nil {
		return false
	}

	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}

func resolve(p string) string {
	p, _ = filepath.Abs(p)
	// Resolve the longest existing prefix, so a target that does not exist yet
	// but sits below a symlink into the source is still caught.
	rest := ""

	for cur := p; ; cur = filepath.Dir(cur) {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}

		if cur == filepath.Dir(cur) {
			return p
		}

		rest = filepath.Join(filepath.Base(cur), rest)
	}
}

// CheckRestore reports, without writing anything, whether snapshot id can be
// restored into target.
func (r *Repository) CheckRestore(ctx context.Context, id, target string, overwrite bool) error {
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return err
	}

	return r.checkRestore(ctx, m, target, overwrite, nil)
}

// checkRestore also collects the reads of the restore into plan, when given.
func (r *Repository) checkRestore(ctx context.Context, m *snapshot.Manifest, target string, overwrite bool, plan *planBuilder) error {
	inc, err := ReadRestoreMarker(target)
	if err != nil {
		return err
	}

	if inc != nil && inc.Snapshot != string(m.ID) && !overwrite {
		return fmt.Errorf("%w: %s holds an interrupted restore of %s; finish that one by restoring snapshot %s into it again, or pass --overwrite to restore this snapshot over it", ErrIncompleteTarget, target, inc, inc.Snapshot)
	}

	// Check the whole tree before writing anything: unsafe names, and, when
	// restoring over existing files, symlinks in the target standing where the
	// snapshot has a directory (the restore would follow them out of the target).
	check := func(_ context.Context, rel string, e fs.Entry, _ *snapshot.DirEntry) error {
		if plan != nil {
			plan.entry(rel, e)
		}

		if !overwrite || !e.IsDir() {
			return nil
		}

		p := filepath.Join(target, filepath.FromSlash(rel))
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s in the target is a symlink where the snapshot has a directory; restoring through it could write outside the target: move it away first", ErrUnsafePath, p)
		}

		return nil
	}

	if plan != nil {
		plan.entry("", snapshotfs.EntryFromDirEntry(r.rep, m.RootEntry))
	}

	if err := walkTree(ctx, r.rep, m.RootEntry, check); err != nil {
		return fmt.Errorf("restore snapshot %s: %w: refusing to restore anything", m.ID, err)
	}

	return nil
}
