// Package imagegen builds layered container images into an OCI image
// layout without a Docker daemon: images that share a base layer, as images
// built FROM the same base do, and later versions of one of them. The
// Smart Library's images (cmd/smlimages) and bench/images use it.
package imagegen

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RefName is the annotation that names an image in the layout (DIR:NAME).
const RefName = "org.opencontainers.image.ref.name"

// Own is one image of a layout: its name and the size of its own layer.
type Own struct {
	Name string
	Size int64
}

// Layer is a layer of size random bytes: they do not compress, like the
// compressed layers of a real image.
func Layer(size int64) (v1.Layer, error) { return random.Layer(size, types.OCILayer) }

// Image is an OCI image of the layers ls.
func Image(ls ...v1.Layer) (v1.Image, error) {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	return mutate.AppendLayers(base, ls...)
}

// Build writes a new layout in dir holding one image per own, in that
// order: a base layer of base bytes they all share, then a layer of the
// image's own.
func Build(dir string, base int64, own ...Own) error {
	b, err := Layer(base)
	if err != nil {
		return err
	}

	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}

	for _, o := range own {
		l, err := Layer(o.Size)
		if err != nil {
			return err
		}

		img, err := Image(b, l)
		if err != nil {
			return err
		}

		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{RefName: o.Name})); err != nil {
			return err
		}
	}

	return nil
}

// Find is the image named name in the layout in dir.
func Find(dir, name string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}

	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}

	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}

	for _, m := range im.Manifests {
		if m.Annotations[RefName] == name {
			return idx.Image(m.Digest)
		}
	}

	return nil, fmt.Errorf("%s holds no image %s", dir, name)
}

// Rebuild replaces the image named name in the layout in dir with what
// change makes of it and a new layer of size random bytes.
func Rebuild(dir, name string, size int64, change func(img v1.Image, next v1.Layer) (v1.Image, error)) error {
	img, err := Find(dir, name)
	if err != nil {
		return err
	}

	next, err := Layer(size)
	if err != nil {
		return err
	}

	if img, err = change(img, next); err != nil {
		return err
	}

	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}

	return p.ReplaceImage(img, match.Annotation(RefName, name), layout.WithAnnotations(map[string]string{RefName: name}))
}
