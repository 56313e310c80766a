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

	"lifeboat/examples/sml-library/imagegen"
)

const images = 5

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

func initLayout(dir string, base, own int64) error {
	all := make([]imagegen.Own, 0, images)
	for i := 1; i <= images; i++ {
		all = append(all, imagegen.Own{Name: fmt.Sprintf("img%d", i), Size: own})
	}

	return imagegen.Build(dir, base, all...)
}

// step gives image ((day-1) mod 5)+1 a new top layer.
func step(dir string, own int64, day int) error {
	return imagegen.Rebuild(dir, fmt.Sprintf("img%d", (day-1)%images+1), own, func(img v1.Image, next v1.Layer) (v1.Image, error) {
		ls, err := img.Layers()
		if err != nil {
			return nil, err
		}

		return imagegen.Image(append(ls[:len(ls)-1:len(ls)-1], next)...)
	})
}
