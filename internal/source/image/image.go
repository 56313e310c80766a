// Package image backs up container images blob by blob: from registries,
// docker-archive and oci-archive files and OCI layout folders. Every blob
// (manifest, index, config, layer, signature) is stored byte for byte as one
// repository file named by its digest and checked against that digest as it
// is read; a blob an earlier image snapshot of the repository holds is
// linked, never read again, so a shared base layer costs nothing the second time and an
// unchanged image reads no blob. Restores write an OCI layout, a `docker
// load`-able archive, or push to a registry, each blob checked again while
// written, so the restored manifest digest is the original's.
package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

const (
	blobDir   = "blobs"
	indexFile = "images.json"
)

// Source is a configured `type: image` source.
type Source struct {
	cfg *config.Source
	reg *registry
}

// New returns the image source cfg configures; getenv reads the registry
// credentials the configuration names.
func New(cfg *config.Source, getenv func(string) string) *Source {
	return &Source{cfg: cfg, reg: newRegistry(cfg.Image, getenv)}
}

// Name is the source's configured name.
func (s *Source) Name() string { return s.cfg.Name }

// Kind is "image".
func (s *Source) Kind() string { return config.KindImage }

// Contains reports whether path lies inside an archive or layout the source
// reads.
func (s *Source) Contains(path string) bool {
	for _, ref := range s.cfg.Image.Images {
		for _, scheme := range []string{schemeDockerArchive, schemeOCIArchive, schemeOCI} {
			if rest, ok := strings.CutPrefix(ref, scheme); ok {
				if scheme == schemeOCI {
					rest, _ = splitLayoutRef(rest)
				}

				if repo.Contains(rest, path) {
					return true
				}
			}
		}
	}

	return false
}

// Preview names the images a backup would read.
func (s *Source) Preview(context.Context) (string, error) {
	return "the images " + strings.Join(s.cfg.Image.Images, ", ") + ", blob by blob", nil
}

// blobRec is one blob an image needs.
type blobRec struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type,omitempty"`
	// Role is index, manifest, config or layer.
	Role string `json:"role"`
}

// attachedRec is a signature or attestation kept with an image.
type attachedRec struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
	Tag       string `json:"tag,omitempty"`
}

// imageRec is what a snapshot records of one image: the tag's digest at
// backup time and every blob it needs, for restores and verification.
type imageRec struct {
	Ref       string        `json:"ref"`
	Digest    string        `json:"digest"`
	MediaType string        `json:"media_type"`
	Size      int64         `json:"size"`
	Platforms []string      `json:"platforms,omitempty"`
	Partial   bool          `json:"partial,omitempty"`
	Blobs     []blobRec     `json:"blobs"`
	Attached  []attachedRec `json:"attached,omitempty"`
	// AttachedBlobs are the blobs of the attached artifacts.
	AttachedBlobs []blobRec `json:"attached_blobs,omitempty"`
}

type indexDoc struct {
	Images []*imageRec `json:"images"`
}

func (r *imageRec) desc() v1.Descriptor {
	h, _ := v1.NewHash(r.Digest)
	return v1.Descriptor{Digest: h, MediaType: typeOf(r.MediaType), Size: r.Size}
}

// objectName is a blob's file name in the repository: its digest, with
// the colon a file name cannot safely hold replaced.
func objectName(digest string) string { return strings.Replace(digest, ":", "-", 1) }

// readIndex reads what snap records of its images.
func readIndex(ctx context.Context, r *repo.Repository, snap *repo.Snapshot) (*indexDoc, error) {
	var buf bytes.Buffer
	if err := r.ReadFile(ctx, snap.ID, indexFile, &buf); err != nil {
		return nil, fmt.Errorf("read the image index of snapshot %s: %w", snap.ID, err)
	}

	var doc indexDoc
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("snapshot %s: %s: %w", snap.ID, indexFile, err)
	}

	return &doc, nil
}

// verifying checks a blob's bytes against its digest and size as they are
// read: the reader fails at its end, naming the blob, when they differ.
type verifying struct {
	rc   io.ReadCloser
	h    interface{ Sum([]byte) []byte }
	w    io.Writer
	want v1.Descriptor
	what string
	n    int64
}

func newVerifying(rc io.ReadCloser, want v1.Descriptor, what string) (*verifying, error) {
	h, err := v1.Hasher(want.Digest.Algorithm)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s %s: %w", what, want.Digest, err)
	}

	return &verifying{rc: rc, h: h, w: h, want: want, what: what}, nil
}

func (v *verifying) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.w.Write(p[:n]) //nolint:errcheck // a hash never fails
	v.n += int64(n)

	if err == io.EOF {
		got := fmt.Sprintf("%s:%x", v.want.Digest.Algorithm, v.h.Sum(nil))
		if got != v.want.Digest.String() {
			return n, fmt.Errorf("%s %s: the bytes read have digest %s: the data is corrupt or was changed in transit", v.what, v.want.Digest, got)
		}

		if v.want.Size > 0 && v.n != v.want.Size {
			return n, fmt.Errorf("%s %s: read %d bytes, the manifest says %d", v.what, v.want.Digest, v.n, v.want.Size)
		}
	}

	if err != nil && err != io.EOF {
		return n, fmt.Errorf("%s %s: %w", v.what, v.want.Digest, err)
	}

	return n, err
}

func (v *verifying) Close() error { return v.rc.Close() }

var _ source.Source = (*Source)(nil)
