package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	kfs "github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/snapshot"
)

// Comparison is what CompareTree found.
type Comparison struct {
	Files    int64
	Bytes    int64
	Problems []string
}

// CompareTree checks a restored folder against the snapshot it came from:
// every file the snapshot holds must be there with the same size, type and
// SHA-256 (the snapshot's content is read again from the repository for the
// hash), and nothing else may be there. It proves a restore gave back exactly
// what was recorded, independently of the restore that wrote it.
func (r *Repository) CompareTree(ctx context.Context, id, dir string) (*Comparison, error) {
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return nil, err
	}

	c := &Comparison{}
	want := map[string]bool{".": true}

	err = walkTree(ctx, r.rep, m.RootEntry, func(ctx context.Context, rel string, e kfs.Entry, de *snapshot.DirEntry) error {
		if rel == "" || rel == "." {
			return nil
		}

		want[filepath.Clean(rel)] = true
		path := filepath.Join(dir, rel)

		fi, err := os.Lstat(path)
		if err != nil {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: missing from the restored copy", rel))
			return nil
		}

		f, isFile := e.(kfs.File)
		if !isFile {
			if _, isDir := e.(kfs.Directory); isDir && !fi.IsDir() {
				c.Problems = append(c.Problems, fmt.Sprintf("%s: a directory in the snapshot, not in the restored copy", rel))
			}

			return nil
		}

		if !fi.Mode().IsRegular() {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: a file in the snapshot, %s in the restored copy", rel, fi.Mode().Type()))
			return nil
		}

		c.Files++

		if de != nil && fi.Size() != de.FileSize {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: %d bytes restored, %d recorded", rel, fi.Size(), de.FileSize))
			return nil
		}

		stored, err := hashEntry(ctx, f)
		if err != nil {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: read from the repository: %v", rel, err))
			return nil
		}

		got, n, err := hashFile(path)
		if err != nil {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: read the restored copy: %v", rel, err))
			return nil
		}

		c.Bytes += n

		if got != stored {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: restored content differs from the snapshot (sha256 %x, recorded %x)", rel, got[:8], stored[:8]))
		}

		return nil
	})
	if err != nil {
		return c, fmt.Errorf("walk snapshot %s: %w", id, err)
	}

	// Anything else in the folder was not in the snapshot.
	var extra []string

	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}

		rel, _ := filepath.Rel(dir, p)
		if !want[rel] {
			extra = append(extra, rel)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}

		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("walk %s: %w", dir, err)
	}

	sort.Strings(extra)

	for _, e := range extra {
		c.Problems = append(c.Problems, fmt.Sprintf("%s: in the restored copy but not in the snapshot", e))
	}

	return c, nil
}

func hashEntry(ctx context.Context, f kfs.File) ([32]byte, error) {
	var sum [32]byte

	rd, err := f.Open(ctx)
	if err != nil {
		return sum, err
	}
	defer rd.Close()

	h := sha256.New()
	if _, err := io.Copy(h, rd); err != nil {
		return sum, err
	}

	copy(sum[:], h.Sum(nil))

	return sum, nil
}

func hashFile(path string) ([32]byte, int64, error) {
	var sum [32]byte

	f, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()

	h := sha256.New()

	n, err := io.Copy(h, f)
	if err != nil {
		return sum, n, err
	}

	copy(sum[:], h.Sum(nil))

	return sum, n, nil
}

// RemoveExtra deletes what lies below roots (folders inside dir) but is not
// in snapshot id, so a folder restored over existing data ends up exactly as
// the snapshot was. It stays on the roots' filesystems. The caller must not
// use it for a source that leaves things out on purpose (include, exclude):
// those are not in the snapshot either. It returns what it removed,
// relative to dir.
func (r *Repository) RemoveExtra(ctx context.Context, id, dir string, roots []string) ([]string, error) {
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return nil, err
	}

	want := map[string]bool{".": true}

	err = walkTree(ctx, r.rep, m.RootEntry, func(_ context.Context, rel string, _ kfs.Entry, _ *snapshot.DirEntry) error {
		for p := filepath.Clean(rel); p != "." && p != "/" && !want[p]; p = filepath.Dir(p) {
			want[p] = true
		}

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk snapshot %s: %w", id, err)
	}

	var removed []string

	for _, root := range roots {
		rootInfo, err := os.Lstat(root)
		if err != nil {
			continue
		}

		rootDev, devKnown := device(rootInfo)

		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}

				return err
			}

			// Another filesystem mounted below (a volume, another source's
			// disk) is not the snapshot's to clear.
			if d.IsDir() && devKnown {
				if fi, err := d.Info(); err == nil {
					if dev, ok := device(fi); ok && dev != rootDev {
						return filepath.SkipDir
					}
				}
			}

			rel, err := filepath.Rel(dir, p)
			if err != nil || rel == "." || want[rel] {
				return err
			}

			if err := os.RemoveAll(p); err != nil {
				return err
			}

			removed = append(removed, rel)

			if d.IsDir() {
				return filepath.SkipDir
			}

			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("remove what snapshot %s does not hold from %s: %w", id, root, err)
		}
	}

	return removed, nil
}
