package repo

import (
	"context"
	"fmt"
	"io"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/manifest"
)

// OpenSegmentRange reads n bytes of a segment's data from offset on, seeking
// rather than reading what comes before. Unlike OpenSegment it cannot check
// the whole segment's checksum, so it is for reading a small part of a large
// segment (kopia still authenticates every block it reads).
func (r *Repository) OpenSegmentRange(ctx context.Context, seg *Segment, offset, n int64) (io.ReadCloser, error) {
	rd, err := r.segmentObject(ctx, seg)
	if err != nil {
		return nil, err
	}

	if _, err := rd.Seek(offset, io.SeekStart); err != nil {
		rd.Close()
		return nil, fmt.Errorf("read segment %s: %w", seg.ID, err)
	}

	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rd, n), rd}, nil
}

// DeleteSegments forgets several segments in one write session: all of them
// or, if it fails, none.
func (r *Repository) DeleteSegments(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}

	return repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat delete segments"}, func(ctx context.Context, w repo.RepositoryWriter) error {
		for _, id := range ids {
			if err := w.DeleteManifest(ctx, manifest.ID(id)); err != nil {
				return fmt.Errorf("delete segment %s: %w", id, err)
			}
		}

		return nil
	})
}

// LockCompaction takes the lock that lets one process at a time compact the
// binlog archive of source (with a shared hold on the repository). It is
// apart from the source's backup lock, so compaction and backups of the same
// source never wait for each other.
func (r *Repository) LockCompaction(source, what string) (*Locks, error) {
	l := &Locks{}

	if err := l.take(r.lockDir(), "repository", false, what, "the repository"); err != nil {
		return nil, err
	}

	if err := l.take(r.lockDir(), "compact-"+source, true, what, "the binlog compaction of source "+source); err != nil {
		l.Release()
		return nil, err
	}

	return l, nil
}
