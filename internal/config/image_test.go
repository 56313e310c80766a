package config

import (
	"strings"
	"testing"
)

func TestImageSource(t *testing.T) {
	cfg, err := Parse("/etc/lifeboat/lifeboat.yaml", []byte(`repository: {path: /b}
sources:
  images:
    type: image
    images: [registry.example.org/sml/app:latest, "oci:/srv/layout:app", "docker-archive:/srv/app.tar"]
    platforms: [linux/amd64, linux/arm64/v8]
    insecure: true
    ca_file: ca.pem
    username_env: REG_USER
    password_env: REG_PASS
`))
	if err != nil {
		t.Fatal(err)
	}

	im := cfg.Sources["images"].Image
	if len(im.Images) != 3 || len(im.Platforms) != 2 || !im.Insecure || im.CAFile != "/etc/lifeboat/ca.pem" || im.UsernameEnv != "REG_USER" {
		t.Fatalf("image source: %+v", im)
	}

	if env := cfg.SecretEnv(); !strings.Contains(strings.Join(env, ","), "REG_PASS") {
		t.Fatalf("the registry password's variable is not a secret: %v", env)
	}
}

func TestImageSourceErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"{type: image}", "sources.i.images: missing"},
		{"{type: image, images: []}", "sources.i.images: empty"},
		{"{type: image, images: [a/b:1, a/b:1]}", `"a/b:1" is listed twice`},
		{"{type: image, images: [\"oci:layout\"]}", "expected an absolute path after oci:"},
		{"{type: image, images: [a/b:1], platforms: [amd64]}", "expected OS/ARCH"},
		{"{type: image, images: [a/b:1], insecure: maybe}", "sources.i.insecure: expected true or false"},
		{"{type: image, images: [a/b:1], password_env: P}", "give username_env and password_env together"},
		{"{type: image, images: [a/b:1], path: /x}", "sources.i.path: unknown key"},
		{"{type: images}", "expected one of: files, git, mysql, image"},
	} {
		_, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  i: "+c.src+"\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.src, err, c.want)
		}
	}
}
