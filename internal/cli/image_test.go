package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"lifeboat/internal/testenv"
)

// TestImageBackupRestoreAndRestoreTest runs an image source through the
// command line against a registry that asks for a login: backup, restore
// with --image to another name, the restore test, and the registry
// password kept out of every output.
func TestImageBackupRestoreAndRestoreTest(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatal("skopeo is not installed: apt-get install -y skopeo (scripts/install-deps.sh test does)")
	}

	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Auth: true})
	login := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: reg.User, Password: reg.Password}))

	base, err := random.Layer(128<<10, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}

	oci := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	digests := map[string]string{}

	for _, n := range []string{"app", "nginx"} {
		own, _ := random.Layer(8<<10, types.OCILayer)
		img, _ := mutate.AppendLayers(oci, base, own)
		ref, _ := name.ParseReference(reg.Host + "/sml/" + n + ":latest")

		if err := remote.Write(ref, img, login); err != nil {
			t.Fatal(err)
		}

		d, _ := img.Digest()
		digests[n] = d.String()
	}

	e := newEnv(t, "  images:\n    type: image\n    images: ["+reg.Host+"/sml/app:latest, "+reg.Host+"/sml/nginx:latest]\n"+
		"    username_env: REG_USER\n    password_env: REG_PASS\n")
	e.vars["REG_USER"], e.vars["REG_PASS"] = reg.User, reg.Password

	e.mustRun("init")
	out := e.mustRun("backup", "images")

	snaps := e.snapshots("images")
	if len(snaps) != 1 || snaps[0].Extra["image0"] != reg.Host+"/sml/app:latest@"+digests["app"] {
		t.Fatalf("the snapshot does not record the tag's digest: %+v", snaps)
	}

	target := "docker://" + reg.Host + "/restored/app:v1"
	e.expectFailure(ExitFailed, []string{"--image", reg.Host + "/sml/app:latest", reg.Host + "/sml/nginx:latest"}, "restore", "images", "--target", target)
	dry := e.mustRun("restore", "images", "--image", reg.Host+"/sml/app:latest", "--target", target, "--dry-run")
	if !strings.Contains(dry, "nothing written") {
		t.Fatalf("dry run: %s", dry)
	}

	if _, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--creds", reg.User+":"+reg.Password, target).CombinedOutput(); err == nil {
		t.Fatal("a dry run pushed the image")
	}

	e.expectFailure(ExitUsage, []string{"for database sources"}, "restore", "images", "--target", target, "--tables", "x")
	out += e.mustRun("restore", "images", "--image", reg.Host+"/sml/app:latest", "--target", target)

	var ins struct{ Digest string }

	raw, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--creds", reg.User+":"+reg.Password, target).CombinedOutput()
	if err != nil || json.Unmarshal(raw, &ins) != nil || ins.Digest != digests["app"] {
		t.Fatalf("restored %s: %v %s, want digest %s", target, err, raw, digests["app"])
	}

	dir := filepath.Join(t.TempDir(), "layout")
	out += e.mustRun("restore", "images", "--target", "oci:"+dir)

	for n, d := range digests {
		raw, err := exec.Command("skopeo", "inspect", "oci:"+dir+":"+reg.Host+"/sml/"+n+":latest").CombinedOutput()
		if err != nil || json.Unmarshal(raw, &ins) != nil || ins.Digest != d {
			t.Fatalf("%s in the OCI layout: %v %s, want %s", n, err, raw, d)
		}
	}

	e.expectFailure(ExitUsage, []string{"not empty"}, "restore", "images", "--target", "oci:"+dir)

	verify := e.mustRun("verify", "images", "--restore-test")
	if !strings.Contains(verify, "blobs") {
		t.Fatalf("the restore test says nothing of the blobs it checked:\n%s", verify)
	}

	audit, _ := os.ReadFile(filepath.Join(e.dir, "audit.jsonl"))
	if strings.Contains(out+verify+string(audit), reg.Password) {
		t.Fatal("the registry password leaked into the output or the audit trail")
	}
}
