// Command smlimages builds the Smart Library's two container images (the
// application and its nginx front) into an OCI image layout, without a
// Docker daemon: both share one base layer, as images built FROM the same
// base do. The demo backs them up as a `type: image` source.
//
//	smlimages build DIR        app and nginx, sharing a base, as DIR:app and DIR:nginx
//	smlimages release DIR      a new release of app: one more layer
//	smlimages digest DIR NAME  the manifest digest of DIR:NAME
package main

import (
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const refName = "org.opencontainers.image.ref.name"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "smlimages:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: smlimages build|release DIR | digest DIR NAME")
	}

	dir := args[1]

	switch {
	case args[0] == "build":
		return build(dir)
	case args[0] == "release":
		return release(dir)
	case args[0] == "digest" && len(args) == 3:
		img, err := find(dir, args[2])
		if err != nil {
			return err
		}

		d, err := img.Digest()
		if err != nil {
			return err
		}

		fmt.Println(d)

		return nil
	}

	return fmt.Errorf("unknown command %q", args[0])
}

// image is an OCI image of the layers ls.
func image(ls ...v1.Layer) (v1.Image, error) {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	return mutate.AppendLayers(base, ls...)
}

func build(dir string) error {
	// Random bytes stand in for a distribution's files: they do not
	// compress, like the compressed layers of a real base image.
	base, err := random.Layer(8<<20, types.OCILayer)
	if err != nil {
		return err
	}

	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}

	for name, size := range map[string]int64{"app": 2 << 20, "nginx": 1 << 20} {
		own, err := random.Layer(size, types.OCILayer)
		if err != nil {
			return err
		}

		img, err := image(base, own)
		if err != nil {
			return err
		}

		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refName: name})); err != nil {
			return err
		}
	}

	return nil
}

func find(dir, name string) (v1.Image, error) {
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
		if m.Annotations[refName] == name {
			return idx.Image(m.Digest)
		}
	}

	return nil, fmt.Errorf("%s holds no image %s", dir, name)
}

func release(dir string) error {
	app, err := find(dir, "app")
	if err != nil {
		return err
	}

	next, err := random.Layer(512<<10, types.OCILayer)
	if err != nil {
		return err
	}

	img, err := mutate.AppendLayers(app, next)
	if err != nil {
		return err
	}

	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}

	return p.ReplaceImage(img, match.Annotation(refName, "app"), layout.WithAnnotations(map[string]string{refName: "app"}))
}
