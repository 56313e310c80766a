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
}

// Restore writes the tree of snapshot id below target, with owners, modes and
// times. The whole tree is checked for unsafe names before anything is written.
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

	if err := os.MkdirAll(target, 0o700); err != nil {
		return st, fmt.Errorf("restore snapshot %s: create target %s: %w", id, target, err)
	}

	out := &restore.FilesystemOutput{
		TargetPath:           target,
		OverwriteDirectories: true,
		OverwriteFiles:       opt.Overwrite,
		OverwriteSymlinks:    opt.Overwrite,
		// Over existing files, write each to a temporary name and rename, so a
		// crash never leaves a half-written file in place of a good one. Into
		// a new target that costs half the speed for no gain: rerun instead.
		WriteFilesAtomically: opt.Overwrite,
	}
	if err := out.Init(ctx); err != nil {
		return st, fmt.Errorf("restore snapshot %s: %w", id, err)
	}

	var done int64

	if opt.Progress != nil && m.RootEntry.DirSummary != nil {
		opt.Progress.SetTotal(m.RootEntry.DirSummary.TotalFileSize)
	}

	var output restore.Output = out
	if readPlan != nil {
		// A snapshot of a single file has no directory to list.
		readPlan.listed("")
		output = &listingOutput{out, readPlan}
	}

	ks, err := restore.Entry(ctx, r.rep, output, root, restore.Options{
		Parallel:               restoreParallel,
		RestoreDirEntryAtDepth: math.MaxInt32,
		ProgressCallback: func(_ context.Context, s restore.Stats) {
			if opt.Progress != nil {
				opt.Progress.Add(s.RestoredTotalFileSize - done)
				done = s.RestoredTotalFileSize
			}
		},
	})
	if err != nil {
		return st, fmt.Errorf("restore snapshot %s to %s: %w", id, target, err)
	}

	return RestoreStats{
		Files: int64(ks.RestoredFileCount), Dirs: int64(ks.RestoredDirCount),
		Symlinks: int64(ks.RestoredSymlinkCount), Bytes: ks.RestoredTotalFileSize,
	}, nil
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

// listingOutput tells the read plan which directory the restore lists next.
type listingOutput struct {
	*restore.FilesystemOutput
	plan *readPlan
}

func (o *listingOutput) BeginDirectory(ctx context.Context, rel string, d fs.Directory) error {
	o.plan.listed(rel)

	return o.FilesystemOutput.BeginDirectory(ctx, rel, d) //nolint:wrapcheck
}
