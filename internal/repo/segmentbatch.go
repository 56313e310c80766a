package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
)

// SegmentPut is one segment for PutSegments.
type SegmentPut struct {
	Labels map[string]string
	Data   []byte
	// Stored is recorded as when the segment became durable; zero means now.
	// A history written after the fact keeps the times it had.
	Stored time.Time
}

// PutSegments stores several segments of source in one write session, so a
// long history costs one kopia session (a pack, an index blob, a manifest
// content) instead of one per segment. They are listed exactly as
// PutSegment's; on an error none of them is.
func (r *Repository) PutSegments(ctx context.Context, source string, puts []SegmentPut) ([]*Segment, error) {
	release, err := r.guard(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	out := make([]*Segment, 0, len(puts))

	err = repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat segments " + source}, func(ctx context.Context, w repo.RepositoryWriter) error {
		for _, p := range puts {
			seg, err := r.saveSegment(ctx, w, source, p)
			if err != nil {
				return err
			}

			out = append(out, seg)
		}

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source, err)
	}

	return out, nil
}

// saveSegment writes one segment inside a write session, with the same
// manifest and tags as PutSegment.
func (r *Repository) saveSegment(ctx context.Context, w repo.RepositoryWriter, source string, p SegmentPut) (*Segment, error) {
	ow := w.NewObjectWriter(ctx, object.WriterOptions{Description: "segment " + source, Compressor: compressorName})
	defer ow.Close()

	if _, err := ow.Write(p.Data); err != nil {
		return nil, fmt.Errorf("write segment: %w", err)
	}

	oid, err := ow.Result()
	if err != nil {
		return nil, fmt.Errorf("write segment: %w", err)
	}

	at := p.Stored
	if at.IsZero() {
		at = r.now()
	}

	at = at.UTC()
	sum := sha256.Sum256(p.Data)
	seg := &Segment{Source: source, Labels: p.Labels, Bytes: int64(len(p.Data)), SHA256: hex.EncodeToString(sum[:]), Stored: at}

	tags := map[string]string{
		labelSegment: "1",
		labelSource:  source,
		labelBytes:   strconv.FormatInt(seg.Bytes, 10),
		labelSHA256:  seg.SHA256,
		labelStored:  at.Format(time.RFC3339Nano),
	}
	for k, v := range p.Labels {
		tags[labelPrefix+k] = v
	}

	man := &snapshot.Manifest{
		Source:      segmentSource(source),
		Description: "lifeboat segment",
		StartTime:   fs.UTCTimestampFromTime(at),
		EndTime:     fs.UTCTimestampFromTime(at),
		RootEntry: &snapshot.DirEntry{
			Name: "segment", Type: snapshot.EntryTypeFile, Permissions: 0o600,
			FileSize: seg.Bytes, ModTime: fs.UTCTimestampFromTime(at), ObjectID: oid,
		},
	}

	id, err := saveSegmentManifest(ctx, w, man, tags)
	if err != nil {
		return nil, fmt.Errorf("save segment: %w", err)
	}

	seg.ID = string(id)

	return seg, nil
}
