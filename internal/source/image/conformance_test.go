package image

import (
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"

	"lifeboat/internal/config"
	"lifeboat/internal/source"
	"lifeboat/internal/source/sourcetest"
)

func TestConformance(t *testing.T) {
	var dir string

	digest := func(t *testing.T, layoutDir string) string {
		t.Helper()

		o := &layoutOrigin{dir: layoutDir, tag: "app"}

		d, err := o.root(t.Context())
		if err != nil {
			t.Fatal(err)
		}

		return d.Digest.String()
	}

	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T, tmp string) source.Source {
			dir = filepath.Join(tmp, "layout")

			p, err := layout.Write(dir, empty.Index)
			if err != nil {
				t.Fatal(err)
			}

			if err := p.AppendImage(image(t, layer(t, 16<<10)), layout.WithAnnotations(map[string]string{refNameAnnotation: "app"})); err != nil {
				t.Fatal(err)
			}

			return New(&config.Source{Name: "images", Type: config.KindImage, Image: config.Image{Images: []string{"oci:" + dir + ":app"}}}, nil)
		},
		Change: func(t *testing.T) {
			p, err := layout.FromPath(dir)
			if err != nil {
				t.Fatal(err)
			}

			err = p.ReplaceImage(image(t, layer(t, 16<<10), layer(t, 4<<10)), match.Annotation(refNameAnnotation, "app"),
				layout.WithAnnotations(map[string]string{refNameAnnotation: "app"}))
			if err != nil {
				t.Fatal(err)
			}
		},
		State: func(t *testing.T, target string) string {
			if target == "" {
				target = dir
			}

			return digest(t, target)
		},
		Inside: func() string { return filepath.Join(dir, "blobs") },
	})
}
