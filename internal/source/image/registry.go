package image

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"lifeboat/internal/config"
)

// registry is how a source talks to registries: its credentials, trusted
// authorities and whether plain HTTP is allowed beyond loopback.
type registry struct {
	cfg    config.Image
	getenv func(string) string
	rt     http.RoundTripper
	err    error
}

func newRegistry(cfg config.Image, getenv func(string) string) *registry {
	r := &registry{cfg: cfg, getenv: getenv}

	base := http.DefaultTransport.(*http.Transport).Clone()

	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			r.err = fmt.Errorf("read ca_file: %w", err)
			return r
		}

		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}

		if !pool.AppendCertsFromPEM(pem) {
			r.err = fmt.Errorf("ca_file %s holds no PEM certificate", cfg.CAFile)
			return r
		}

		base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}

	r.rt = &httpGuard{next: base, insecure: cfg.Insecure}

	return r
}

// httpGuard refuses plain HTTP to a registry that is neither on loopback
// nor configured insecure: go-containerregistry would otherwise fall back
// to HTTP for private (RFC 1918) addresses on its own.
type httpGuard struct {
	next     http.RoundTripper
	insecure bool
}

func (g *httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure && !isLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("plain HTTP to %s refused: only loopback registries are reached without TLS; set `insecure: true` on the source to allow it", req.URL.Host)
	}

	return g.next.RoundTrip(req)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}

	ip := net.ParseIP(host)

	return ip != nil && ip.IsLoopback()
}

func (r *registry) parse(ref string) (name.Reference, error) {
	var opts []name.Option
	if r.cfg.Insecure {
		opts = append(opts, name.Insecure)
	}

	n, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}

	return n, nil
}

func (r *registry) options(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx), remote.WithTransport(r.rt), remote.WithAuthFromKeychain(r.keychain()),
		remote.WithUserAgent("lifeboat"),
	}
}

func (r *registry) keychain() authn.Keychain {
	if r.cfg.UsernameEnv != "" {
		return staticKeychain{authn.FromConfig(authn.AuthConfig{
			Username: r.getenv(r.cfg.UsernameEnv), Password: r.getenv(r.cfg.PasswordEnv),
		})}
	}

	if r.cfg.DockerConfig != "" {
		return dockerConfig(r.cfg.DockerConfig)
	}

	return authn.DefaultKeychain
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

// dockerConfig reads the `auths` of a Docker config.json.
type dockerConfig string

func (f dockerConfig) Resolve(res authn.Resource) (authn.Authenticator, error) {
	b, err := os.ReadFile(filepath.Clean(string(f)))
	if err != nil {
		return nil, fmt.Errorf("read docker_config: %w", err)
	}

	var cf struct {
		Auths map[string]struct {
			Auth     string `json:"auth"`
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auths"`
	}

	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("docker_config %s is not a Docker config file: %w", f, err)
	}

	for host, a := range cf.Auths {
		h := strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
		h, _, _ = strings.Cut(h, "/")

		if h != res.RegistryStr() {
			continue
		}

		user, pass := a.Username, a.Password

		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("docker_config %s: the auth of %s is not base64", f, host)
			}

			user, pass, _ = strings.Cut(string(raw), ":")
		}

		return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
	}

	return authn.Anonymous, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// explain turns a registry's refusal into what the user should check.
func (r *registry) explain(ref name.Reference, err error) error {
	if r.err != nil {
		return r.err
	}

	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("registry %s refused the credentials for %s (HTTP %d): check the Docker config or username_env/password_env of the source: %w",
				ref.Context().RegistryStr(), ref.Context().RepositoryStr(), te.StatusCode, err)
		case http.StatusNotFound:
			return fmt.Errorf("image %s not found in registry %s: %w", ref, ref.Context().RegistryStr(), err)
		}
	}

	return fmt.Errorf("%s: %w", ref, err)
}
