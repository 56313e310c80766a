package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

// layer is a random gzip layer of about size bytes.
func layer(t *testing.T, size int64) v1.Layer {
	t.Helper()

	l, err := random.Layer(size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}

	return l
}

// image is an OCI image of the layers ls, built without a Docker daemon.
// (Debian's skopeo reads OCI media types only from an OCI layout.)
func image(t *testing.T, ls ...v1.Layer) v1.Image {
	t.Helper()

	oci := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)

	img, err := mutate.AppendLayers(oci, ls...)
	if err != nil {
		t.Fatal(err)
	}

	return img
}

func push(t *testing.T, ref string, img v1.Image, opts ...remote.Option) v1.Hash {
	t.Helper()

	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}

	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}

	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	return d
}

func digestOf(t *testing.T, l v1.Layer) string {
	t.Helper()

	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}

	return d.String()
}

// proxy stands between the source and the registry: it counts the blob
// GETs by digest and can flip one byte of a chosen blob.
type proxy struct {
	host    string
	mu      sync.Mutex
	gets    map[string]int
	corrupt string
}

var blobPath = regexp.MustCompile(`/blobs/(sha256:[0-9a-f]{64})$`)

func startProxy(t *testing.T, registry string) *proxy {
	t.Helper()

	p := &proxy{gets: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: registry})
	rp.ModifyResponse = func(resp *http.Response) error {
		m := blobPath.FindStringSubmatch(resp.Request.URL.Path)
		if m == nil || resp.Request.Method != http.MethodGet {
			return nil
		}

		p.mu.Lock()
		p.gets[m[1]]++
		corrupt := p.corrupt == m[1]
		p.mu.Unlock()

		if corrupt && resp.StatusCode == http.StatusOK {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}

			resp.Body.Close()
			b[len(b)/2] ^= 0xff
			resp.Body = io.NopCloser(bytes.NewReader(b))
		}

		return nil
	}

	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)

	u, _ := url.Parse(srv.URL)
	p.host = u.Host

	return p
}

func (p *proxy) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()

	out := p.gets
	p.gets = map[string]int{}

	return out
}

func newRepo(t *testing.T) *repo.Repository {
	t.Helper()

	ctx := context.Background()
	pw := repo.Password{Value: "images", Origin: "test"}
	dir := filepath.Join(t.TempDir(), "repo")

	if err := repo.Create(ctx, dir, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, dir, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(ctx) })

	return r
}

func newSource(images []string, im config.Image, env map[string]string) *Source {
	im.Images = images

	return New(&config.Source{Name: "images", Type: config.KindImage, Image: im}, func(k string) string { return env[k] })
}

func skopeo(t *testing.T, args ...string) string {
	t.Helper()

	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatal("skopeo is not installed: apt-get install -y skopeo (scripts/install-deps.sh test does)")
	}

	out, err := exec.Command("skopeo", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	return string(out)
}

func inspectDigest(t *testing.T, args ...string) string {
	t.Helper()

	var out struct{ Digest string }
	if err := json.Unmarshal([]byte(skopeo(t, append([]string{"inspect", "--tls-verify=false"}, args...)...)), &out); err != nil {
		t.Fatal(err)
	}

	return out.Digest
}

func TestRegistryBackupIsIncrementalAndRestoresTheSameDigests(t *testing.T) {
	ctx := context.Background()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	px := startProxy(t, reg.Host)

	base, appL, webL := layer(t, 1<<20), layer(t, 64<<10), layer(t, 32<<10)
	appD := push(t, reg.Host+"/sml/app:latest", image(t, base, appL))
	push(t, reg.Host+"/sml/nginx:latest", image(t, base, webL))

	r := newRepo(t)
	src := newSource([]string{px.host + "/sml/app:latest", px.host + "/sml/nginx:latest"}, config.Image{}, nil)

	first, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}

	gets := px.take()
	if gets[digestOf(t, base)] != 1 || gets[digestOf(t, appL)] != 1 || gets[digestOf(t, webL)] != 1 || len(gets) != 5 {
		t.Fatalf("the first backup should read the shared base once, each own layer and config once: %v", gets)
	}

	// A new release of the app: one more layer.
	newL := layer(t, 16<<10)
	app2 := image(t, base, appL, newL)
	app2D := push(t, reg.Host+"/sml/app:latest", app2)
	cfg2, _ := app2.ConfigName()

	second, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}

	gets = px.take()
	if len(gets) != 2 || gets[digestOf(t, newL)] != 1 || gets[cfg2.String()] != 1 {
		t.Fatalf("the second backup should read only the new layer and the new config, read %v", gets)
	}

	if second.Extra["image0"] != px.host+"/sml/app:latest@"+app2D.String() || first.Extra["image0"] != px.host+"/sml/app:latest@"+appD.String() {
		t.Fatalf("tags not recorded with their digests: %v / %v", first.Extra, second.Extra)
	}

	if _, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental, Version: "test"}); err != nil {
		t.Fatal(err)
	}

	if gets = px.take(); len(gets) != 0 {
		t.Fatalf("a backup of unchanged images read blobs: %v", gets)
	}

	// Another source of the same repository with an image already held:
	// nothing to read either.
	other := New(&config.Source{Name: "web", Type: config.KindImage, Image: config.Image{Images: []string{px.host + "/sml/nginx:latest"}}}, nil)
	if _, err := other.Backup(ctx, r, source.BackupOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}

	if gets = px.take(); len(gets) != 0 {
		t.Fatalf("a second source read blobs the repository holds: %v", gets)
	}

	t.Run("push to another name keeps the digest", func(t *testing.T) {
		_, err := src.Restore(ctx, r, second, "docker://"+reg.Host+"/restored/app:v2", source.RestoreOptions{})
		if err == nil || !strings.Contains(err.Error(), "--image") {
			t.Fatalf("a restore of one of two images without --image: %v", err)
		}

		if _, err := src.Restore(ctx, r, second, "docker://"+reg.Host+"/restored/app:v2", source.RestoreOptions{Image: px.host + "/sml/app:latest"}); err != nil {
			t.Fatal(err)
		}

		got := inspectDigest(t, "docker://"+reg.Host+"/restored/app:v2")
		if want := inspectDigest(t, "docker://"+reg.Host+"/sml/app:latest"); got != want || got != app2D.String() {
			t.Fatalf("restored digest %s, original %s", got, want)
		}

		// The older snapshot gives back the older release.
		if _, err := src.Restore(ctx, r, first, "docker://"+reg.Host+"/restored/app:v1", source.RestoreOptions{Image: px.host + "/sml/app:latest"}); err != nil {
			t.Fatal(err)
		}

		if got := inspectDigest(t, "docker://"+reg.Host+"/restored/app:v1"); got != appD.String() {
			t.Fatalf("restored v1 digest %s, want %s", got, appD)
		}
	})

	t.Run("docker archive loads with skopeo", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "app.tar")
		if _, err := src.Restore(ctx, r, second, "docker-archive:"+file, source.RestoreOptions{Image: px.host + "/sml/app:latest"}); err != nil {
			t.Fatal(err)
		}

		out := filepath.Join(t.TempDir(), "copied")
		skopeo(t, "copy", "docker-archive:"+file, "oci:"+out+":app")

		var ins struct{ Layers []string }
		if err := json.Unmarshal([]byte(skopeo(t, "inspect", "docker-archive:"+file)), &ins); err != nil {
			t.Fatal(err)
		}

		if len(ins.Layers) != 3 {
			t.Fatalf("the archive holds %d layers, want 3", len(ins.Layers))
		}

		if _, err := src.Restore(ctx, r, second, "docker-archive:"+file, source.RestoreOptions{Image: px.host + "/sml/app:latest"}); !errorsIsNotEmpty(err) {
			t.Fatalf("a restore over an existing archive without overwrite: %v", err)
		}
	})

	t.Run("OCI layout and restore test", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "layout")
		if _, err := src.Restore(ctx, r, second, "oci:"+dir, source.RestoreOptions{Image: px.host + "/sml/nginx:latest"}); err != nil {
			t.Fatal(err)
		}

		if got, want := inspectDigest(t, "oci:"+dir+":latest"), inspectDigest(t, "docker://"+reg.Host+"/sml/nginx:latest"); got != want {
			t.Fatalf("OCI layout digest %s, want %s", got, want)
		}

		rep, err := src.RestoreTest(ctx, r, second, source.TestOptions{})
		if err != nil || !rep.OK() || rep.Checked != 8 {
			t.Fatalf("restore test: %v %+v", err, rep)
		}

		rep, err = src.RestoreTest(ctx, r, second, source.TestOptions{Tamper: func(_ context.Context, dir string) error {
			h, _ := v1.NewHash(digestOf(t, newL))
			p := filepath.Join(dir, "blobs", "sha256", h.Hex)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}

			b[10] ^= 1

			return os.WriteFile(p, b, 0o644)
		}})
		if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Problems, ";"), digestOf(t, newL)) {
			t.Fatalf("a changed layer went unnoticed: %v %+v", err, rep)
		}
	})

	t.Run("verify", func(t *testing.T) {
		snaps, err := r.Snapshots(ctx, "images")
		if err != nil {
			t.Fatal(err)
		}

		res, err := r.Verify(ctx, snaps, nil)
		if err != nil || !res.OK() {
			t.Fatalf("verify: %v %v", err, res.Problems)
		}
	})
}

func errorsIsNotEmpty(err error) bool {
	return err != nil && strings.Contains(err.Error(), source.ErrTargetNotEmpty.Error())
}

func TestMultiPlatformIndexRoundTrips(t *testing.T) {
	ctx := context.Background()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})

	base := layer(t, 64<<10)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: image(t, base, layer(t, 8<<10)), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: image(t, base, layer(t, 8<<10)), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)

	ref, _ := name.ParseReference(reg.Host + "/sml/multi:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}

	want, _ := idx.Digest()
	r := newRepo(t)
	src := newSource([]string{reg.Host + "/sml/multi:1"}, config.Image{}, nil)

	snap, err := src.Backup(ctx, r, source.BackupOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := src.Restore(ctx, r, snap, "docker://"+reg.Host+"/copy/multi:restored", source.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}

	raw := skopeo(t, "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Host+"/copy/multi:restored")
	sum := sha256.Sum256([]byte(raw))

	if got := "sha256:" + hex.EncodeToString(sum[:]); got != want.String() {
		t.Fatalf("restored index digest %s, want %s", got, want)
	}

	got, _ := name.ParseReference(reg.Host + "/copy/multi:restored")

	ii, err := remote.Index(got)
	if err != nil {
		t.Fatal(err)
	}

	im, _ := ii.IndexManifest()
	for _, m := range im.Manifests {
		img, err := ii.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}

		if err := validateLayers(img); err != nil {
			t.Fatalf("platform %s: %v", m.Platform, err)
		}
	}

	if len(im.Manifests) != 2 {
		t.Fatalf("the restored index has %d platforms, want 2", len(im.Manifests))
	}

	t.Run("configured platforms only", func(t *testing.T) {
		r := newRepo(t)
		src := newSource([]string{reg.Host + "/sml/multi:1"}, config.Image{Platforms: []string{"linux/arm64"}}, nil)

		snap, err := src.Backup(ctx, r, source.BackupOptions{Version: "test"})
		if err != nil {
			t.Fatal(err)
		}

		doc, err := readIndex(ctx, r, snap)
		if err != nil {
			t.Fatal(err)
		}

		if im := doc.Images[0]; !im.Partial || strings.Join(im.Platforms, ",") != "linux/arm64/v8" || im.Digest != want.String() {
			t.Fatalf("recorded %+v", im)
		}

		dir := filepath.Join(t.TempDir(), "arm")
		if _, err := src.Restore(ctx, r, snap, "oci:"+dir, source.RestoreOptions{}); err != nil {
			t.Fatal(err)
		}

		got := inspectDigest(t, "--override-arch=arm64", "--override-variant=v8", "oci:"+dir+":1")
		if got == "" {
			t.Fatal("skopeo found no arm64 image in the restored layout")
		}
	})
}

func validateLayers(img v1.Image) error {
	ls, err := img.Layers()
	if err != nil {
		return err
	}

	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}

		if _, err := io.Copy(io.Discard, rc); err != nil {
			return err
		}

		if err := rc.Close(); err != nil {
			return err
		}
	}

	return nil
}

func TestBadInputStoresNothing(t *testing.T) {
	ctx := context.Background()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	px := startProxy(t, reg.Host)

	base, own := layer(t, 256<<10), layer(t, 16<<10)
	push(t, reg.Host+"/sml/app:latest", image(t, base, own))

	none := func(t *testing.T, r *repo.Repository) {
		t.Helper()

		snaps, err := r.Snapshots(ctx, "images")
		if err != nil || len(snaps) != 0 {
			t.Fatalf("a failed backup left snapshots: %v %v", snaps, err)
		}
	}

	t.Run("unknown image", func(t *testing.T) {
		r := newRepo(t)
		src := newSource([]string{reg.Host + "/sml/app:latest", reg.Host + "/sml/missing:latest"}, config.Image{}, nil)

		_, err := src.Backup(ctx, r, source.BackupOptions{})
		if err == nil || !strings.Contains(err.Error(), "sml/missing:latest not found") {
			t.Fatalf("want the missing image named, got %v", err)
		}

		none(t, r)
	})

	t.Run("corrupt layer", func(t *testing.T) {
		r := newRepo(t)
		px.corrupt = digestOf(t, own)
		defer func() { px.corrupt = "" }()

		src := newSource([]string{px.host + "/sml/app:latest"}, config.Image{}, nil)

		_, err := src.Backup(ctx, r, source.BackupOptions{})
		if err == nil || !strings.Contains(err.Error(), "layer "+digestOf(t, own)) {
			t.Fatalf("want the corrupt layer named, got %v", err)
		}

		none(t, r)
	})

	t.Run("wrong credentials", func(t *testing.T) {
		auth := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
		login := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: auth.User, Password: auth.Password}))
		push(t, auth.Host+"/sml/app:latest", image(t, base, own), login)

		r := newRepo(t)
		im := config.Image{UsernameEnv: "REG_USER", PasswordEnv: "REG_PASS"}
		src := newSource([]string{auth.Host + "/sml/app:latest"}, im, map[string]string{"REG_USER": auth.User, "REG_PASS": "not-the-password"})

		_, err := src.Backup(ctx, r, source.BackupOptions{})
		if err == nil || !strings.Contains(err.Error(), "refused the credentials") || strings.Contains(err.Error(), "not-the-password") {
			t.Fatalf("want the refused login said (without the password), got %v", err)
		}

		none(t, r)

		src = newSource([]string{auth.Host + "/sml/app:latest"}, im, map[string]string{"REG_USER": auth.User, "REG_PASS": auth.Password})
		if _, err := src.Backup(ctx, r, source.BackupOptions{}); err != nil {
			t.Fatalf("the right login: %v", err)
		}
	})
}

// TestArchivesAndLayouts backs up an OCI layout, a docker-archive and an
// oci-archive file and restores each with its digest.
func TestArchivesAndLayouts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	base := layer(t, 32<<10)
	img := image(t, base, layer(t, 4<<10))

	lp, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}

	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: "v1"})); err != nil {
		t.Fatal(err)
	}

	skopeo(t, "copy", "oci:"+filepath.Join(dir, "oci")+":v1", "docker-archive:"+filepath.Join(dir, "app.tar")+":sml/app:v1")

	skopeo(t, "copy", "oci:"+filepath.Join(dir, "oci")+":v1", "oci-archive:"+filepath.Join(dir, "app.oci.tar")+":v1")

	r := newRepo(t)
	src := newSource([]string{"oci:" + filepath.Join(dir, "oci") + ":v1", "docker-archive:" + filepath.Join(dir, "app.tar"), "oci-archive:" + filepath.Join(dir, "app.oci.tar")}, config.Image{}, nil)

	snap, err := src.Backup(ctx, r, source.BackupOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}

	want, _ := img.Digest()
	out := filepath.Join(t.TempDir(), "out")

	if _, err := src.Restore(ctx, r, snap, "oci:"+out, source.RestoreOptions{Image: "oci:" + filepath.Join(dir, "oci") + ":v1"}); err != nil {
		t.Fatal(err)
	}

	if got := inspectDigest(t, "oci:"+out+":v1"); got != want.String() {
		t.Fatalf("restored %s, want %s", got, want)
	}

	fromArchive := filepath.Join(t.TempDir(), "from-oci-archive")
	if _, err := src.Restore(ctx, r, snap, "oci:"+fromArchive, source.RestoreOptions{Image: "oci-archive:" + filepath.Join(dir, "app.oci.tar")}); err != nil {
		t.Fatal(err)
	}

	if got := inspectDigest(t, "oci:"+fromArchive+":latest"); got != want.String() {
		t.Fatalf("oci-archive round trip: %s, want %s", got, want)
	}

	archived := inspectDigest(t, "docker-archive:"+filepath.Join(dir, "app.tar"))
	file := filepath.Join(t.TempDir(), "back.tar")

	if _, err := src.Restore(ctx, r, snap, "docker-archive:"+file, source.RestoreOptions{Image: "docker-archive:" + filepath.Join(dir, "app.tar")}); err != nil {
		t.Fatal(err)
	}

	if got := inspectDigest(t, "docker-archive:"+file); got != archived {
		t.Fatalf("docker archive round trip: %s, want %s", got, archived)
	}
}

// TestSignaturesAndReferrersAreKept attaches a cosign-style signature tag and
// an OCI referrer (an artifact whose subject is the image) and finds both
// at the restored name.
func TestSignaturesAndReferrersAreKept(t *testing.T) {
	ctx := context.Background()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})

	img := image(t, layer(t, 32<<10))
	d := push(t, reg.Host+"/sml/app:latest", img)
	desc, _ := partialDescriptor(t, img)

	sigLayer, _ := random.Layer(256, "application/vnd.dev.cosign.simplesigning.v1+json")
	sig := image(t, sigLayer)
	sigD := push(t, reg.Host+"/sml/app:"+strings.Replace(d.String(), ":", "-", 1)+".sig", sig)

	sbom := mutate.Subject(image(t, layer(t, 512)), desc).(v1.Image)
	sbomD, _ := sbom.Digest()
	push(t, reg.Host+"/sml/app@"+sbomD.String(), sbom)

	r := newRepo(t)
	src := newSource([]string{reg.Host + "/sml/app:latest"}, config.Image{}, nil)

	snap, err := src.Backup(ctx, r, source.BackupOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := src.Restore(ctx, r, snap, "docker://"+reg.Host+"/copy/app:1", source.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}

	sigRef, _ := name.ParseReference(reg.Host + "/copy/app:" + strings.Replace(d.String(), ":", "-", 1) + ".sig")

	got, err := remote.Head(sigRef)
	if err != nil || got.Digest != sigD {
		t.Fatalf("the signature tag at the restored name: %v %v, want %s", got, err, sigD)
	}

	dref, err := name.NewDigest(reg.Host + "/copy/app@" + d.String())
	if err != nil {
		t.Fatal(err)
	}

	idx, err := remote.Referrers(dref)
	if err != nil {
		t.Fatal(err)
	}

	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != sbomD {
		t.Fatalf("the referrers of the restored image: %+v, want %s", im.Manifests, sbomD)
	}
}

func partialDescriptor(t *testing.T, img v1.Image) (v1.Descriptor, error) {
	t.Helper()

	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()

	return v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}, nil
}

// TestTLSWithCustomCAAndDockerConfig reads a registry serving HTTPS with a
// private CA, logging in from a Docker config file: refused without ca_file,
// read with it.
func TestTLSWithCustomCAAndDockerConfig(t *testing.T) {
	ctx := context.Background()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Auth: true})

	pem, _ := os.ReadFile(reg.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	push(t, reg.Host+"/sml/app:latest", image(t, layer(t, 16<<10)), remote.WithTransport(tr),
		remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: reg.User, Password: reg.Password})))

	dc := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password))
	os.WriteFile(dc, []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600)

	r := newRepo(t)

	_, err := newSource([]string{reg.Host + "/sml/app:latest"}, config.Image{DockerConfig: dc}, nil).Backup(ctx, r, source.BackupOptions{})
	if err == nil {
		t.Fatal("a registry whose CA is not trusted was read")
	}

	if _, err := newSource([]string{reg.Host + "/sml/app:latest"}, config.Image{DockerConfig: dc, CAFile: reg.CAFile}, nil).Backup(ctx, r, source.BackupOptions{}); err != nil {
		t.Fatalf("with ca_file and the Docker config: %v", err)
	}
}

// TestPlainHTTPOnlyToLoopbackOrWhenConfigured: go-containerregistry falls
// back to HTTP for private addresses by itself; the source refuses unless
// the registry is on loopback or insecure is set.
func TestPlainHTTPOnlyToLoopbackOrWhenConfigured(t *testing.T) {
	reached := 0
	next := roundTripper(func(*http.Request) (*http.Response, error) {
		reached++
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(""))}, nil
	})

	for _, c := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"http://192.168.1.20:5000/v2/", false, false},
		{"http://registry.example.org/v2/", false, false},
		{"http://192.168.1.20:5000/v2/", true, true},
		{"http://127.0.0.1:5000/v2/", false, true},
		{"http://[::1]:5000/v2/", false, true},
		{"https://192.168.1.20:5000/v2/", false, true},
	} {
		reached = 0
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		_, err := (&httpGuard{next: next, insecure: c.insecure}).RoundTrip(req)

		if c.ok != (err == nil) || c.ok != (reached == 1) {
			t.Errorf("%s (insecure %v): err %v, reached %d", c.url, c.insecure, err, reached)
		}

		if err != nil && !strings.Contains(err.Error(), "insecure: true") {
			t.Errorf("the refusal does not say how to allow it: %v", err)
		}
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
