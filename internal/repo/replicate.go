package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
)

// ReplicateStats says what a replication did.
type ReplicateStats struct {
	// Blobs and Bytes copied (and read back and compared) this run.
	Blobs int
	Bytes int64
	// Present is how many blobs the copy already had.
	Present int
	// Total is how many blobs the repository has.
	Total int
}

// Replicate copies to the storage every blob of this repository that the
// copy lacks, reading each back afterwards and comparing its SHA-256 with the
// original. The copy is the same repository, with the same key: it opens
// with the same password, holds every snapshot and binlog segment, and can
// restore everything on its own. Blobs are content-addressed and never
// change, so a run copies only what is new and an interrupted run resumes
// where it stopped; the few mutable kopia.* blobs are compared each time.
// Nothing is deleted from the copy: a deletion on the primary (a prune, or
// ransomware holding its credentials) never reaches it.
func (r *Repository) Replicate(ctx context.Context, to Storage, progress Progress) (*ReplicateStats, error) {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return nil, errors.New("replicate: not a direct repository")
	}

	if to.S3 == nil {
		if err := probeWritable(to.Path); err != nil {
			return nil, fmt.Errorf("copy %s: %w", to, err)
		}
	}

	if _, period := to.S3.retention(); period > 0 {
		if err := to.checkObjectLock(ctx); err != nil {
			return nil, fmt.Errorf("copy %s: %w", to, err)
		}
	}

	dst, err := to.blob(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", to, err)
	}
	defer dst.Close(ctx) //nolint:errcheck

	src := dr.BlobReader()

	todo, total, st, err := r.pending(ctx, src, dst, to)
	if err != nil {
		return nil, err
	}

	// From here Blobs and Bytes count what was copied, not what is to be.
	st.Blobs, st.Bytes = 0, 0

	if progress != nil {
		progress.SetTotal(total)
	}

	// The repository format blob goes last: until it is there, a half-made
	// copy does not look like a repository to anyone.
	for i, m := range todo {
		if m.BlobID == "kopia.repository" && i != len(todo)-1 {
			todo = append(append(todo[:i:i], todo[i+1:]...), m)
			break
		}
	}

	for _, m := range todo {
		if err := ctx.Err(); err != nil {
			return st, err
		}

		copied, err := copyBlob(ctx, src, dst, m.BlobID, to.S3.putOptions())
		if err != nil {
			return st, fmt.Errorf("copy blob %s to %s: %w", m.BlobID, to, to.explain(err))
		}

		if copied {
			st.Blobs++
			st.Bytes += m.Length
		} else {
			st.Present++
		}

		if progress != nil {
			progress.Add(m.Length)
		}
	}

	return st, nil
}

// ReplicatePlan says what Replicate would copy to the storage (Blobs and
// Bytes) and what the copy already holds (Present), and writes nothing: a
// copy folder that does not exist yet is not created, and counts as empty.
func (r *Repository) ReplicatePlan(ctx context.Context, to Storage) (*ReplicateStats, error) {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return nil, errors.New("replicate: not a direct repository")
	}

	var dst blob.Storage

	if to.S3 != nil || dirExists(to.Path) {
		var err error
		if dst, err = to.blob(ctx, false); err != nil {
			return nil, fmt.Errorf("copy %s: %w", to, err)
		}
		defer dst.Close(ctx) //nolint:errcheck
	}

	_, _, st, err := r.pending(ctx, dr.BlobReader(), dst, to)
	if err != nil {
		return nil, err
	}

	return st, nil
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)

	return err == nil && fi.IsDir()
}

// pending lists the repository's blobs the copy dst (nil: an empty one)
// lacks, or holds at another length, or may hold an older version of; st
// counts them (Blobs, Bytes) and those already there (Present).
func (r *Repository) pending(ctx context.Context, src blob.Reader, dst blob.Storage, to Storage) ([]blob.Metadata, int64, *ReplicateStats, error) {
	srcBlobs, err := blob.ListAllBlobs(ctx, src, "")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("list the repository's blobs: %w", r.where.explain(err))
	}

	have := map[blob.ID]int64{}

	if dst != nil {
		err = dst.ListBlobs(ctx, "", func(m blob.Metadata) error {
			have[m.BlobID] = m.Length
			return nil
		})
		if err != nil {
			return nil, 0, nil, fmt.Errorf("list the blobs of copy %s: %w", to, to.explain(err))
		}
	}

	st := &ReplicateStats{Total: len(srcBlobs)}

	var todo []blob.Metadata

	var total int64

	for _, m := range srcBlobs {
		n, ok := have[m.BlobID]
		if ok && n == m.Length && !mutable(m.BlobID) {
			st.Present++
			continue
		}

		todo = append(todo, m)
		total += m.Length
	}

	// The plan's counts; Replicate counts again what it actually copies.
	plan := *st
	plan.Blobs, plan.Bytes = len(todo), total

	return todo, total, &plan, nil
}

// mutable blobs are rewritten in place by kopia (its format, maintenance
// schedule and the like), so a copy compares their content every time.
func mutable(id blob.ID) bool { return strings.HasPrefix(string(id), "kopia.") }

// buffer is a blob in memory, as kopia's reader and writer interfaces want
// it. Blobs are packs of at most a few tens of MiB.
type buffer struct{ bytes.Buffer }

func (b *buffer) Reader() io.ReadSeekCloser { return readSeekNopCloser{bytes.NewReader(b.Bytes())} }

func (b *buffer) Length() int { return b.Len() }

func (b *buffer) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }

// copyBlob copies one blob and reads it back; it reports false when the copy
// already held the same bytes.
func copyBlob(ctx context.Context, src blob.Reader, dst blob.Storage, id blob.ID, put blob.PutOptions) (bool, error) {
	var data buffer

	if err := src.GetBlob(ctx, id, 0, -1, &data); err != nil {
		return false, fmt.Errorf("read: %w", err)
	}

	want := sha256.Sum256(data.Bytes())

	if mutable(id) {
		var cur buffer
		if err := dst.GetBlob(ctx, id, 0, -1, &cur); err == nil && sha256.Sum256(cur.Bytes()) == want {
			return false, nil
		}
	}

	if err := dst.PutBlob(ctx, id, &data, put); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}

	var back buffer
	if err := dst.GetBlob(ctx, id, 0, -1, &back); err != nil {
		return false, fmt.Errorf("read back: %w", err)
	}

	if got := sha256.Sum256(back.Bytes()); got != want {
		return false, fmt.Errorf("read back: the copy's bytes differ from the original's (sha256 %x, want %x)", got[:8], want[:8])
	}

	return true, nil
}

// Heal repairs this repository from a copy: a data blob whose bytes differ
// from the copy's, or that is gone while the copy has it, is written back
// from the copy. Data blobs are never rewritten once stored, and the copy's
// were read back and compared when they were copied, so a difference is
// damage here. Indexes and kopia's own blobs are left alone: they legitimately
// change and go. It returns the blobs it repaired.
func (r *Repository) Heal(ctx context.Context, from Storage) ([]string, error) {
	src, err := from.blob(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", from, err)
	}
	defer src.Close(ctx) //nolint:errcheck

	dst, err := r.where.blob(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", r.where, err)
	}
	defer dst.Close(ctx) //nolint:errcheck

	here := map[blob.ID]bool{}
	if err := dst.ListBlobs(ctx, "", func(m blob.Metadata) error { here[m.BlobID] = true; return nil }); err != nil {
		return nil, r.where.explain(err)
	}

	var healed []string

	for _, prefix := range []blob.ID{"p", "q"} {
		var ids []blob.ID

		if err := src.ListBlobs(ctx, prefix, func(m blob.Metadata) error { ids = append(ids, m.BlobID); return nil }); err != nil {
			return healed, from.explain(err)
		}

		for _, id := range ids {
			var good buffer
			if err := src.GetBlob(ctx, id, 0, -1, &good); err != nil {
				return healed, fmt.Errorf("read blob %s from the copy: %w", id, err)
			}

			if here[id] {
				var cur buffer
				if err := dst.GetBlob(ctx, id, 0, -1, &cur); err == nil && sha256.Sum256(cur.Bytes()) == sha256.Sum256(good.Bytes()) {
					continue
				}
			}

			if err := dst.PutBlob(ctx, id, &good, blob.PutOptions{}); err != nil {
				return healed, fmt.Errorf("write blob %s back: %w", id, r.where.explain(err))
			}

			healed = append(healed, string(id))
		}
	}

	return healed, nil
}
