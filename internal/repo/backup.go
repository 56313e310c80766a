package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/fs/localfs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/policy"
	"github.com/kopia/kopia/snapshot/upload"
)

// Progress receives the size of the work once it is known and the bytes done as
// they happen. It may be called from several goroutines.
type Progress interface {
	SetTotal(bytes int64)
	Add(bytes int64)
}

// FileProgress is a Progress that counts files as well: a backup or restore
// of a tree tells it the number of files expected and each one done.
type FileProgress interface {
	SetTotalFiles(files int64)
	AddFiles(files int64)
}

// Phases is a Progress whose work has phases (a point-in-time recovery
// restores a full backup, then replays the binlog): Phase starts the next
// one, its counts from zero.
type Phases interface {
	Phase(name string)
}

// TreeSpec describes a backup of local paths.
type TreeSpec struct {
	Source  string
	Kind    string
	Type    string
	Role    string
	Version string
	// Roots are absolute paths. One directory gives LayoutDir; anything else
	// gives LayoutAbs, where the snapshot mirrors the absolute paths.
	Roots []string
	// RecordPaths, when set, is recorded instead of Roots (a source that
	// stages its data in a temporary folder records where it came from).
	RecordPaths []string
	// Include and Exclude are gitignore-style globs ("*.tmp", "cache/").
	Include          []string
	Exclude          []string
	IgnoreUnreadable bool
	// Base is the snapshot whose unchanged files are reused without reading
	// them (incremental, differential); nil reads and hashes everything.
	Base     *Snapshot
	Extra    map[string]string
	Progress Progress
	Log      *slog.Logger
	// CheckpointInterval bounds how much work a killed backup loses: at each
	// checkpoint what was uploaded is indexed, so the next run dedups against it.
	CheckpointInterval time.Duration
}

func (s TreeSpec) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}

	return s.Log
}

// UnreadableError lists the files a backup could not read.
type UnreadableError struct {
	Source  string
	Entries []string
	More    int
}

func (e *UnreadableError) Error() string {
	msg := fmt.Sprintf("source %s: cannot read %s", e.Source, strings.Join(e.Entries, "; "))
	if e.More > 0 {
		msg += fmt.Sprintf(" (and %d more)", e.More)
	}

	return msg + ": fix the permissions, exclude the files, or set `ignore_unreadable: true` on the source"
}

// configure sets the uploader's checkpoints and progress from the spec.
func (spec TreeSpec) configure(u *upload.Uploader) {
	if spec.CheckpointInterval > 0 {
		u.CheckpointInterval = min(spec.CheckpointInterval, upload.DefaultCheckpointInterval)
	}

	if spec.Progress != nil {
		u.Progress = &uploadProgress{p: spec.Progress}
	}
}

// baseManifests is the manifest of the spec's base snapshot, the uploader's
// previous one, or none.
func (r *Repository) baseManifests(ctx context.Context, spec TreeSpec) ([]*snapshot.Manifest, error) {
	if spec.Base == nil {
		return nil, nil
	}

	m, err := r.loadManifest(ctx, spec.Base.ID)
	if err != nil {
		return nil, fmt.Errorf("source %s: load base snapshot: %w", spec.Source, err)
	}

	return []*snapshot.Manifest{m}, nil
}

// BackupTree uploads the spec's paths as one snapshot. The snapshot is saved
// only when every file was read (or the source allows skipping unreadable
// ones); otherwise nothing is listed and the error names the files.
func (r *Repository) BackupTree(ctx context.Context, spec TreeSpec) (*Snapshot, error) {
	if spec.Role == "" {
		spec.Role = RoleBackup
	}

	root, layout, err := buildRoot(spec.Roots)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Source, err)
	}

	snap := &Snapshot{
		Source: spec.Source, Kind: spec.Kind, Type: spec.Type, Role: spec.Role,
		Version: spec.Version, Layout: layout, Paths: spec.Roots, Extra: spec.Extra,
		Time: r.now().UTC(),
	}
	snap.Host, _ = os.Hostname()

	if spec.RecordPaths != nil {
		snap.Paths = spec.RecordPaths
	}

	previous, err := r.baseManifests(ctx, spec)
	if err != nil {
		return nil, err
	}

	if spec.Base != nil {
		snap.Base = spec.Base.ID
	}

	pol := uploadPolicy(spec)
	tree := policy.BuildTree(map[string]*policy.Policy{".": pol}, policy.DefaultPolicy)
	si := sourceInfo(spec.Source)

	earlier, err := r.checkpoints(ctx, spec.Source)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Source, err)
	}

	release, err := r.guard(ctx) // a streamer's full backup, like its segments
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Source, err)
	}
	defer release()

	err = repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat backup " + spec.Source}, func(ctx context.Context, w repo.RepositoryWriter) error {
		cw := &checkpointWriter{RepositoryWriter: w}
		u := upload.NewUploader(cw)
		u.CheckpointLabels = map[string]string{labelMarker: "1", labelSource: spec.Source, labelRole: "checkpoint"}

		spec.configure(u)

		man, err := u.Upload(ctx, root, tree, si, previous...)
		if err != nil {
			return fmt.Errorf("upload: %w", err)
		}

		if err := checkUpload(spec, man); err != nil {
			return err
		}

		if err := ctx.Err(); err != nil {
			return err
		}

		snap.Digest, snap.Files, snap.Bytes, err = treeDigest(ctx, w, man.RootEntry)
		if err != nil {
			return fmt.Errorf("digest: %w", err)
		}

		snap.End = r.now().UTC()
		snap.ReadFiles = int64(man.Stats.NonCachedFiles)
		snap.ReusedFiles = int64(man.Stats.CachedFiles)

		if sum := man.RootEntry.DirSummary; sum != nil {
			snap.SkippedErrors = int64(sum.IgnoredErrorCount)

			for _, fe := range sum.FailedEntries {
				spec.log().Warn("skipped unreadable entry (ignore_unreadable is set)", "source", spec.Source, "path", fe.EntryPath, "err", fe.Error)
			}
		}
		man.Tags = snap.labels()

		id, err := snapshot.SaveSnapshot(ctx, w, man)
		if err != nil {
			return fmt.Errorf("save snapshot: %w", err)
		}

		snap.ID = string(id)

		return dropCheckpoints(ctx, w, append(earlier, cw.saved()...))
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Source, err)
	}

	return snap, nil
}

func checkUpload(spec TreeSpec, man *snapshot.Manifest) error {
	if man.IncompleteReason != "" {
		return fmt.Errorf("upload incomplete (%s)", man.IncompleteReason)
	}

	sum := man.RootEntry.DirSummary
	if sum == nil || sum.FatalErrorCount == 0 {
		return nil
	}

	ue := &UnreadableError{Source: spec.Source, More: sum.FatalErrorCount - len(sum.FailedEntries)}
	for _, fe := range sum.FailedEntries {
		ue.Entries = append(ue.Entries, fmt.Sprintf("%s (%s)", fe.EntryPath, fe.Error))
	}

	return ue
}

// checkpoints lists the checkpoints earlier killed runs of source left, as
// the opened repository sees them. A write session has a manifest view of
// its own, which reads every manifest in the repository again (at a year of
// binlog archive, tens of milliseconds): looking here, before the session,
// reuses what the repository has already read. The session still reads them
// when there is a checkpoint to delete (kopia's delete looks the entry up),
// which only a run killed earlier or one long enough to checkpoint leaves.
func (r *Repository) checkpoints(ctx context.Context, source string) ([]manifest.ID, error) {
	ids, err := snapshot.ListSnapshotManifests(ctx, r.rep, nil, map[string]string{"type": "snapshot", labelSource: source, labelRole: "checkpoint"})
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}

	return ids, nil
}

// dropCheckpoints deletes the checkpoints of earlier killed runs and of this
// one, now that a complete snapshot of the source exists.
func dropCheckpoints(ctx context.Context, w repo.RepositoryWriter, ids []manifest.ID) error {
	for _, id := range ids {
		if err := w.DeleteManifest(ctx, id); err != nil {
			return fmt.Errorf("delete checkpoint %s: %w", id, err)
		}
	}

	return nil
}

// checkpointWriter is the write session an upload writes through; it notes
// the checkpoints the uploader saves, so they can be deleted once the
// snapshot is saved without listing the session's manifests.
type checkpointWriter struct {
	repo.RepositoryWriter

	mu  sync.Mutex
	ids []manifest.ID
}

func (c *checkpointWriter) PutManifest(ctx context.Context, labels map[string]string, payload any) (manifest.ID, error) {
	id, err := c.RepositoryWriter.PutManifest(ctx, labels, payload)
	if err == nil && labels[labelRole] == "checkpoint" {
		c.mu.Lock()
		c.ids = append(c.ids, id)
		c.mu.Unlock()
	}

	return id, err //nolint:wrapcheck // the uploader wraps it
}

func (c *checkpointWriter) saved() []manifest.ID {
	c.mu.Lock()
	defer c.mu.Unlock()

	return slices.Clone(c.ids)
}

func uploadPolicy(spec TreeSpec) *policy.Policy {
	p := *policy.DefaultPolicy

	var rules []string
	if len(spec.Include) > 0 {
		// Ignore everything, keep descending into directories, then let the
		// include globs back in; excludes come last so they win.
		rules = append(rules, "*", "!*/")
		for _, g := range spec.Include {
			rules = append(rules, "!"+g)
		}
	}

	rules = append(rules, spec.Exclude...)

	f := false
	ignore := spec.IgnoreUnreadable
	p.FilesPolicy = policy.FilesPolicy{
		IgnoreRules:            rules,
		IgnoreCacheDirectories: (*policy.OptionalBool)(&f),
	}
	p.ErrorHandlingPolicy = policy.ErrorHandlingPolicy{
		IgnoreFileErrors:      (*policy.OptionalBool)(&ignore),
		IgnoreDirectoryErrors: (*policy.OptionalBool)(&ignore),
		IgnoreUnknownTypes:    (*policy.OptionalBool)(&ignore),
	}
	p.CompressionPolicy = policy.CompressionPolicy{CompressorName: compressorName}
	p.MetadataCompressionPolicy = policy.MetadataCompressionPolicy{CompressorName: compressorName}

	return &p
}

// buildRoot turns the source paths into the snapshot root.
func buildRoot(roots []string) (fs.Entry, string, error) {
	if len(roots) == 0 {
		return nil, "", errors.New("no paths to back up")
	}

	for _, p := range roots {
		if !filepath.IsAbs(p) {
			return nil, "", fmt.Errorf("path %s is not absolute", p)
		}

		if _, err := os.Lstat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, "", fmt.Errorf("path %s does not exist: check the source's paths in the configuration (is the volume mounted?)", p)
			}

			return nil, "", fmt.Errorf("path %s: %w", p, err)
		}
	}

	if len(roots) == 1 {
		if fi, err := os.Stat(roots[0]); err == nil && fi.IsDir() {
			d, err := localfs.Directory(roots[0])
			if err != nil {
				return nil, "", fmt.Errorf("open %s: %w", roots[0], err)
			}

			return d, LayoutDir, nil
		}
	}

	root, err := absTree("/", roots)
	if err != nil {
		return nil, "", err
	}

	return root, LayoutAbs, nil
}

// absTree builds a directory at dir holding only the given paths below it. Its
// intermediate directories carry their real owner, mode and times.
func absTree(dir string, paths []string) (*partialDir, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", dir, err)
	}

	d := &partialDir{path: dir, fi: fi}
	children := map[string][]string{}

	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return nil, fmt.Errorf("path %s overlaps another path of the source", p)
		}

		first := strings.Split(rel, string(filepath.Separator))[0]
		children[first] = append(children[first], p)
	}

	names := make([]string, 0, len(children))
	for n := range children {
		names = append(names, n)
	}

	sort.Strings(names)

	for _, n := range names {
		full := filepath.Join(dir, n)

		if containsExact(children[n], full) {
			if len(children[n]) > 1 {
				return nil, fmt.Errorf("path %s is inside path %s of the same source; list only %s", otherThan(children[n], full), full, full)
			}

			d.leaves = append(d.leaves, full)

			continue
		}

		sub, err := absTree(full, children[n])
		if err != nil {
			return nil, err
		}

		d.subdirs = append(d.subdirs, sub)
	}

	return d, nil
}

func containsExact(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}

	return false
}

func otherThan(list []string, s string) string {
	for _, x := range list {
		if x != s {
			return x
		}
	}

	return s
}

// partialDir is a real directory's metadata with only some of its children.
// kopia recycles local entries when they are closed, so children are created
// afresh on every call and never shared between the uploader and its estimator.
type partialDir struct {
	path    string
	fi      os.FileInfo
	leaves  []string
	subdirs []*partialDir
}

func (d *partialDir) Name() string {
	if d.path == "/" {
		return "/"
	}

	return filepath.Base(d.path)
}

func (d *partialDir) Size() int64                 { return d.fi.Size() }
func (d *partialDir) Mode() os.FileMode           { return d.fi.Mode() }
func (d *partialDir) ModTime() time.Time          { return d.fi.ModTime() }
func (d *partialDir) IsDir() bool                 { return true }
func (d *partialDir) Sys() any                    { return d.fi.Sys() }
func (d *partialDir) LocalFilesystemPath() string { return d.path }
func (d *partialDir) Close()                      {}

func (d *partialDir) Owner() fs.OwnerInfo {
	if st, ok := d.fi.Sys().(*syscall.Stat_t); ok {
		return fs.OwnerInfo{UserID: st.Uid, GroupID: st.Gid}
	}

	return fs.OwnerInfo{}
}

func (d *partialDir) Device() fs.DeviceInfo {
	if st, ok := d.fi.Sys().(*syscall.Stat_t); ok {
		return fs.DeviceInfo{Dev: uint64(st.Dev), Rdev: uint64(st.Rdev)} //nolint:unconvert
	}

	return fs.DeviceInfo{}
}

func (d *partialDir) entries() ([]fs.Entry, error) {
	out := make([]fs.Entry, 0, len(d.leaves)+len(d.subdirs))

	for _, p := range d.leaves {
		e, err := localfs.NewEntry(p)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}

		out = append(out, e)
	}

	for _, s := range d.subdirs {
		out = append(out, s)
	}

	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })

	return out, nil
}

func (d *partialDir) Child(_ context.Context, name string) (fs.Entry, error) {
	ents, err := d.entries()
	if err != nil {
		return nil, err
	}

	for _, e := range ents {
		if e.Name() == name {
			return e, nil
		}
	}

	return nil, fs.ErrEntryNotFound
}

func (d *partialDir) Iterate(context.Context) (fs.DirectoryIterator, error) {
	ents, err := d.entries()

	return fs.StaticIterator(ents, err), err
}

func (d *partialDir) SupportsMultipleIterations() bool { return true }

// uploadProgress adapts kopia's upload events to a Progress.
type uploadProgress struct {
	upload.NullUploadProgress
	p Progress
}

func (u *uploadProgress) Enabled() bool                { return true }
func (u *uploadProgress) HashedBytes(n int64)          { u.p.Add(n) }
func (u *uploadProgress) CachedFile(_ string, n int64) { u.p.Add(n) }

func (u *uploadProgress) EstimatedDataSize(files, total int64) {
	if fp, ok := u.p.(FileProgress); ok {
		fp.SetTotalFiles(files)
	}

	u.p.SetTotal(total)
}

// FinishedFile counts every file, hashed or unchanged since the last
// snapshot (kopia reports both).
func (u *uploadProgress) FinishedFile(string, error) {
	if fp, ok := u.p.(FileProgress); ok {
		fp.AddFiles(1)
	}
}
func (u *uploadProgress) EstimationParameters() upload.EstimationParameters {
	return upload.EstimationParameters{Type: upload.EstimationTypeClassic}
}
