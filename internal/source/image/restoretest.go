package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// RestoreTest restores every image of snap into a scratch OCI layout (each
// blob checked while written), then reads every blob back from the layout
// and checks its digest and size, and that each image's manifest digest is
// the one recorded.
func (s *Source) RestoreTest(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	clk := r.Clock()
	start := clk.Now()
	rep := &source.TestReport{Snapshot: snap, What: "blobs"}

	tmp, err := os.MkdirTemp("", "lifeboat-restore-test-")
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", s.cfg.Name, err)
	}
	defer os.RemoveAll(tmp)

	doc, err := readIndex(ctx, r, snap)
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", s.cfg.Name, err)
	}

	if _, err := writeLayout(ctx, r, snap, doc.Images, tmp, opt.Progress); err != nil {
		return nil, fmt.Errorf("restore test of %s: restore snapshot %s: %w", s.cfg.Name, snap.ID, err)
	}

	rep.Restore = clock.Since(clk, start)

	if opt.Tamper != nil {
		if err := opt.Tamper(ctx, tmp); err != nil {
			return nil, err
		}
	}

	checked := map[string]bool{}

	for _, im := range doc.Images {
		for _, b := range append(append([]blobRec(nil), im.Blobs...), im.AttachedBlobs...) {
			if checked[b.Digest] {
				continue
			}

			checked[b.Digest] = true

			if p := checkBlob(tmp, b); p != "" {
				rep.Problems = append(rep.Problems, im.Ref+": "+p)
			}
		}

		if len(im.Blobs) == 0 || im.Blobs[0].Digest != im.Digest {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: the restored root manifest is not the recorded %s", im.Ref, im.Digest))
		}
	}

	rep.Checked = int64(len(checked))
	rep.Total = clock.Since(clk, start)

	return rep, nil
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
