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

	for _, m := range all {
		if m.IncompleteReason != "" {
			continue // a checkpoint, not a backup
		}

		if _, ok := idMap[string(m.ID)]; ok {
			st.Present++
			continue
		}

		nid, n, err := r.copySnapshot(ctx, dst, m, idMap)
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

func (r *Repository) copySnapshot(ctx context.Context, dst *Repository, m *snapshot.Manifest, idMap map[string]string) (string, int64, error) {
	want, bytes, err := contentSum(ctx, r.rep, m.RootEntry)
	if err != nil {
		return "", 0, fmt.Errorf("read: %w", err)
	}

	var nid manifest.ID

	err = repo.WriteSession(ctx, dst.rep, repo.WriteSessionOptions{Purpose: "lifeboat rekey"}, func(ctx context.Context, w repo.RepositoryWriter) error {
		root, err := copyRoot(ctx, r.rep, w, m.RootEntry)
		if err != nil {
			return err
		}

		got, _, err := contentSum(ctx, w, root)
		if err != nil {
			return fmt.Errorf("read back: %w", err)
		}

		if got != want {
			return errors.New("the copy does not read back as the original")
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

		if nm.Tags[labelSegment] == "1" {
			tags := nm.Tags
			nm.Tags = nil
			nid, err = saveSegmentManifest(ctx, w, &nm, tags)

			return err
		}

		nid, err = snapshot.SaveSnapshot(ctx, w, &nm)

		return err
	})

	return string(nid), bytes, err
}

// copyRoot writes the tree (or the single file) under root into w and
// returns its new root entry.
func copyRoot(ctx context.Context, from repo.Repository, w repo.RepositoryWriter, root *snapshot.DirEntry) (*snapshot.DirEntry, error) {
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

	man, err := upload.NewUploader(w).Upload(ctx, e, tree, snapshot.SourceInfo{Host: "lifeboat", UserName: "lifeboat", Path: "/rekey"})
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

// contentSum hashes every entry's path, type, size and content: equal in
// two repositories exactly when they hold the same tree, whatever their
// keys.
func contentSum(ctx context.Context, rep repo.Repository, root *snapshot.DirEntry) (string, int64, error) {
	h := sha256.New()

	var total int64

	err := walkTree(ctx, rep, root, func(ctx context.Context, rel string, e fs.Entry, de *snapshot.DirEntry) error {
		size := de.FileSize
		if de.Type == snapshot.EntryTypeDirectory {
			size = 0 // a summary, not content
		}

		fmt.Fprintf(h, "%s\x00%s\x00%d\x00", rel, de.Type, size)

		if f, ok := e.(fs.File); ok {
			rd, err := f.Open(ctx)
			if err != nil {
				return err
			}

			fh := sha256.New()
			n, err := io.Copy(fh, rd)
			rd.Close()

			if err != nil {
				return err
			}

			total += n
			fmt.Fprintf(h, "%s", hex.EncodeToString(fh.Sum(nil)))
		}

		if l, ok := e.(fs.Symlink); ok {
			target, err := l.Readlink(ctx)
			if err != nil {
				return err
			}

			fmt.Fprintf(h, "%s", target)
		}

		h.Write([]byte{'\n'})

		return nil
	})

	return hex.EncodeToString(h.Sum(nil)), total, err
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
