package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/policy"
	"github.com/kopia/kopia/snapshot/snapshotfs"
	"github.com/kopia/kopia/snapshot/upload"
)

// labelRekeyFrom marks a manifest copied by a rekey with the ID it has in
// the repository it came from: a resumed rekey skips what is marked.
const labelRekeyFrom = "tag:rekey-from"

// rekeySkipKind is the record kind a rekey leaves behind: the old key's
// password change, recovery kit and escrow drills say nothing of the new.
const rekeySkipKind = "key"

// RekeyStats says what a rekey pass copied.
type RekeyStats struct {
	// Snapshots and Segments copied and verified this pass; Present were
	// there from an earlier pass; Records copied.
	Snapshots, Segments, Present, Records int
	Bytes                                 int64
}

// Copied is how many snapshots and segments this pass added.
func (s RekeyStats) Copied() int { return s.Snapshots + s.Segments }

// RekeyInto copies every snapshot, binlog segment and record of r into dst,
// a repository with keys of its own: each snapshot's data is read back from
// r and written into dst (so it is encrypted and addressed with dst's
// keys), then read back from dst and compared by content (SHA-256 of every
// file) before its manifest is saved. A manifest is saved only once its
// data is in, so a pass that stopped anywhere resumes with the snapshot it
// was copying. Snapshot IDs change; every record or label that named an old
// ID names the new one. Records are copied last, each pass, replacing dst's.
func (r *Repository) RekeyInto(ctx context.Context, dst *Repository, after func(copied int) error) (RekeyStats, error) {
	var st RekeyStats

	ids, err := snapshot.ListSnapshotManifests(ctx, r.rep, nil, map[string]string{"type": "snapshot"})
	if err != nil {
		return st, fmt.Errorf("rekey: list snapshots: %w", err)
	}

	all, err := snapshot.LoadSnapshots(ctx, r.rep, ids)
	if err != nil {
		return st, fmt.Errorf("rekey: load snapshots: %w", err)
	}

	if err := r.segmentTags(ctx, all); err != nil {
		return st, err
	}

	sort.SliceStable(all, func(i, j int) bool { return all[i].StartTime.ToTime().Before(all[j].StartTime.ToTime()) })

	idMap, err := dst.rekeyed(ctx)
	if err != nil {
		return st, err
	}

	cp := &rekeyCopier{from: r, dst: dst, same: map[object.ID]object.ID{}, prev: map[snapshot.SourceInfo]*snapshot.Manifest{}}

	for _, m := range all {
		if m.IncompleteReason != "" {
			continue // a checkpoint, not a backup
		}

		if _, ok := idMap[string(m.ID)]; ok {
			st.Present++
			continue
		}

		nid, n, err := cp.copySnapshot(ctx, m, idMap)
		if err != nil {
			return st, fmt.Errorf("rekey: snapshot %s of %s: %w", m.ID, m.Source.Path, err)
		}

		idMap[string(m.ID)] = nid
		st.Bytes += n

		if m.Tags[labelSegment] == "1" {
			st.Segments++
		} else {
			st.Snapshots++
		}

		if after != nil {
			if err := after(st.Copied()); err != nil {
				return st, err
			}
		}
	}

	st.Records, err = r.copyRecords(ctx, dst, idMap)

	return st, err
}

// segmentTags gives each binlog segment in all its tags: a segment keeps them
// only as its manifest's labels (see saveSegmentManifest), not in the
// payload LoadSnapshots reads.
func (r *Repository) segmentTags(ctx context.Context, all []*snapshot.Manifest) error {
	ms, err := r.rep.FindManifests(ctx, map[string]string{manifest.TypeLabelKey: snapshot.ManifestType, labelSegment: "1"})
	if err != nil {
		return fmt.Errorf("rekey: list segments: %w", err)
	}

	labels := make(map[manifest.ID]map[string]string, len(ms))
	for _, m := range ms {
		labels[m.ID] = m.Labels
	}

	for _, m := range all {
		l, ok := labels[m.ID]
		if !ok {
			continue
		}

		tags := make(map[string]string, len(l))

		for k, v := range l {
			switch k {
			case manifest.TypeLabelKey, snapshot.HostnameLabel, snapshot.UsernameLabel, snapshot.PathLabel:
			default:
				tags[k] = v
			}
		}

		m.Tags = tags
	}

	return nil
}

// rekeyed maps the IDs snapshots had in the old repository to theirs here.
func (r *Repository) rekeyed(ctx context.Context) (map[string]string, error) {
	ms, err := r.rep.FindManifests(ctx, map[string]string{"type": "snapshot"})
	if err != nil {
		return nil, fmt.Errorf("rekey: list the copied snapshots: %w", err)
	}

	out := map[string]string{}

	for _, m := range ms {
		if from := m.Labels[labelRekeyFrom]; from != "" {
			out[from] = string(m.ID)
		}
	}

	return out, nil
}

// rekeyCopier copies snapshots from one repository into another. A
// repository's snapshots share most of their files, so it copies and
// verifies each file once: a tree is uploaded with the same source's
// previous copy as kopia's previous manifest (files whose name, size and
// times match are taken from it unread), and same remembers which object of
// the old repository was read back equal to which of the new, so a pair met
// again is not read again. A copy that a reused file spoils (same times,
// other content) fails its check and is made again with nothing reused.
type rekeyCopier struct {
	from, dst *Repository
	same      map[object.ID]object.ID
	prev      map[snapshot.SourceInfo]*snapshot.Manifest
}

func (c *rekeyCopier) copySnapshot(ctx context.Context, m *snapshot.Manifest, idMap map[string]string) (string, int64, error) {
	prev, err := c.previous(ctx, m.Source)
	if err != nil {
		return "", 0, err
	}

	nid, n, err := c.copyOnce(ctx, m, idMap, prev)
	if errors.Is(err, errCopyDiffers) && prev != nil {
		nid, n, err = c.copyOnce(ctx, m, idMap, nil)
	}

	return nid, n, err
}

var errCopyDiffers = errors.New("the copy does not read back as the original")

// previous is the newest copied snapshot of the source in dst, or nil.
func (c *rekeyCopier) previous(ctx context.Context, src snapshot.SourceInfo) (*snapshot.Manifest, error) {
	if p, ok := c.prev[src]; ok {
		return p, nil
	}

	ms, err := snapshot.ListSnapshots(ctx, c.dst.rep, src)
	if err != nil {
		return nil, fmt.Errorf("list the copied snapshots of %s: %w", src.Path, err)
	}

	var p *snapshot.Manifest

	for _, m := range ms {
		if m.IncompleteReason == "" && m.RootEntry != nil && (p == nil || m.StartTime.After(p.StartTime)) {
			p = m
		}
	}

	c.prev[src] = p

	return p, nil
}

func (c *rekeyCopier) copyOnce(ctx context.Context, m *snapshot.Manifest, idMap map[string]string, prev *snapshot.Manifest) (string, int64, error) {
	var (
		nid   manifest.ID
		bytes int64
		saved *snapshot.Manifest
	)

	err := repo.WriteSession(ctx, c.dst.rep, repo.WriteSessionOptions{Purpose: "lifeboat rekey"}, func(ctx context.Context, w repo.RepositoryWriter) error {
		root, err := copyRoot(ctx, c.from.rep, w, m.RootEntry, prev)
		if err != nil {
			return err
		}

		if bytes, err = c.verify(ctx, w, m.RootEntry, root); err != nil {
			return err
		}

		nm := *m
		nm.ID, nm.RootEntry, nm.Tags = "", root, map[string]string{}

		for k, v := range m.Tags {
			nm.Tags[k] = rewriteID(v, idMap)
		}

		nm.Tags[labelRekeyFrom] = string(m.ID)

		if nm.Tags[labelDigest] != "" {
			if nm.Tags[labelDigest], _, _, err = treeDigest(ctx, w, root); err != nil {
				return err
			}
		}

		saved = &nm

		if nm.Tags[labelSegment] == "1" {
			tags := nm.Tags
			nm.Tags = nil
			nid, err = saveSegmentManifest(ctx, w, &nm, tags)

			return err
		}

		nid, err = snapshot.SaveSnapshot(ctx, w, &nm)

		return err
	})
	if err == nil && saved != nil && saved.Tags[labelSegment] != "1" {
		c.prev[m.Source] = saved
	}

	return string(nid), bytes, err
}

// copyRoot writes the tree (or the single file) under root into w and
// returns its new root entry.
func copyRoot(ctx context.Context, from repo.Repository, w repo.RepositoryWriter, root *snapshot.DirEntry, prev *snapshot.Manifest) (*snapshot.DirEntry, error) {
	e := snapshotfs.EntryFromDirEntry(from, root)

	if _, ok := e.(fs.Directory); !ok {
		oid, err := copyObject(ctx, from, w, root.ObjectID)
		if err != nil {
			return nil, err
		}

		nr := *root
		nr.ObjectID = oid

		return &nr, nil
	}

	pol := &policy.Policy{CompressionPolicy: policy.CompressionPolicy{CompressorName: compressorName}}
	tree := policy.BuildTree(map[string]*policy.Policy{".": pol}, policy.DefaultPolicy)

	var prevs []*snapshot.Manifest
	if prev != nil {
		prevs = append(prevs, prev)
	}

	man, err := upload.NewUploader(w).Upload(ctx, e, tree, snapshot.SourceInfo{Host: "lifeboat", UserName: "lifeboat", Path: "/rekey"}, prevs...)
	if err != nil {
		return nil, err
	}

	if man.IncompleteReason != "" || (man.RootEntry.DirSummary != nil && man.RootEntry.DirSummary.FatalErrorCount > 0) {
		return nil, errors.New("the copy of the tree is incomplete")
	}

	nr := *man.RootEntry
	nr.Name, nr.ModTime, nr.Permissions = root.Name, root.ModTime, root.Permissions

	return &nr, nil
}

func copyObject(ctx context.Context, from repo.Repository, w repo.RepositoryWriter, oid object.ID) (object.ID, error) {
	rd, err := from.OpenObject(ctx, oid)
	if err != nil {
		return object.EmptyID, err
	}
	defer rd.Close()

	ow := w.NewObjectWriter(ctx, object.WriterOptions{Description: "rekey", Compressor: compressorName})
	defer ow.Close()

	if _, err := io.Copy(ow, rd); err != nil {
		return object.EmptyID, err
	}

	return ow.Result()
}

type treeItem struct {
	e  fs.Entry
	de *snapshot.DirEntry
}

// listTree maps every entry's path to it, and gives the paths in order.
func listTree(ctx context.Context, rep repo.Repository, root *snapshot.DirEntry) (map[string]treeItem, []string, error) {
	out := map[string]treeItem{}

	var order []string

	err := walkTree(ctx, rep, root, func(_ context.Context, rel string, e fs.Entry, de *snapshot.DirEntry) error {
		out[rel] = treeItem{e, de}
		order = append(order, rel)

		return nil
	})

	return out, order, err
}

// verify compares the copy (root in w) with the original (old in the
// source repository) entry by entry: the same paths, types and sizes, and
// the same content (SHA-256) for every file and symlink, read from both
// unless that pair of objects was already found equal. It returns the
// bytes of the original's files.
func (c *rekeyCopier) verify(ctx context.Context, w repo.Repository, old, root *snapshot.DirEntry) (int64, error) {
	want, order, err := listTree(ctx, c.from.rep, old)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}

	got, _, err := listTree(ctx, w, root)
	if err != nil {
		return 0, fmt.Errorf("read back: %w", err)
	}

	if len(got) != len(want) {
		return 0, fmt.Errorf("%w: %d entries, the original %d", errCopyDiffers, len(got), len(want))
	}

	var total int64

	for _, p := range order {
		a, b := want[p], got[p]
		if b.de == nil || a.de == nil || a.de.Type != b.de.Type || (a.de.Type != snapshot.EntryTypeDirectory && a.de.FileSize != b.de.FileSize) {
			return 0, fmt.Errorf("%w: %s", errCopyDiffers, p)
		}

		if a.de.Type == snapshot.EntryTypeFile {
			total += a.de.FileSize
		}

		if a.de.Type == snapshot.EntryTypeDirectory || c.same[a.de.ObjectID] == b.de.ObjectID {
			continue
		}

		x, err := entrySum(ctx, a.e)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", p, err)
		}

		y, err := entrySum(ctx, b.e)
		if err != nil {
			return 0, fmt.Errorf("read back %s: %w", p, err)
		}

		if x != y {
			return 0, fmt.Errorf("%w: %s", errCopyDiffers, p)
		}

		c.same[a.de.ObjectID] = b.de.ObjectID
	}

	return total, nil
}

// entrySum is the SHA-256 of a file's content or a symlink's target.
func entrySum(ctx context.Context, e fs.Entry) (string, error) {
	h := sha256.New()

	switch v := e.(type) {
	case fs.File:
		rd, err := v.Open(ctx)
		if err != nil {
			return "", err
		}
		defer rd.Close()

		if _, err := io.Copy(h, rd); err != nil {
			return "", err
		}
	case fs.Symlink:
		target, err := v.Readlink(ctx)
		if err != nil {
			return "", err
		}

		h.Write([]byte(target))
	}

	return hex.EncodeToString(h.Sum(nil)), nil
}

// rewriteID gives the new ID of a value that is an old snapshot's ID.
func rewriteID(v string, idMap map[string]string) string {
	if n, ok := idMap[v]; ok {
		return n
	}

	return v
}

// copyRecords copies every record, old snapshot IDs in its key or values
// replaced by the new ones.
func (r *Repository) copyRecords(ctx context.Context, dst *Repository, idMap map[string]string) (int, error) {
	ms, err := r.rep.FindManifests(ctx, map[string]string{"type": recordType})
	if err != nil {
		return 0, fmt.Errorf("rekey: list records: %w", err)
	}

	sort.Slice(ms, func(i, j int) bool { return ms[i].ModTime.Before(ms[j].ModTime) })

	n := 0

	err = repo.WriteSession(ctx, dst.rep, repo.WriteSessionOptions{Purpose: "lifeboat rekey records"}, func(ctx context.Context, w repo.RepositoryWriter) error {
		for _, m := range ms {
			if m.Labels[labelKindR] == rekeySkipKind {
				continue // about the old key: its kit, drills, password
			}

			var v map[string]string
			if _, err := r.rep.GetManifest(ctx, m.ID, &v); err != nil {
				return fmt.Errorf("read record %s: %w", m.ID, err)
			}

			labels := map[string]string{}
			for k, l := range m.Labels {
				labels[k] = rewriteID(l, idMap)
			}

			for k, val := range v {
				v[k] = rewriteID(val, idMap)
			}

			if _, err := w.ReplaceManifests(ctx, labels, v); err != nil {
				return fmt.Errorf("save record %s: %w", m.ID, err)
			}

			n++
		}

		return nil
	})
	if err != nil {
		return n, fmt.Errorf("rekey: %w", err)
	}

	return n, nil
}
