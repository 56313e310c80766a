package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// origin is where one image reference is read: a registry, an OCI layout
// folder or an archive file.
type origin interface {
	// root resolves the reference to the descriptor of its manifest or
	// index; a registry answers with one manifest request, no blob.
	root(ctx context.Context) (v1.Descriptor, error)
	// manifest returns a manifest's bytes.
	manifest(ctx context.Context, d v1.Descriptor) ([]byte, error)
	// blob opens a config or layer.
	blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)
	// referrers lists the artifacts attached to d (signatures,
	// attestations), each with the tag it is found under, if any.
	referrers(ctx context.Context, d v1.Descriptor) ([]attached, error)
	close()
}

type attached struct {
	desc v1.Descriptor
	tag  string
}

const (
	schemeDockerArchive = "docker-archive:"
	schemeOCIArchive    = "oci-archive:"
	schemeOCI           = "oci:"
)

// cosignSuffixes are the tags cosign attaches to an image digest.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

func (s *Source) open(ref string) (origin, error) {
	switch {
	case strings.HasPrefix(ref, schemeDockerArchive):
		return openDockerArchive(strings.TrimPrefix(ref, schemeDockerArchive))
	case strings.HasPrefix(ref, schemeOCIArchive):
		return openOCIArchive(strings.TrimPrefix(ref, schemeOCIArchive))
	case strings.HasPrefix(ref, schemeOCI):
		dir, tag := splitLayoutRef(strings.TrimPrefix(ref, schemeOCI))
		return &layoutOrigin{dir: dir, tag: tag}, nil
	}

	r, err := s.reg.parse(ref)
	if err != nil {
		return nil, err
	}

	return &registryOrigin{ref: r, reg: s.reg}, nil
}

// splitLayoutRef splits DIR[:TAG]; a colon belongs to the tag only after
// the last slash.
func splitLayoutRef(s string) (dir, tag string) {
	i := strings.LastIndex(s, ":")
	if i > strings.LastIndex(s, "/") && i > 0 {
		return s[:i], s[i+1:]
	}

	return s, ""
}

type registryOrigin struct {
	ref name.Reference
	reg *registry
}

func (o *registryOrigin) root(ctx context.Context) (v1.Descriptor, error) {
	d, err := remote.Head(o.ref, o.reg.options(ctx)...)
	if err == nil {
		return *d, nil
	}

	// Some registries answer HEAD badly; GET says why.
	g, gerr := remote.Get(o.ref, o.reg.options(ctx)...)
	if gerr != nil {
		return v1.Descriptor{}, o.reg.explain(o.ref, gerr)
	}

	return g.Descriptor, nil
}

func (o *registryOrigin) digestRef(d v1.Descriptor) name.Digest {
	return o.ref.Context().Digest(d.Digest.String())
}

func (o *registryOrigin) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	g, err := remote.Get(o.digestRef(d), o.reg.options(ctx)...)
	if err != nil {
		return nil, o.reg.explain(o.ref, err)
	}

	return g.Manifest, nil
}

func (o *registryOrigin) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	l, err := remote.Layer(o.digestRef(d), o.reg.options(ctx)...)
	if err != nil {
		return nil, o.reg.explain(o.ref, err)
	}

	rc, err := l.Compressed()
	if err != nil {
		return nil, o.reg.explain(o.ref, err)
	}

	return rc, nil
}

func (o *registryOrigin) referrers(ctx context.Context, d v1.Descriptor) ([]attached, error) {
	var out []attached

	idx, err := remote.Referrers(o.digestRef(d), o.reg.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("list the referrers of %s: %w", o.digestRef(d), o.reg.explain(o.ref, err))
	}

	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}

	for _, m := range im.Manifests {
		out = append(out, attached{desc: m})
	}

	for _, suf := range cosignSuffixes {
		tag := strings.Replace(d.Digest.String(), ":", "-", 1) + suf

		hd, err := remote.Head(o.ref.Context().Tag(tag), o.reg.options(ctx)...)
		if err != nil {
			if isNotFound(err) {
				continue
			}

			return nil, fmt.Errorf("look for the signature tag %s: %w", tag, o.reg.explain(o.ref, err))
		}

		out = append(out, attached{desc: *hd, tag: tag})
	}

	return out, nil
}

func (o *registryOrigin) close() {}

// layoutOrigin reads an OCI image layout folder.
type layoutOrigin struct {
	dir, tag string
	// cleanup removes an unpacked archive.
	cleanup func()
}

const refNameAnnotation = "org.opencontainers.image.ref.name"

func (o *layoutOrigin) index() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(o.dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w", o.dir, err)
	}

	return v1.ParseIndexManifest(bytes.NewReader(b))
}

func (o *layoutOrigin) root(context.Context) (v1.Descriptor, error) {
	im, err := o.index()
	if err != nil {
		return v1.Descriptor{}, err
	}

	var names []string

	for _, m := range im.Manifests {
		n := m.Annotations[refNameAnnotation]
		if o.tag != "" && n == o.tag || o.tag == "" && len(im.Manifests) == 1 {
			return m, nil
		}

		names = append(names, n)
	}

	if o.tag == "" {
		return v1.Descriptor{}, fmt.Errorf("the OCI layout %s holds %d images (%s): name one as oci:%s:TAG", o.dir, len(im.Manifests), strings.Join(names, ", "), o.dir)
	}

	return v1.Descriptor{}, fmt.Errorf("image %s not found in the OCI layout %s (it holds %s)", o.tag, o.dir, strings.Join(names, ", "))
}

func (o *layoutOrigin) path(d v1.Descriptor) string {
	return filepath.Join(o.dir, "blobs", d.Digest.Algorithm, d.Digest.Hex)
}

func (o *layoutOrigin) manifest(_ context.Context, d v1.Descriptor) ([]byte, error) {
	return os.ReadFile(o.path(d))
}

func (o *layoutOrigin) blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	return os.Open(o.path(d))
}

// referrers are the layout's cosign-tagged entries for d.
func (o *layoutOrigin) referrers(_ context.Context, d v1.Descriptor) ([]attached, error) {
	im, err := o.index()
	if err != nil {
		return nil, err
	}

	prefix := strings.Replace(d.Digest.String(), ":", "-", 1)

	var out []attached

	for _, m := range im.Manifests {
		if n := m.Annotations[refNameAnnotation]; strings.HasPrefix(n, prefix+".") {
			out = append(out, attached{desc: m, tag: n})
		}
	}

	return out, nil
}

func (o *layoutOrigin) close() {
	if o.cleanup != nil {
		o.cleanup()
	}
}

// openOCIArchive unpacks a tar of an OCI layout into a private temporary
// folder, refusing entries that would land outside it.
func openOCIArchive(file string) (origin, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	tmp, err := os.MkdirTemp("", "lifeboat-oci-archive-")
	if err != nil {
		return nil, err
	}

	o := &layoutOrigin{dir: tmp, cleanup: func() { os.RemoveAll(tmp) }}

	tr := tar.NewReader(f)

	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}

		if err != nil {
			o.close()
			return nil, fmt.Errorf("read %s: %w", file, err)
		}

		p := filepath.Join(tmp, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, tmp+string(filepath.Separator)) {
			o.close()
			return nil, fmt.Errorf("read %s: entry %q lies outside the archive", file, h.Name)
		}

		if h.Typeflag != tar.TypeReg {
			continue
		}

		if err := writeFile(p, tr); err != nil {
			o.close()
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
	}

	return o, nil
}

func writeFile(p string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}

	w, err := os.Create(p)
	if err != nil {
		return err
	}

	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}

	return w.Close()
}

// imageOrigin serves one v1.Image (a docker-archive's).
type imageOrigin struct {
	img  v1.Image
	file string
}

func openDockerArchive(file string) (origin, error) {
	if _, err := os.Stat(file); err != nil {
		return nil, err
	}

	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return nil, fmt.Errorf("read the docker archive %s: %w", file, err)
	}

	return &imageOrigin{img: img, file: file}, nil
}

func (o *imageOrigin) root(context.Context) (v1.Descriptor, error) {
	d, err := partial.Descriptor(o.img)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read the docker archive %s: %w", o.file, err)
	}

	return *d, nil
}

func (o *imageOrigin) manifest(context.Context, v1.Descriptor) ([]byte, error) {
	return o.img.RawManifest()
}

func (o *imageOrigin) blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	cfg, err := o.img.ConfigName()
	if err != nil {
		return nil, err
	}

	if d.Digest == cfg {
		b, err := o.img.RawConfigFile()
		if err != nil {
			return nil, err
		}

		return io.NopCloser(bytes.NewReader(b)), nil
	}

	l, err := o.img.LayerByDigest(d.Digest)
	if err != nil {
		return nil, err
	}

	return l.Compressed()
}

func (o *imageOrigin) referrers(context.Context, v1.Descriptor) ([]attached, error) { return nil, nil }

func (o *imageOrigin) close() {}
