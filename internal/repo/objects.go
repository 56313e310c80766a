package repo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/snapshotfs"
)

// Object is one content-addressed file of an object snapshot (a container
// image's blob, named by its digest). Either Ref names data already in the
// repository (from StoredObjects), which is linked without being read, or
// Open gives the bytes to store.
type Object struct {
	Name string
	Size int64
	Ref  string
	// Open returns the data; its reader fails (and nothing is saved) when
	// the bytes are not what Name promises.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Compress is false for data already compressed (gzip or zstd layers).
	Compress bool
}

// StoredObject is an object already held by a snapshot.
type StoredObject struct {
	Ref  string
	Size int64
}

// BackupObjects saves one snapshot whose folder dir holds objs, one file
// each, and whose root holds files (small metadata such as an index). Objects
// with a Ref cost no reading and no storage; the others are written once
// each. Nothing is saved unless every object was read to its end.
func (r *Repository) BackupObjects(ctx context.Context, spec StreamSpec, dir string, objs []Object, files map[string][]byte) (*Snapshot, error) {
	if spec.Role == "" {
		spec.Role = RoleBackup
	}

	if err := safeName(dir); err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Source, err)
	}

	snap := &Snapshot{
		Source: spec.Source, Kind: spec.Kind, Type: spec.Type, Role: spec.Role, Version: spec.Version,
		Layout: LayoutDir, Paths: spec.Paths, Extra: map[string]string{}, Time: r.now().UTC(), Base: spec.Base,
	}
	snap.Host, _ = os.Hostname()

	for k, v := range spec.Extra {
		snap.Extra[k] = v
	}

	err := repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat backup " + spec.Source}, func(ctx context.Context, w repo.RepositoryWriter) error {
		now := fs.UTCTimestampFromTime(r.now())

		var inner snapshotfs.DirManifestBuilder

		for _, o := range objs {
			de, read, err := r.putObject(ctx, w, o, now, spec.Progress)
			if err != nil {
				return err
			}

			snap.ReadFiles += read
			inner.AddEntry(de)
		}

		innerDE, err := writeDir(ctx, w, dir, &inner, now)
		if err != nil {
			return err
		}

		var root snapshotfs.DirManifestBuilder

		root.AddEntry(innerDE)

		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}

		sort.Strings(names)

		for _, n := range names {
			de, _, err := r.putObject(ctx, w, Object{Name: n, Size: int64(len(files[n])), Compress: true, Open: func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(files[n])), nil
			}}, now, nil)
			if err != nil {
				return err
			}

			root.AddEntry(de)
		}

		snap.ReadFiles += int64(len(names))

		rootDE, err := writeDir(ctx, w, "", &root, now)
		if err != nil {
			return err
		}

		man := &snapshot.Manifest{
			Source: sourceInfo(spec.Source), Description: "lifeboat " + spec.Kind,
			StartTime: now, EndTime: fs.UTCTimestampFromTime(r.now()), RootEntry: rootDE,
		}

		if snap.Digest, snap.Files, snap.Bytes, err = treeDigest(ctx, w, rootDE); err != nil {
			return fmt.Errorf("digest: %w", err)
		}

		snap.End = r.now().UTC()
		man.Tags = snap.labels()

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

	snap.ReusedFiles = snap.Files - snap.ReadFiles

	return snap, nil
}

// putObject links o when it names stored data, else writes it; read is 1
// when it was written.
func (r *Repository) putObject(ctx context.Context, w repo.RepositoryWriter, o Object, now fs.UTCTimestamp, p Progress) (*snapshot.DirEntry, int64, error) {
	if err := safeName(o.Name); err != nil {
		return nil, 0, err
	}

	de := &snapshot.DirEntry{Name: o.Name, Type: snapshot.EntryTypeFile, Permissions: 0o644, FileSize: o.Size, ModTime: now}

	if o.Ref != "" {
		oid, err := object.ParseID(o.Ref)
		if err != nil {
			return nil, 0, fmt.Errorf("object %s: %w", o.Name, err)
		}

		de.ObjectID = oid

		return de, 0, nil
	}

	rd, err := o.Open(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer rd.Close()

	opts := object.WriterOptions{Description: "object " + o.Name}
	if o.Compress {
		opts.Compressor = compressorName
	}

	ow := w.NewObjectWriter(ctx, opts)
	defer ow.Close()

	var dst io.Writer = ow
	if p != nil {
		dst = io.MultiWriter(ow, progressWriter{p})
	}

	n, err := io.Copy(dst, rd)
	if err != nil {
		return nil, 0, err
	}

	if err := rd.Close(); err != nil {
		return nil, 0, err
	}

	oid, err := ow.Result()
	if err != nil {
		return nil, 0, fmt.Errorf("write %s: %w", o.Name, err)
	}

	de.ObjectID, de.FileSize = oid, n

	return de, 1, nil
}

func writeDir(ctx context.Context, w repo.RepositoryWriter, name string, b *snapshotfs.DirManifestBuilder, now fs.UTCTimestamp) (*snapshot.DirEntry, error) {
	dm := b.Build(now, "")

	oid, err := snapshotfs.WriteDirManifest(ctx, w, name, dm, compressorName)
	if err != nil {
		return nil, fmt.Errorf("write folder %s: %w", name, err)
	}

	de := &snapshot.DirEntry{Name: name, Type: snapshot.EntryTypeDirectory, Permissions: 0o755, ModTime: now, ObjectID: oid, DirSummary: dm.Summary}
	if name == "" {
		de.Name = "/"
	}

	return de, nil
}

// StoredObjects lists the files of folder dir in snapshot id with the data
// they point at, so a later BackupObjects can link them without reading.
func (r *Repository) StoredObjects(ctx context.Context, id, dir string) (map[string]StoredObject, error) {
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return nil, err
	}

	root, err := snapshotfs.SnapshotRoot(r.rep, m)
	if err != nil {
		return nil, fmt.Errorf("open snapshot %s: %w", id, err)
	}

	e, err := snapshotfs.GetNestedEntry(ctx, root, []string{dir})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %s: %w", id, dir, err)
	}

	d, ok := e.(fs.Directory)
	if !ok {
		return nil, fmt.Errorf("snapshot %s: %s is not a folder", id, dir)
	}

	out := map[string]StoredObject{}

	err = fs.IterateEntries(ctx, d, func(_ context.Context, e fs.Entry) error {
		if h, ok := e.(object.HasObjectID); ok {
			out[e.Name()] = StoredObject{Ref: h.ObjectID().String(), Size: e.Size()}
		}

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: list %s: %w", id, dir, err)
	}

	return out, nil
}

// OpenObject reads stored data back by the Ref StoredObjects gave.
func (r *Repository) OpenObject(ctx context.Context, ref string) (io.ReadCloser, error) {
	oid, err := object.ParseID(ref)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", ref, err)
	}

	rd, err := r.rep.OpenObject(ctx, oid)
	if err != nil {
		return nil, fmt.Errorf("open object %s: %w", ref, err)
	}

	return rd, nil
}
