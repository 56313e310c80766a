package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"path"
	"sort"
	"strings"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/snapshotfs"
)

// treeVisitor is called for every entry below the root, parents before children,
// with the entry's slash-separated path relative to the root.
type treeVisitor func(ctx context.Context, rel string, e fs.Entry, de *snapshot.DirEntry) error

// walkTree visits a stored tree in name order, refusing any entry whose name
// could make a restore write outside its target: the check runs on the whole
// tree before anything is written.
func walkTree(ctx context.Context, rep repo.Repository, root *snapshot.DirEntry, visit treeVisitor) error {
	e := snapshotfs.EntryFromDirEntry(rep, root)

	dir, ok := e.(fs.Directory)
	if !ok {
		return visit(ctx, root.Name, e, root)
	}

	return walkDir(ctx, "", dir, visit)
}

func walkDir(ctx context.Context, prefix string, dir fs.Directory, visit treeVisitor) error {
	// Stored order is not guaranteed; sort so digests are reproducible.
	entries, err := fs.GetAllEntries(ctx, dir)
	if err != nil {
		return fmt.Errorf("read directory %q: %w", "/"+prefix, err)
	}

	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })

	for i, e := range entries {
		name := e.Name()
		if err := safeName(name); err != nil {
			return fmt.Errorf("%w: entry %q in %q: %v", ErrUnsafePath, name, "/"+prefix, err)
		}

		if i > 0 && entries[i-1].Name() == name {
			return fmt.Errorf("%w: entry %q appears twice in %q", ErrUnsafePath, name, "/"+prefix)
		}

		rel := path.Join(prefix, name)

		var de *snapshot.DirEntry
		if h, ok := e.(snapshot.HasDirEntry); ok {
			de = h.DirEntry()
		}

		if err := visit(ctx, rel, e, de); err != nil {
			return err
		}

		if sub, ok := e.(fs.Directory); ok {
			if err := walkDir(ctx, rel, sub, visit); err != nil {
				return err
			}
		}
	}

	return nil
}

// safeName rejects names that are not a single path element.
func safeName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("name is a relative path element")
	case strings.ContainsAny(name, "/\\"):
		return fmt.Errorf("name contains a path separator")
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("name contains a NUL byte")
	}

	return nil
}

// digester computes the content digest of a tree: SHA-256 over every entry's
// path, type, size and content object ID, in walk order. Object IDs are keyed
// content hashes, so the digest changes when any byte or name changes, and it is
// computed from metadata alone (an incremental need not re-read anything).
type digester struct {
	h     hash.Hash
	files int64
	bytes int64
}

func newDigester() *digester { return &digester{h: sha256.New()} }

func (d *digester) add(rel string, de *snapshot.DirEntry) {
	if de == nil {
		return
	}

	fmt.Fprintf(d.h, "%s\x00%s\x00%d\x00%s\n", rel, de.Type, de.FileSize, de.ObjectID.String())

	if de.Type == snapshot.EntryTypeFile {
		d.files++
		d.bytes += de.FileSize
	}
}

func (d *digester) sum() string { return "sha256:" + hex.EncodeToString(d.h.Sum(nil)) }

// treeDigest walks a stored tree and returns its digest, file count and bytes.
func treeDigest(ctx context.Context, rep repo.Repository, root *snapshot.DirEntry) (string, int64, int64, error) {
	d := newDigester()

	err := walkTree(ctx, rep, root, func(_ context.Context, rel string, _ fs.Entry, de *snapshot.DirEntry) error {
		d.add(rel, de)
		return nil
	})
	if err != nil {
		return "", 0, 0, err
	}

	return d.sum(), d.files, d.bytes, nil
}
