// Command gen writes the images of bench/images into an OCI layout: five
// images (img1..img5) sharing one base layer, each with its own top layer,
// and on each later day replaces the top layer of one image, as a daily
// rebuild of one service does.
//
//	gen -dir DIR -base-mb 200 -own-mb 20 init
//	gen -dir DIR -own-mb 20 -day N step
package main

import (
	"flag"
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

const (
	refName = "org.opencontainers.image.ref.name"
	images  = 5
)

func main() {
	dir := flag.String("dir", "", "the OCI layout")
	baseMB := flag.Float64("base-mb", 200, "size of the shared base layer")
	ownMB := flag.Float64("own-mb", 20, "size of each image's own layer")
	day := flag.Int("day", 0, "the day whose change step makes")
	flag.Parse()

	var err error

	switch flag.Arg(0) {
	case "init":
		err = initLayout(*dir, mb(*baseMB), mb(*ownMB))
	case "step":
		err = step(*dir, mb(*ownMB), *day)
	default:
		err = fmt.Errorf("usage: gen -dir DIR [-base-mb N] [-own-mb N] [-day N] init|step")
	}

	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func mb(f float64) int64 { return int64(f * (1 << 20)) }

func layer(size int64) (v1.Layer, error) { return random.Layer(size, types.OCILayer) }

func initLayout(dir string, base, own int64) error {
	b, err := layer(base)
	if err != nil {
		return err
	}

	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}

	oci := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)

	for i := 1; i <= images; i++ {
		l, err := layer(own)
		if err != nil {
			return err
		}

		img, err := mutate.AppendLayers(oci, b, l)
		if err != nil {
			return err
		}

		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refName: fmt.Sprintf("img%d", i)})); err != nil {
			return err
		}
	}

	return nil
}

// step gives image ((day-1) mod 5)+1 a new top layer.
func step(dir string, own int64, day int) error {
	name := fmt.Sprintf("img%d", (day-1)%images+1)

	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}

	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}

	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}

	for _, m := range im.Manifests {
		if m.Annotations[refName] != name {
			continue
		}

		img, err := idx.Image(m.Digest)
		if err != nil {
			return err
		}

		ls, err := img.Layers()
		if err != nil {
			return err
		}

		l, err := layer(own)
		if err != nil {
			return err
		}

		oci := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)

		next, err := mutate.AppendLayers(oci, append(ls[:len(ls)-1:len(ls)-1], l)...)
		if err != nil {
			return err
		}

		return p.ReplaceImage(next, match.Annotation(refName, name), layout.WithAnnotations(map[string]string{refName: name}))
	}

	return fmt.Errorf("%s holds no %s", dir, name)
}
