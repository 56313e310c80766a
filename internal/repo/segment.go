package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
)

// Segment is one stored piece of an append-only log, such as a database's
// binary log. Each is saved as a single-file kopia snapshot under its own
// source path, so kopia's garbage collection keeps its data exactly as long as
// the segment exists, and segments never show among a source's backups.
type Segment struct {
	ID     string
	Source string
	// Stored is when the segment became durable.
	Stored time.Time
	Bytes  int64
	SHA256 string
	// Labels are the caller's (positions, times, GTIDs).
	Labels map[string]string
}

const (
	labelSegment = "tag:lifeboat-segment"
	labelSHA256  = "tag:sha256"
	// labelStored repeats the manifest's start time, so listing segments
	// reads only labels (kopia keeps them in memory) and never decodes each
	// segment's manifest. Segments stored before it existed lack it.
	labelStored = "tag:stored"
)

func segmentSource(source string) snapshot.SourceInfo {
	return snapshot.SourceInfo{Host: "lifeboat", UserName: "lifeboat", Path: "/" + source + "/binlog"}
}

// PutSegment stores data as one segment of source and returns it once it is
// durable: an error stores nothing that will ever be listed.
func (r *Repository) PutSegment(ctx context.Context, source string, labels map[string]string, data io.Reader) (*Segment, error) {
	release, err := r.guard(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	seg := &Segment{Source: source, Labels: labels}

	err = repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat segment " + source}, func(ctx context.Context, w repo.RepositoryWriter) error {
		ow := w.NewObjectWriter(ctx, object.WriterOptions{Description: "segment " + source, Compressor: compressorName})
		defer ow.Close()

		h := sha256.New()

		n, err := io.Copy(io.MultiWriter(ow, h), data)
		if err != nil {
			return fmt.Errorf("write segment: %w", err)
		}

		oid, err := ow.Result()
		if err != nil {
			return fmt.Errorf("write segment: %w", err)
		}

		now := r.now().UTC()
		seg.Bytes, seg.SHA256, seg.Stored = n, hex.EncodeToString(h.Sum(nil)), now

		tags := map[string]string{
			labelSegment: "1",
			labelSource:  source,
			labelBytes:   strconv.FormatInt(n, 10),
			labelSHA256:  seg.SHA256,
			labelStored:  now.Format(time.RFC3339Nano),
		}
		for k, v := range labels {
			tags[labelPrefix+k] = v
		}

		man := &snapshot.Manifest{
			Source:      segmentSource(source),
			Description: "lifeboat segment",
			StartTime:   fs.UTCTimestampFromTime(now),
			EndTime:     fs.UTCTimestampFromTime(now),
			RootEntry: &snapshot.DirEntry{
				Name: "segment", Type: snapshot.EntryTypeFile, Permissions: 0o600,
				FileSize: n, ModTime: fs.UTCTimestampFromTime(now), ObjectID: oid,
			},
		}

		id, err := saveSegmentManifest(ctx, w, man, tags)
		if err != nil {
			return fmt.Errorf("save segment: %w", err)
		}

		seg.ID = string(id)

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source, err)
	}

	return seg, nil
}

// Segments lists the segments of source in the order they were stored. It
// reads the labels kopia already holds in memory; only segments stored by
// versions without the stored-time label have their manifest read.
func (r *Repository) Segments(ctx context.Context, source string) ([]*Segment, error) {
	ms, err := r.rep.FindManifests(ctx, map[string]string{"type": "snapshot", labelSegment: "1", labelSource: source})
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}

	out := make([]*Segment, 0, len(ms))

	for _, m := range ms {
		s := &Segment{ID: string(m.ID), Source: source, SHA256: m.Labels[labelSHA256], Labels: map[string]string{}}
		s.Bytes, _ = strconv.ParseInt(m.Labels[labelBytes], 10, 64)

		if s.Stored, err = time.Parse(time.RFC3339Nano, m.Labels[labelStored]); err != nil {
			man, err := r.loadManifest(ctx, s.ID)
			if err != nil {
				return nil, fmt.Errorf("load segment: %w", err)
			}

			s.Stored = man.StartTime.ToTime().UTC()
		}

		for k, v := range m.Labels {
			if strings.HasPrefix(k, labelPrefix) {
				s.Labels[strings.TrimPrefix(k, labelPrefix)] = v
			}
		}

		out = append(out, s)
	}

	sort.SliceStable(out, func(i, j int) bool { return out[i].Stored.Before(out[j].Stored) })

	return out, nil
}

// saveSegmentManifest saves a segment's manifest as kopia's SaveSnapshot
// does, with its tags as labels, but without writing them a second time in
// the payload: every command that reads a manifest decodes every segment's,
// and the tags (the binlog's format description alone is 500 characters)
// were most of it. Segments are read by their labels; the payload is read
// only for the data's object ID.
func saveSegmentManifest(ctx context.Context, w repo.RepositoryWriter, man *snapshot.Manifest, tags map[string]string) (manifest.ID, error) {
	labels := map[string]string{
		manifest.TypeLabelKey:  snapshot.ManifestType,
		snapshot.HostnameLabel: man.Source.Host,
		snapshot.UsernameLabel: man.Source.UserName,
		snapshot.PathLabel:     man.Source.Path,
	}

	for k, v := range tags {
		if _, ok := labels[k]; ok {
			return "", fmt.Errorf("tag %s names a snapshot label", k)
		}

		labels[k] = v
	}

	id, err := w.PutManifest(ctx, labels, man)
	if err != nil {
		return "", fmt.Errorf("put manifest: %w", err)
	}

	return id, nil
}

// OpenSegment reads a segment's data back; the reader fails at its end if the
// bytes do not match the checksum recorded when it was stored.
func (r *Repository) OpenSegment(ctx context.Context, seg *Segment) (io.ReadCloser, error) {
	rd, err := r.segmentObject(ctx, seg)
	if err != nil {
		return nil, err
	}

	return &checkedReader{r: rd, h: sha256.New(), want: seg.SHA256, id: seg.ID}, nil
}

// DeleteSegment forgets a segment; its data goes at the next maintenance.
func (r *Repository) DeleteSegment(ctx context.Context, id string) error {
	return repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat delete segment"}, func(ctx context.Context, w repo.RepositoryWriter) error {
		return w.DeleteManifest(ctx, manifest.ID(id))
	})
}

// ErrChecksum is stored data that does not match its recorded checksum.
var ErrChecksum = errors.New("checksum mismatch")

type checkedReader struct {
	r io.ReadCloser
	h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	want string
	id   string
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n]) //nolint:errcheck

	if errors.Is(err, io.EOF) && c.want != "" {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.want {
			return n, fmt.Errorf("segment %s: %w: stored %s, read %s", c.id, ErrChecksum, c.want, got)
		}
	}

	return n, err
}

func (c *checkedReader) Close() error { return c.r.Close() }

// stateSweepEvery is how many state records of one source and kind a
// process writes before it deletes the older ones.
const stateSweepEvery = 60

// PutState records v as the state of kind for source (a streamer's progress,
// written every second or so); State reads the newest. Replacing the record
// each time would look up the old one in the new write session, which loads
// every manifest of the repository again, every second. So the new record
// is only added, and every stateSweepEvery-th write replaces all of them.
func (r *Repository) PutState(ctx context.Context, source, kind string, v map[string]string) error {
	r.stateMu.Lock()
	if r.stateWrites == nil {
		r.stateWrites = map[string]int{}
	}

	r.stateWrites[kind+"\x00"+source]++
	sweep := r.stateWrites[kind+"\x00"+source]%stateSweepEvery == 0
	r.stateMu.Unlock()

	if sweep {
		return r.PutRecord(ctx, "state:"+kind, source, v)
	}

	labels := map[string]string{"type": recordType, labelKindR: "state:" + kind, labelKeyR: source}

	release, err := r.guard(ctx)
	if err != nil {
		return err
	}
	defer release()

	return repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat state " + kind}, func(ctx context.Context, w repo.RepositoryWriter) error {
		if _, err := w.PutManifest(ctx, labels, v); err != nil {
			return fmt.Errorf("save %s state: %w", kind, err)
		}

		return nil
	})
}

// State reads the record PutState saved last, or nil.
func (r *Repository) State(ctx context.Context, source, kind string) (map[string]string, error) {
	all, err := r.Records(ctx, "state:"+kind)
	if err != nil {
		return nil, err
	}

	return all[source], nil
}

const (
	recordType = "lifeboat-record"
	labelKindR = "tag:record-kind"
	labelKeyR  = "tag:record-key"
)

// PutRecord stores v as the one record of kind under key, replacing any
// earlier one: pins, verification results, a job's last run.
func (r *Repository) PutRecord(ctx context.Context, kind, key string, v map[string]string) error {
	labels := map[string]string{"type": recordType, labelKindR: kind, labelKeyR: key}

	release, err := r.guard(ctx)
	if err != nil {
		return err
	}
	defer release()

	return repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat record " + kind}, func(ctx context.Context, w repo.RepositoryWriter) error {
		if _, err := w.ReplaceManifests(ctx, labels, v); err != nil {
			return fmt.Errorf("save %s record: %w", kind, err)
		}

		return nil
	})
}

// DeleteRecord removes the record of kind under key, if any.
func (r *Repository) DeleteRecord(ctx context.Context, kind, key string) error {
	return repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat record " + kind}, func(ctx context.Context, w repo.RepositoryWriter) error {
		ms, err := w.FindManifests(ctx, map[string]string{"type": recordType, labelKindR: kind, labelKeyR: key})
		if err != nil {
			return err
		}

		for _, m := range ms {
			if err := w.DeleteManifest(ctx, m.ID); err != nil {
				return err
			}
		}

		return nil
	})
}

// Records reads every record of kind, by key.
func (r *Repository) Records(ctx context.Context, kind string) (map[string]map[string]string, error) {
	ms, err := r.rep.FindManifests(ctx, map[string]string{"type": recordType, labelKindR: kind})
	if err != nil {
		return nil, fmt.Errorf("read %s records: %w", kind, err)
	}

	sort.Slice(ms, func(i, j int) bool { return ms[i].ModTime.Before(ms[j].ModTime) })

	out := map[string]map[string]string{}

	for _, m := range ms {
		var v map[string]string
		if _, err := r.rep.GetManifest(ctx, m.ID, &v); err != nil {
			return nil, fmt.Errorf("read %s record: %w", kind, err)
		}

		out[m.Labels[labelKeyR]] = v
	}

	return out, nil
}

// Refresh reloads what other processes have written since the repository was
// opened (a streamer reading a backup's new full, say).
func (r *Repository) Refresh(ctx context.Context) error {
	return r.rep.Refresh(ctx)
}

// ReadSegmentTail returns a segment's data from offset on (a small index
// stored after the main data), without reading what comes before.
func (r *Repository) ReadSegmentTail(ctx context.Context, seg *Segment, offset int64) ([]byte, error) {
	rd, err := r.segmentObject(ctx, seg)
	if err != nil {
		return nil, err
	}
	defer rd.Close()

	if _, err := rd.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read segment %s: %w", seg.ID, err)
	}

	return io.ReadAll(rd)
}

func (r *Repository) segmentObject(ctx context.Context, seg *Segment) (object.Reader, error) {
	m, err := r.loadManifest(ctx, seg.ID)
	if err != nil {
		return nil, err
	}

	if m.RootEntry == nil {
		return nil, fmt.Errorf("segment %s has no data", seg.ID)
	}

	rd, err := r.rep.OpenObject(ctx, m.RootEntry.ObjectID)
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", seg.ID, err)
	}

	return rd, nil
}
