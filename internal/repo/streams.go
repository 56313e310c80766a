package repo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/fs/virtualfs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/policy"
	"github.com/kopia/kopia/snapshot/upload"
)

// Stream is one file of a streamed snapshot (a table dump, say). Open is
// called when the uploader reaches it, so a source produces data only as fast
// as it is stored and never holds more than a pipe's worth in memory.
type Stream struct {
	// Path is slash-separated below the snapshot root, e.g. "sakila/actor.sql".
	Path string
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// StreamSpec describes a streamed backup.
type StreamSpec struct {
	Source  string
	Kind    string
	Type    string
	Role    string
	Version string
	// Paths is recorded as where the data came from (e.g. "mysql://host/db").
	Paths []string
	Extra map[string]string
	// Base is the snapshot an incremental or differential builds on.
	Base string
	// At, when set, is when the data is from (an imported dump's own time),
	// so an old dump taken in today does not become the latest backup.
	At time.Time
	// Parallel is how many streams are open at once.
	Parallel int
	Progress Progress
	// Finish runs after every stream was stored and before the snapshot is
	// saved; the labels it returns are added. An error saves nothing.
	Finish func(ctx context.Context) (map[string]string, error)
}

// BackupStreams stores the streams as one snapshot. The snapshot is saved only
// if every stream was read to its end without error.
func (r *Repository) BackupStreams(ctx context.Context, spec StreamSpec, streams []Stream) (*Snapshot, error) {
	if spec.Role == "" {
		spec.Role = RoleBackup
	}

	root, err := streamTree(streams, r.now())
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Source, err)
	}

	snap := &Snapshot{
		Source: spec.Source, Kind: spec.Kind, Type: spec.Type, Role: spec.Role, Version: spec.Version,
		Layout: LayoutDir, Paths: spec.Paths, Extra: map[string]string{}, Time: r.now().UTC(), Base: spec.Base,
	}

	if !spec.At.IsZero() {
		snap.Time = spec.At.UTC()
	}
	snap.Host, _ = os.Hostname()

	for k, v := range spec.Extra {
		snap.Extra[k] = v
	}

	pol := uploadPolicy(TreeSpec{})
	if spec.Parallel > 0 {
		// kopia's pool also spends a worker on each directory level it is
		// walking; streams sit one level down, so one more keeps Parallel
		// streams busy at once.
		n := policy.OptionalInt(spec.Parallel + 1)
		pol.UploadPolicy.MaxParallelFileReads = &n
	}

	tree := policy.BuildTree(map[string]*policy.Policy{".": pol}, policy.DefaultPolicy)

	err = repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat backup " + spec.Source}, func(ctx context.Context, w repo.RepositoryWriter) error {
		u := upload.NewUploader(w)
		// A half-read stream cannot be resumed, so checkpoints would only
		// keep data nobody can reuse.
		u.CheckpointInterval = 0
		u.FailFast = true

		if spec.Progress != nil {
			u.Progress = &uploadProgress{p: spec.Progress}
		}

		man, err := u.Upload(ctx, root, tree, sourceInfo(spec.Source))
		if err != nil {
			return fmt.Errorf("upload: %w", err)
		}

		if err := checkStreams(man); err != nil {
			return err
		}

		if err := ctx.Err(); err != nil {
			return err
		}

		if spec.Finish != nil {
			extra, err := spec.Finish(ctx)
			if err != nil {
				return err
			}

			for k, v := range extra {
				snap.Extra[k] = v
			}
		}

		snap.Digest, snap.Files, snap.Bytes, err = treeDigest(ctx, w, man.RootEntry)
		if err != nil {
			return fmt.Errorf("digest: %w", err)
		}

		snap.End = r.now().UTC()
		snap.ReadFiles = snap.Files
		man.Tags = snap.labels()

		if !spec.At.IsZero() {
			man.StartTime = fs.UTCTimestampFromTime(snap.Time)
		}

		id, err := snapshot.SaveSnapshot(ctx, w, man)
		if err != nil {
			return fmt.Errorf("save snapshot: %w", err)
		}

		snap.ID = string(id)

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Source, err)
	}

	return snap, nil
}

// StreamError is a stream that failed while being stored.
type StreamError struct {
	Entries []string
}

func (e *StreamError) Error() string {
	return "nothing was saved: " + strings.Join(e.Entries, "; ")
}

func checkStreams(man *snapshot.Manifest) error {
	sum := man.RootEntry.DirSummary
	if sum != nil && sum.FatalErrorCount > 0 {
		se := &StreamError{}
		for _, fe := range sum.FailedEntries {
			se.Entries = append(se.Entries, fmt.Sprintf("%s: %s", fe.EntryPath, fe.Error))
		}

		if len(se.Entries) == 0 {
			se.Entries = []string{fmt.Sprintf("%d streams failed", sum.FatalErrorCount)}
		}

		return se
	}

	if man.IncompleteReason != "" {
		return fmt.Errorf("upload incomplete (%s)", man.IncompleteReason)
	}

	return nil
}

// streamTree arranges streams into static directories by their paths.
func streamTree(streams []Stream, now time.Time) (fs.Directory, error) {
	type node struct {
		dirs  map[string]*node
		files []fs.Entry
	}

	root := &node{dirs: map[string]*node{}}

	for _, s := range streams {
		parts := strings.Split(path.Clean(s.Path), "/")
		for _, p := range parts {
			if err := safeName(p); err != nil {
				return nil, fmt.Errorf("stream path %q: %w", s.Path, err)
			}
		}

		n := root
		for _, p := range parts[:len(parts)-1] {
			if n.dirs[p] == nil {
				n.dirs[p] = &node{dirs: map[string]*node{}}
			}

			n = n.dirs[p]
		}

		n.files = append(n.files, &lazyStream{Entry: virtualfs.StreamingFileWithModTimeFromReader(parts[len(parts)-1], now, nil), open: s.Open})
	}

	var build func(name string, n *node) fs.Directory
	build = func(name string, n *node) fs.Directory {
		entries := append([]fs.Entry(nil), n.files...)

		names := make([]string, 0, len(n.dirs))
		for k := range n.dirs {
			names = append(names, k)
		}

		sort.Strings(names)

		for _, k := range names {
			entries = append(entries, build(k, n.dirs[k]))
		}

		return virtualfs.NewStaticDirectory(name, entries)
	}

	return build("/", root), nil
}

// lazyStream opens its reader only when the uploader asks for it.
type lazyStream struct {
	fs.Entry
	open func(ctx context.Context) (io.ReadCloser, error)
}

func (l *lazyStream) GetReader(ctx context.Context) (io.ReadCloser, error) { return l.open(ctx) }

// OpenFile returns a reader over one file of a snapshot.
func (r *Repository) OpenFile(ctx context.Context, id, rel string) (io.ReadCloser, error) {
	pr, pw := io.Pipe()

	go func() {
		pw.CloseWithError(r.ReadFile(ctx, id, rel, pw))
	}()

	return pr, nil
}
