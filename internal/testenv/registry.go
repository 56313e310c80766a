//go:build linux

package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a private container registry (Debian's docker-registry, the
// reference distribution server) on loopback, with its data in a temporary
// folder.
type Registry struct {
	// Host is HOST:PORT on 127.0.0.1.
	Host string
	// User and Password are set when the registry asks for a login.
	User, Password string
	// CAFile is the CA that signed the registry's certificate (TLS only).
	CAFile string

	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// RegistryOptions choose how the registry is started.
type RegistryOptions struct {
	// Auth makes the registry refuse requests without User and Password
	// (htpasswd).
	Auth bool
	// TLS serves HTTPS only, with a certificate from a CA of its own
	// (CAFile).
	TLS bool
}

// StartRegistry starts docker-registry on a free loopback port, waits until
// it answers and stops it when the test ends.
func StartRegistry(t testing.TB, opt RegistryOptions) *Registry {
	t.Helper()

	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry is not installed: the image tests need a real registry; install it with `apt-get install -y docker-registry` (scripts/install-deps.sh test does)")
	}

	r := &Registry{dir: t.TempDir()}

	for attempt := 1; ; attempt++ {
		err := r.start(bin, opt)
		if err == nil {
			break
		}

		if attempt == 3 {
			t.Fatal(err)
		}

		t.Logf("%v; starting docker-registry again on another port", err)
	}

	t.Cleanup(r.Stop)

	return r
}

func (r *Registry) start(bin string, opt RegistryOptions) error {
	port, err := freePort()
	if err != nil {
		return err
	}

	r.Host = "127.0.0.1:" + strconv.Itoa(port)

	cf, scheme, err := r.writeConfig(opt)
	if err != nil {
		return err
	}

	logf, err := os.Create(filepath.Join(r.dir, "registry.log"))
	if err != nil {
		return err
	}
	defer logf.Close()

	r.cmd = exec.Command(bin, "serve", cf)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}

	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start docker-registry: %w", err)
	}

	r.exited = make(chan struct{})

	go func() {
		r.cmd.Wait() //nolint:errcheck // the exit is noticed through exited
		close(r.exited)
	}()

	client, err := r.client()
	if err != nil {
		return err
	}

	err = Poll(30*time.Second, func() error {
		select {
		case <-r.exited:
			return errExited
		default:
		}

		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, scheme+"://"+r.Host+"/v2/", nil)

		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()

		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("GET /v2/: %s", resp.Status)
		}

		return nil
	})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(r.dir, "registry.log"))
		r.Stop()

		return fmt.Errorf("docker-registry on %s did not become ready: %w\n%s", r.Host, err, tail(log, 20))
	}

	return nil
}

// writeConfig writes the registry's configuration file (and its htpasswd
// and certificates) and returns its path and the scheme it serves.
func (r *Registry) writeConfig(opt RegistryOptions) (string, string, error) {
	auth := ""

	if opt.Auth {
		r.User, r.Password = "lifeboat", "registry-secret-5b1e"

		hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
		if err != nil {
			return "", "", err
		}

		if err := os.WriteFile(filepath.Join(r.dir, "htpasswd"), []byte(r.User+":"+string(hash)+"\n"), 0o600); err != nil {
			return "", "", err
		}

		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: lifeboat-test\n    path: %s\n", filepath.Join(r.dir, "htpasswd"))
	}

	scheme, tlsConf := "http", ""

	if opt.TLS {
		// The S3 server's certificate maker writes ca.pem, server.pem and
		// server.key into the folder it is given.
		if err := (&S3{dir: r.dir}).makeCerts(); err != nil {
			return "", "", err
		}

		r.CAFile, scheme = filepath.Join(r.dir, "ca.pem"), "https"
		tlsConf = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", filepath.Join(r.dir, "server.pem"), filepath.Join(r.dir, "server.key"))
	}

	conf := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: lifeboat-test-secret
%s%s`, filepath.Join(r.dir, "data"), r.Host, tlsConf, auth)

	cf := filepath.Join(r.dir, "config.yml")

	return cf, scheme, os.WriteFile(cf, []byte(conf), 0o600)
}

var errExited = errors.New("docker-registry exited")

// client trusts the registry's own CA when it serves TLS.
func (r *Registry) client() (*http.Client, error) {
	if r.CAFile == "" {
		return http.DefaultClient, nil
	}

	pem, err := os.ReadFile(r.CAFile)
	if err != nil {
		return nil, err
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)

	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// Log is what the registry wrote so far (its access log included).
func (r *Registry) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "registry.log"))
	return string(b)
}

// Stop stops the registry and waits for it to exit.
func (r *Registry) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}

	select {
	case <-r.exited:
		return
	default:
	}

	r.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited meanwhile

	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill() //nolint:errcheck
		<-r.exited
	}
}
