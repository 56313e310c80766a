package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Target schemes of a restore.
const (
	targetDocker = "docker://"
)

// ErrImageChoice is a restore of a source with several images to a target
// that takes one, without --image.
var ErrImageChoice = errors.New("choose the image to restore with --image")

// target is where a restore writes: an OCI layout folder, a docker
// archive file or a registry.
type target struct {
	layout  string
	archive string
	push    name.Reference
}

func (s *Source) parseTarget(t string) (*target, error) {
	switch {
	case strings.HasPrefix(t, targetDocker):
		ref, err := s.reg.parse(strings.TrimPrefix(t, targetDocker))
		if err != nil {
			return nil, fmt.Errorf("--target %s: %w", t, err)
		}

		return &target{push: ref}, nil
	case strings.HasPrefix(t, schemeDockerArchive):
		return &target{archive: filepath.Clean(strings.TrimPrefix(t, schemeDockerArchive))}, nil
	case strings.HasPrefix(t, schemeOCI):
		return &target{layout: filepath.Clean(strings.TrimPrefix(t, schemeOCI))}, nil
	case filepath.IsAbs(t):
		return &target{layout: filepath.Clean(t)}, nil
	}

	return nil, fmt.Errorf("--target %s: expected docker://HOST/NAME:TAG, oci:DIR or docker-archive:FILE", t)
}

// CheckAddress refuses a target that is malformed, or that holds data the
// restore would replace without overwrite.
func (s *Source) CheckAddress(t string, overwrite bool) error {
	tg, err := s.parseTarget(t)
	if err != nil {
		return err
	}

	switch {
	case tg.layout != "":
		return source.CheckTarget(tg.layout, overwrite)
	case tg.archive != "":
		if _, err := os.Stat(tg.archive); err == nil && !overwrite {
			return fmt.Errorf("%w: %s exists; choose a new file, or pass --overwrite", source.ErrTargetNotEmpty, tg.archive)
		}
	}

	return nil
}

// Restore writes the chosen image (opt.Image; every image for an OCI layout
// when none is chosen) of snap to target. Every blob's digest is checked
// while it is written; the manifest bytes are the original's, so the
// restored image has the original digest.
func (s *Source) Restore(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, t string, opt source.RestoreOptions) (*source.RestoreResult, error) {
	tg, err := s.parseTarget(t)
	if err != nil {
		return nil, err
	}

	if err := s.CheckAddress(t, opt.Overwrite); err != nil {
		return nil, err
	}

	doc, err := readIndex(ctx, r, snap)
	if err != nil {
		return nil, err
	}

	recs, err := choose(doc, opt.Image, tg.layout != "")
	if err != nil {
		return nil, err
	}

	res := &source.RestoreResult{}

	dir := tg.layout
	if dir == "" {
		tmp, err := os.MkdirTemp("", "lifeboat-image-restore-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)

		dir = tmp
	} else if opt.Overwrite {
		if res.Safety, err = source.SafetySnapshot(ctx, r, s.cfg.Name, opt.Version, []string{dir}); err != nil {
			return nil, err
		}
	}

	if res.Stats, err = writeLayout(ctx, r, snap, recs, dir, opt.Progress); err != nil {
		return res, err
	}

	switch {
	case tg.push != nil:
		err = s.push(ctx, dir, recs[0], tg.push)
	case tg.archive != "":
		err = writeArchive(dir, recs[0], tg.archive)
	}

	return res, err
}

// choose picks the images a restore writes.
func choose(doc *indexDoc, want string, all bool) ([]*imageRec, error) {
	if want == "" {
		if len(doc.Images) == 1 || all {
			return doc.Images, nil
		}

		return nil, fmt.Errorf("%w: the snapshot holds %s", ErrImageChoice, refs(doc))
	}

	for _, im := range doc.Images {
		if im.Ref == want || im.Digest == want {
			return []*imageRec{im}, nil
		}
	}

	return nil, fmt.Errorf("--image %s: the snapshot holds no such image; it holds %s", want, refs(doc))
}

func refs(doc *indexDoc) string {
	var out []string
	for _, im := range doc.Images {
		out = append(out, im.Ref)
	}

	return strings.Join(out, ", ")
}

// refName is the name an image gets in an OCI layout: the tag of a layout
// or registry image (its whole reference when the layout holds several
// registry images), an archive's file name when there are several.
func refName(rec *imageRec, single bool) string {
	ref := rec.Ref

	switch {
	case strings.HasPrefix(ref, schemeOCI):
		if _, tag := splitLayoutRef(strings.TrimPrefix(ref, schemeOCI)); tag != "" {
			return tag
		}

		return "latest"
	case strings.HasPrefix(ref, schemeDockerArchive), strings.HasPrefix(ref, schemeOCIArchive):
		if single {
			return "latest"
		}

		base := filepath.Base(ref)

		return strings.TrimSuffix(base, filepath.Ext(base))
	}

	n, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}

	if !single {
		return n.String()
	}

	if tag, ok := n.(name.Tag); ok {
		return tag.TagStr()
	}

	return "latest"
}

// writeLayout writes the blobs of recs from snap into the OCI layout dir,
// checking each one's digest as it is written, and names the images in its
// index.json.
func writeLayout(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, recs []*imageRec, dir string, p repo.Progress) (repo.RestoreStats, error) {
	var st repo.RestoreStats

	stored, err := r.StoredObjects(ctx, snap.ID, blobDir)
	if err != nil {
		return st, err
	}

	done := map[string]bool{}
	idx := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}

	if b, err := os.ReadFile(filepath.Join(dir, "index.json")); err == nil {
		if old, err := v1.ParseIndexManifest(bytes.NewReader(b)); err == nil {
			idx = old
		}
	}

	for _, rec := range recs {
		for _, b := range append(append([]blobRec(nil), rec.Blobs...), rec.AttachedBlobs...) {
			if done[b.Digest] {
				continue
			}

			done[b.Digest] = true

			so, ok := stored[objectName(b.Digest)]
			if !ok {
				return st, fmt.Errorf("snapshot %s lacks %s %s of %s", snap.ID, b.Role, b.Digest, rec.Ref)
			}

			n, err := writeBlob(ctx, r, so, b, dir, p)
			if err != nil {
				return st, fmt.Errorf("restore %s: %w", rec.Ref, err)
			}

			st.Files++
			st.Bytes += n
		}

		rn := refName(rec, len(recs) == 1)
		d := rec.desc()
		d.Annotations = map[string]string{refNameAnnotation: rn, "io.containerd.image.name": rec.Ref}
		idx.Manifests = append(dropNamed(idx.Manifests, rn), d)

		// Attachments are listed too, so the layout reaches them: by their
		// tag, or unnamed (a referrer found through its subject).
		for _, a := range rec.Attached {
			h, _ := v1.NewHash(a.Digest)
			d := v1.Descriptor{MediaType: types.MediaType(a.MediaType), Digest: h, Size: a.Size}

			if a.Tag != "" {
				d.Annotations = map[string]string{refNameAnnotation: a.Tag}
				idx.Manifests = append(dropNamed(idx.Manifests, a.Tag), d)
			} else if !listed(idx.Manifests, h) {
				idx.Manifests = append(idx.Manifests, d)
			}
		}
	}

	return st, writeIndex(dir, idx)
}

func listed(ds []v1.Descriptor, h v1.Hash) bool {
	for _, d := range ds {
		if d.Digest == h && d.Annotations[refNameAnnotation] == "" {
			return true
		}
	}

	return false
}

func dropNamed(ds []v1.Descriptor, n string) []v1.Descriptor {
	out := ds[:0]

	for _, d := range ds {
		if d.Annotations[refNameAnnotation] != n {
			out = append(out, d)
		}
	}

	return out
}

func writeIndex(dir string, idx *v1.IndexManifest) error {
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}

	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return fmt.Errorf("write the OCI layout %s: %w", dir, err)
	}

	tmp := filepath.Join(dir, "index.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write the OCI layout %s: %w", dir, err)
	}

	return os.Rename(tmp, filepath.Join(dir, "index.json"))
}

// writeBlob copies one stored blob into the layout, checked against its
// digest and size before it takes its name.
func writeBlob(ctx context.Context, r *repo.Repository, so repo.StoredObject, b blobRec, dir string, p repo.Progress) (int64, error) {
	h, err := v1.NewHash(b.Digest)
	if err != nil {
		return 0, err
	}

	rd, err := r.OpenObject(ctx, so.Ref)
	if err != nil {
		return 0, err
	}

	vr, err := newVerifying(rd, v1.Descriptor{Digest: h, Size: b.Size}, b.Role)
	if err != nil {
		return 0, err
	}
	defer vr.Close()

	bdir := filepath.Join(dir, "blobs", h.Algorithm)
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return 0, err
	}

	f, err := os.CreateTemp(bdir, ".partial-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())

	var w io.Writer = f
	if p != nil {
		w = io.MultiWriter(f, addWriter{p})
	}

	n, err := io.Copy(w, vr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}

	if err != nil {
		return n, err
	}

	return n, os.Rename(f.Name(), filepath.Join(bdir, h.Hex))
}

type addWriter struct{ p repo.Progress }

func (a addWriter) Write(b []byte) (int, error) {
	a.p.Add(int64(len(b)))
	return len(b), nil
}

// push writes rec and its tagged attachments from the layout dir to ref.
func (s *Source) push(ctx context.Context, dir string, rec *imageRec, ref name.Reference) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}

	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}

	put := func(d v1.Descriptor, to name.Reference) error {
		if d.MediaType.IsIndex() {
			ii, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}

			return remote.WriteIndex(to, ii, s.reg.options(ctx)...)
		}

		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}

		return remote.Write(to, img, s.reg.options(ctx)...)
	}

	if rec.Partial {
		return fmt.Errorf("%s was backed up with only the platforms %s: a registry refuses an index whose other platforms are missing; restore it to oci:DIR instead", rec.Ref, strings.Join(rec.Platforms, ", "))
	}

	if err := put(rec.desc(), ref); err != nil {
		return fmt.Errorf("push %s to %s: %w", rec.Ref, ref, s.reg.explain(ref, err))
	}

	for _, a := range rec.Attached {
		h, _ := v1.NewHash(a.Digest)
		d := v1.Descriptor{Digest: h, MediaType: types.MediaType(a.MediaType), Size: a.Size}

		var to name.Reference = ref.Context().Digest(a.Digest)
		if a.Tag != "" {
			to = ref.Context().Tag(a.Tag)
		}

		if err := put(d, to); err != nil {
			return fmt.Errorf("push the artifact %s attached to %s: %w", a.Digest, rec.Ref, s.reg.explain(to, err))
		}
	}

	return nil
}

// writeArchive writes rec as a `docker load`-able archive: one platform of
// an index (this machine's, else the first).
func writeArchive(dir string, rec *imageRec, file string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}

	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}

	d := rec.desc()

	for d.MediaType.IsIndex() {
		ii, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return err
		}

		if d, err = pickPlatform(ii); err != nil {
			return fmt.Errorf("%s: %w", rec.Ref, err)
		}

		idx = ii
	}

	img, err := idx.Image(d.Digest)
	if err != nil {
		return err
	}

	tag, err := name.NewTag(archiveTag(rec.Ref))
	if err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}

	tmp := file + ".partial"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", file, err)
	}

	return os.Rename(tmp, file)
}

func archiveTag(ref string) string {
	if n, err := name.ParseReference(ref); err == nil {
		if t, ok := n.(name.Tag); ok {
			return t.String()
		}

		return n.Context().Tag("restored").String()
	}

	return "restored:latest"
}

func pickPlatform(ii v1.ImageIndex) (v1.Descriptor, error) {
	im, err := ii.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}

	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS == runtime.GOOS && m.Platform.Architecture == runtime.GOARCH {
			return m, nil
		}
	}

	for _, m := range im.Manifests {
		if m.Platform == nil || m.Platform.OS != "unknown" {
			return m, nil
		}
	}

	return v1.Descriptor{}, errors.New("the index holds no image")
}
