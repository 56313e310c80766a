package config

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// KindImage is a source of container images.
const KindImage = "image"

// Image is where a `type: image` source reads its images and how.
type Image struct {
	// Images are references: registry names (HOST/NAME:TAG or @DIGEST),
	// docker-archive:FILE, oci-archive:FILE or oci:DIR (an OCI layout,
	// optionally oci:DIR:TAG).
	Images []string
	// Platforms keeps only these platforms of a multi-platform index
	// ("linux/amd64", "linux/arm64/v8"); empty keeps every one.
	Platforms []string
	// Insecure allows plain HTTP to registries that are not on loopback.
	Insecure bool
	// CAFile is a PEM bundle trusted besides the system's authorities.
	CAFile string
	// DockerConfig is a Docker config.json with registry credentials
	// (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json).
	DockerConfig string
	// UsernameEnv and PasswordEnv name environment variables holding one
	// registry login, used instead of the Docker config.
	UsernameEnv string
	PasswordEnv string
}

// imageKeys are the keys a `type: image` source accepts.
var imageKeys = []string{"type", "tier", "images", "platforms", "insecure", "ca_file", "docker_config", "username_env", "password_env", "schedule", "retention", "verify"}

func (p *parser) image(n *yaml.Node, key string, m map[string]*yaml.Node, im *Image) {
	v, ok := m["images"]
	if !ok {
		p.fail(n, key+".images", "missing; expected a list of image references (registry.example.com/app:latest, docker-archive:FILE, oci-archive:FILE, oci:DIR)")
		return
	}

	im.Images = p.stringList(v, key+".images")
	if len(im.Images) == 0 && v.Kind == yaml.SequenceNode {
		p.fail(v, key+".images", "empty; expected at least one image reference")
	}

	seen := map[string]bool{}

	for i, ref := range im.Images {
		if seen[ref] {
			p.fail(v.Content[i], key+".images", "%q is listed twice", ref)
		}

		seen[ref] = true

		for _, scheme := range []string{"docker-archive:", "oci-archive:", "oci:"} {
			if rest, ok := strings.CutPrefix(ref, scheme); ok && !strings.HasPrefix(rest, "/") {
				p.fail(v.Content[i], key+".images", "%q: expected an absolute path after %s", ref, scheme)
			}
		}
	}

	if v, ok := m["platforms"]; ok {
		im.Platforms = p.stringList(v, key+".platforms")
		for i, pl := range im.Platforms {
			if parts := strings.Split(pl, "/"); len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
				p.fail(v.Content[i], key+".platforms", "%q: expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64", pl)
			}
		}
	}

	if v, ok := m["insecure"]; ok {
		b, err := strconv.ParseBool(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode {
			p.fail(v, key+".insecure", "expected true or false, found %s", describe(v))
		}

		im.Insecure = b
	}

	if v, ok := m["ca_file"]; ok {
		im.CAFile = p.absPath(v, key+".ca_file")
	}

	if v, ok := m["docker_config"]; ok {
		im.DockerConfig = p.absPath(v, key+".docker_config")
	}

	for k, dst := range map[string]*string{"username_env": &im.UsernameEnv, "password_env": &im.PasswordEnv} {
		if v, ok := m[k]; ok {
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				p.fail(v, key+"."+k, "expected the name of an environment variable, found %s", describe(v))
				continue
			}

			*dst = v.Value
		}
	}

	p.secretVar(m["password_env"], key+".password_env")

	if (im.UsernameEnv == "") != (im.PasswordEnv == "") {
		p.fail(n, key, "give username_env and password_env together")
	}
}
