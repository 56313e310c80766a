package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// pending is a blob this backup stores: its bytes in memory (a manifest)
// or a way to read it from its origin.
type pending struct {
	desc v1.Descriptor
	raw  []byte
	o    origin
	what string
}

// run is one backup: what the repository already holds and what to add.
type run struct {
	s       *Source
	known   map[string]repo.StoredObject
	pending map[string]*pending
	order   []string
}

// Backup resolves every image to its digest and stores the blobs the
// repository lacks; an image whose digest the last snapshot recorded
// reads no blob (only its attached signatures are looked up again).
func (s *Source) Backup(ctx context.Context, r *repo.Repository, opt source.BackupOptions) (*repo.Snapshot, error) {
	name := s.cfg.Name
	if s.reg.err != nil {
		return nil, fmt.Errorf("source %s: %w", name, s.reg.err)
	}

	typ, base, err := source.ResolveBase(ctx, r, name, opt.Type, opt.Log)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}

	ru := &run{s: s, known: map[string]repo.StoredObject{}, pending: map[string]*pending{}}

	prev, err := ru.loadKnown(ctx, r, name)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}

	doc := &indexDoc{}

	for _, ref := range s.cfg.Image.Images {
		rec, o, err := ru.image(ctx, ref, prev[ref])
		if err != nil {
			return nil, fmt.Errorf("source %s: image %s: %w", name, ref, err)
		}
		defer o.close()

		doc.Images = append(doc.Images, rec)
	}

	idx, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}

	objs := ru.objects(doc)
	extra := map[string]string{"images": strconv.Itoa(len(doc.Images)), "new_blobs": strconv.Itoa(len(ru.order))}

	for i, im := range doc.Images {
		extra["image"+strconv.Itoa(i)] = im.Ref + "@" + im.Digest
	}

	spec := repo.StreamSpec{
		Source: name, Kind: config.KindImage, Type: typ, Version: opt.Version,
		Paths: s.cfg.Image.Images, Extra: extra, Progress: opt.Progress,
	}
	if base != nil {
		spec.Base = base.ID
	}

	for k, v := range opt.Extra {
		spec.Extra[k] = v
	}

	return r.BackupObjects(ctx, spec, blobDir, objs, map[string][]byte{indexFile: idx})
}

// loadKnown gathers the blobs every image snapshot in the repository holds
// (any image source's: a base layer two sources share is read once) and
// the images the newest snapshot of this source recorded.
func (ru *run) loadKnown(ctx context.Context, r *repo.Repository, name string) (map[string]*imageRec, error) {
	snaps, err := r.Snapshots(ctx, "")
	if err != nil {
		return nil, err
	}

	prev := map[string]*imageRec{}

	var latest *repo.Snapshot

	for _, sn := range snaps {
		if sn.Role != repo.RoleBackup || sn.Kind != config.KindImage {
			continue
		}

		objs, err := r.StoredObjects(ctx, sn.ID, blobDir)
		if err != nil {
			return nil, err
		}

		for k, v := range objs {
			ru.known[k] = v
		}

		if sn.Source == name && (latest == nil || sn.Time.After(latest.Time)) {
			latest = sn
		}
	}

	if latest != nil {
		doc, err := readIndex(ctx, r, latest)
		if err != nil {
			return nil, err
		}

		for _, im := range doc.Images {
			prev[im.Ref] = im
		}
	}

	return prev, nil
}

func (ru *run) has(digest string) bool {
	if _, ok := ru.known[objectName(digest)]; ok {
		return true
	}

	_, ok := ru.pending[digest]

	return ok
}

func (ru *run) add(p *pending) {
	d := p.desc.Digest.String()
	if ru.has(d) {
		return
	}

	ru.pending[d] = p
	ru.order = append(ru.order, d)
}

// image resolves ref and collects what it needs. The returned origin stays
// open until the blobs were stored.
func (ru *run) image(ctx context.Context, ref string, prev *imageRec) (*imageRec, origin, error) {
	o, err := ru.s.open(ref)
	if err != nil {
		return nil, nil, err
	}

	root, err := o.root(ctx)
	if err != nil {
		o.close()
		return nil, nil, err
	}

	rec := &imageRec{Ref: ref, Digest: root.Digest.String(), MediaType: string(root.MediaType), Size: root.Size}

	if prev != nil && prev.Digest == rec.Digest && ru.holdsAll(prev.Blobs) && samePlatforms(prev, ru.s.cfg.Image.Platforms) {
		rec.Blobs, rec.Platforms, rec.Partial = prev.Blobs, prev.Platforms, prev.Partial
	} else if err := ru.walk(ctx, o, root, rec, &rec.Blobs, ref); err != nil {
		o.close()
		return nil, nil, err
	}

	if err := ru.attached(ctx, o, root, rec, prev); err != nil {
		o.close()
		return nil, nil, err
	}

	return rec, o, nil
}

func (ru *run) holdsAll(bs []blobRec) bool {
	for _, b := range bs {
		if _, ok := ru.known[objectName(b.Digest)]; !ok {
			return false
		}
	}

	return true
}

func samePlatforms(prev *imageRec, want []string) bool {
	return !prev.Partial && len(want) == 0 || prev.Partial && strings.Join(prev.Platforms, ",") == strings.Join(want, ",")
}

// walk records d and everything it references into out: an index's
// manifests (the configured platforms only), a manifest's config and
// layers. Manifests are always read (they are small); configs and layers
// only when the repository lacks them.
func (ru *run) walk(ctx context.Context, o origin, d v1.Descriptor, rec *imageRec, out *[]blobRec, ref string) error {
	raw, err := o.manifest(ctx, d)
	if err != nil {
		return fmt.Errorf("read manifest %s: %w", d.Digest, err)
	}

	got, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil || got != d.Digest {
		return fmt.Errorf("manifest %s: the bytes read have digest %s: the data is corrupt or was changed in transit", d.Digest, got)
	}

	mt := d.MediaType
	if mt == "" {
		mt = sniff(raw)
	}

	role := "manifest"
	if mt.IsIndex() {
		role = "index"
	}

	*out = append(*out, blobRec{Digest: d.Digest.String(), Size: int64(len(raw)), MediaType: string(mt), Role: role})
	ru.add(&pending{desc: d, raw: raw, what: role})

	switch {
	case mt.IsIndex():
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("index %s: %w", d.Digest, err)
		}

		for _, m := range im.Manifests {
			if m.Platform != nil && !ru.wanted(*m.Platform) {
				rec.Partial = true
				continue
			}

			if m.Platform != nil {
				rec.Platforms = append(rec.Platforms, m.Platform.String())
			}

			if err := ru.walk(ctx, o, m, rec, out, ref); err != nil {
				return err
			}
		}
	case mt == types.DockerManifestSchema1 || mt == types.DockerManifestSchema1Signed:
		return fmt.Errorf("manifest %s is Docker schema 1, which registries no longer accept: convert the image first", d.Digest)
	default:
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}

		ru.blob(o, m.Config, "config", out)

		for _, l := range m.Layers {
			ru.blob(o, l, "layer", out)
		}
	}

	return nil
}

func (ru *run) blob(o origin, d v1.Descriptor, role string, out *[]blobRec) {
	*out = append(*out, blobRec{Digest: d.Digest.String(), Size: d.Size, MediaType: string(d.MediaType), Role: role})
	ru.add(&pending{desc: d, o: o, what: role})
}

// wanted reports whether p is one of the configured platforms (every
// platform when none is configured).
func (ru *run) wanted(p v1.Platform) bool {
	if len(ru.s.cfg.Image.Platforms) == 0 {
		return true
	}

	for _, s := range ru.s.cfg.Image.Platforms {
		if w, err := v1.ParsePlatform(s); err == nil && p.Satisfies(*w) {
			return true
		}
	}

	return false
}

// attached keeps the signatures and attestations attached to the image.
func (ru *run) attached(ctx context.Context, o origin, root v1.Descriptor, rec, prev *imageRec) error {
	refs, err := o.referrers(ctx, root)
	if err != nil {
		return err
	}

	for _, a := range refs {
		rec.Attached = append(rec.Attached, attachedRec{Digest: a.desc.Digest.String(), Size: a.desc.Size, MediaType: string(a.desc.MediaType), Tag: a.tag})

		if prev != nil && ru.holdsAll(prev.AttachedBlobs) && containsAttached(prev.Attached, a.desc.Digest.String()) {
			continue
		}

		sub := &imageRec{}
		if err := ru.walk(ctx, o, a.desc, sub, &rec.AttachedBlobs, rec.Ref); err != nil {
			return fmt.Errorf("attached artifact %s: %w", a.desc.Digest, err)
		}
	}

	if prev != nil {
		// Blobs of attachments seen before, listed again so this snapshot
		// holds them too.
		for _, b := range prev.AttachedBlobs {
			if containsAttachedBlob(rec.AttachedBlobs, b.Digest) {
				continue
			}

			for _, a := range rec.Attached {
				if containsAttached(prev.Attached, a.Digest) {
					rec.AttachedBlobs = append(rec.AttachedBlobs, b)
					break
				}
			}
		}
	}

	return nil
}

func containsAttached(as []attachedRec, digest string) bool {
	for _, a := range as {
		if a.Digest == digest {
			return true
		}
	}

	return false
}

func containsAttachedBlob(bs []blobRec, digest string) bool {
	for _, b := range bs {
		if b.Digest == digest {
			return true
		}
	}

	return false
}

// objects lists every blob the images need, once each: the ones stored
// before, linked, and the new ones, read from their origin and checked. A
// blob no image needs any more stays only in the older snapshots, so
// retention frees it with them.
func (ru *run) objects(doc *indexDoc) []repo.Object {
	var objs []repo.Object

	seen := map[string]bool{}

	for _, im := range doc.Images {
		for _, b := range append(append([]blobRec(nil), im.Blobs...), im.AttachedBlobs...) {
			n := objectName(b.Digest)
			if so, ok := ru.known[n]; ok && !seen[n] {
				objs = append(objs, repo.Object{Name: n, Size: so.Size, Ref: so.Ref})
			}

			seen[n] = true
		}
	}

	for _, d := range ru.order {
		p := ru.pending[d]
		objs = append(objs, repo.Object{
			Name: objectName(d), Size: p.desc.Size, Compress: compressible(p),
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				if p.raw != nil {
					return io.NopCloser(bytes.NewReader(p.raw)), nil
				}

				rc, err := p.o.blob(ctx, p.desc)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", p.what, d, err)
				}

				return newVerifying(rc, p.desc, p.what)
			},
		})
	}

	return objs
}

// compressible leaves gzip and zstd layers as they are: compressing them
// again costs time and saves nothing.
func compressible(p *pending) bool {
	mt := string(p.desc.MediaType)
	return p.raw != nil || !strings.Contains(mt, "gzip") && !strings.Contains(mt, "zstd")
}

func typeOf(s string) types.MediaType { return types.MediaType(s) }

// sniff guesses a manifest's media type from its mediaType field when the
// descriptor carried none.
func sniff(raw []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests []any           `json:"manifests"`
	}

	if json.Unmarshal(raw, &m) == nil {
		if m.MediaType != "" {
			return m.MediaType
		}

		if m.Manifests != nil {
			return types.OCIImageIndex
		}
	}

	return types.OCIManifestSchema1
}
