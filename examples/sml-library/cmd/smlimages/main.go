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
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"lifeboat/examples/sml-library/imagegen"
)

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
		// A base as large as a small distribution's, and the two images'
		// own layers.
		return imagegen.Build(dir, 8<<20, imagegen.Own{Name: "app", Size: 2 << 20}, imagegen.Own{Name: "nginx", Size: 1 << 20})
	case args[0] == "release":
		return imagegen.Rebuild(dir, "app", 512<<10, func(app v1.Image, next v1.Layer) (v1.Image, error) {
			return mutate.AppendLayers(app, next)
		})
	case args[0] == "digest" && len(args) == 3:
		img, err := imagegen.Find(dir, args[2])
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
