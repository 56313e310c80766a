package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// RestoreTest restores every image of snap into a scratch OCI layout (each
// blob checked while written), then reads every blob back from the layout
// and checks its digest and size, and that each image's manifest digest is
// the one recorded.
func (s *Source) RestoreTest(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	rep := &source.TestReport{Snapshot: snap, What: "blobs"}

	var doc *indexDoc

	return source.RestoreTestInFolder(ctx, r, s.cfg.Name, rep, opt, func(dir string) error {
		var err error
		if doc, err = readIndex(ctx, r, snap); err != nil {
			return err
		}

		if _, err := writeLayout(ctx, r, snap, doc.Images, dir, opt.Progress); err != nil {
			return fmt.Errorf("restore snapshot %s: %w", snap.ID, err)
		}

		return nil
	}, func(dir string) error {
		checked := map[string]bool{}

		for _, im := range doc.Images {
			for _, b := range append(append([]blobRec(nil), im.Blobs...), im.AttachedBlobs...) {
				if checked[b.Digest] {
					continue
				}

				checked[b.Digest] = true

				if p := checkBlob(dir, b); p != "" {
					rep.Problems = append(rep.Problems, im.Ref+": "+p)
				}
			}

			if len(im.Blobs) == 0 || im.Blobs[0].Digest != im.Digest {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: the restored root manifest is not the recorded %s", im.Ref, im.Digest))
			}
		}

		rep.Checked = int64(len(checked))

		return nil
	})
}

// checkBlob reads one blob of the layout back; it returns what is wrong.
func checkBlob(dir string, b blobRec) string {
	h, err := v1.NewHash(b.Digest)
	if err != nil {
		return err.Error()
	}

	f, err := os.Open(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
	if err != nil {
		return fmt.Sprintf("%s %s is missing: %v", b.Role, b.Digest, err)
	}
	defer f.Close()

	vr, err := newVerifying(f, v1.Descriptor{Digest: h, Size: b.Size}, b.Role)
	if err != nil {
		return err.Error()
	}

	if _, err := io.Copy(io.Discard, vr); err != nil {
		return err.Error()
	}

	return ""
}
