//go:build linux

package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"lifeboat/internal/clock"
)

// S3 is a private S3-compatible server (SeaweedFS) on loopback.
type S3 struct {
	Endpoint  string
	AccessKey string
	SecretKey string

	// CAFile is the CA that signed the server's certificate (TLS only).
	CAFile string

	dir   string
	cmd   *exec.Cmd
	t     testing.TB
	ports []int
	// exited is closed when weed has exited and been waited for.
	exited chan struct{}
	tls    bool
}

// WeedPath is where scripts/install-deps.sh builds SeaweedFS's `weed`.
func WeedPath() string {
	if p := os.Getenv("LIFEBOAT_WEED"); p != "" {
		return p
	}

	home, _ := os.UserHomeDir()

	return filepath.Join(home, ".cache", "lifeboat", "weed")
}

// StartS3 starts SeaweedFS with its S3 gateway on free loopback ports and
// stops it when the test ends.
func StartS3(t testing.TB) *S3 {
	t.Helper()

	return startS3(t, false)
}

// StartS3TLS is StartS3 serving HTTPS only, with a certificate from a CA of
// its own (CAFile).
func StartS3TLS(t testing.TB) *S3 {
	t.Helper()

	return startS3(t, true)
}

func startS3(t testing.TB, useTLS bool) *S3 {
	t.Helper()

	bin := WeedPath()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("SeaweedFS's weed is not at %s: the S3 tests need a real S3-compatible server; build it with `bash scripts/install-deps.sh` (make test does), or set LIFEBOAT_WEED", bin)
	}

	s := &S3{AccessKey: "lifeboat-test-access", SecretKey: "lifeboat-test-secret-7f3a", dir: t.TempDir(), t: t, tls: useTLS}

	if useTLS {
		if err := s.makeCerts(); err != nil {
			t.Fatal(err)
		}
	}

	identities := fmt.Sprintf(`{"identities":[{"name":"lifeboat","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`, s.AccessKey, s.SecretKey)
	if err := os.WriteFile(filepath.Join(s.dir, "s3.json"), []byte(identities), 0o600); err != nil {
		t.Fatal(err)
	}

	// Free ports are only free when probed: another package's server may
	// take one before weed binds it. Then weed exits, and fresh ports are
	// tried.
	for attempt := 1; ; attempt++ {
		err := s.start()
		if err == nil {
			break
		}

		if attempt == 3 || !errors.Is(err, errPortTaken) {
			t.Fatal(err)
		}

		t.Logf("%v; starting weed again on other ports", err)
		s.ports = nil
		os.RemoveAll(filepath.Join(s.dir, "data"))
	}

	t.Cleanup(func() { s.Stop() })

	return s
}

// ports returns n free TCP ports whose +10000 (weed's gRPC ports) are free
// too, no two of the 2n alike: a port p+10000 that is another's p makes weed
// die binding it.
func ports(n int) ([]int, error) {
	var out []int

	taken := map[int]bool{}

	for tries := 0; len(out) < n && tries < 200; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}

		p := l.Addr().(*net.TCPAddr).Port
		l.Close()

		if p+10000 > 65535 || taken[p] || taken[p+10000] {
			continue
		}

		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000)); err == nil {
			l2.Close()
			out = append(out, p)
			taken[p], taken[p+10000] = true, true
		}
	}

	if len(out) < n {
		return nil, fmt.Errorf("no %d free port pairs on loopback", n)
	}

	return out, nil
}

func (s *S3) start() error {
	if s.ports == nil {
		p, err := ports(5)
		if err != nil {
			return err
		}

		s.ports = p
	}

	p := s.ports

	s.Endpoint = "127.0.0.1:" + strconv.Itoa(p[3])
	data := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("create the S3 server's data directory: %w", err)
	}

	s.cmd = exec.Command(WeedPath(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir="+data, "-volume.max=0",
		"-master.port="+strconv.Itoa(p[0]), "-volume.port="+strconv.Itoa(p[1]), "-filer", "-filer.port="+strconv.Itoa(p[2]),
		"-s3", "-s3.port="+strconv.Itoa(p[3]), "-s3.config="+filepath.Join(s.dir, "s3.json"),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		// Small volumes: with the default 30 GB, the free space of a test
		// machine allows one bucket only.
		"-master.volumeSizeLimitMB=64", "-master.telemetry=false")

	if s.tls {
		// HTTPS on the S3 port; plain HTTP moved to a port nobody uses.
		s.cmd.Args = append(s.cmd.Args, "-s3.cert.file="+filepath.Join(s.dir, "server.pem"), "-s3.key.file="+filepath.Join(s.dir, "server.key"),
			"-s3.port.https="+strconv.Itoa(p[3]))
		s.cmd.Args[slicesIndex(s.cmd.Args, "-s3.port="+strconv.Itoa(p[3]))] = "-s3.port=" + strconv.Itoa(p[4])
	}

	logf, err := os.Create(filepath.Join(s.dir, "weed.log"))
	if err != nil {
		return err
	}

	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}

	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start weed: %w", err)
	}

	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd

	go func() {
		cmd.Wait() //nolint:errcheck
		close(exited)
	}()

	// Ready when a bucket can be listed.
	wall := clock.Real{}
	deadline := wall.Now().Add(60 * time.Second)

	for wall.Now().Before(deadline) {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(s.dir, "weed.log"))
			s.cmd = nil

			if bytes.Contains(b, []byte("address already in use")) {
				return fmt.Errorf("weed exited: a port was taken: %w", errPortTaken)
			}

			return fmt.Errorf("weed exited before answering on %s; its log ends:\n%s", s.Endpoint, tail(b, logTailLines))
		default:
		}

		cli, err := s.Client()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = cli.ListBuckets(ctx)
			cancel()

			if err == nil {
				return nil
			}
		}

		time.Sleep(250 * time.Millisecond)
	}

	b, _ := os.ReadFile(filepath.Join(s.dir, "weed.log"))

	return fmt.Errorf("weed did not answer on %s within 60s; its log ends:\n%s", s.Endpoint, tail(b, logTailLines))
}

var errPortTaken = errors.New("address already in use")

// Client is an S3 client with the server's credentials.
func (s *S3) Client() (*minio.Client, error) {
	opts := &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: s.tls}

	if s.tls {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, err
		}

		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)

		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}

	return minio.New(s.Endpoint, opts)
}

func slicesIndex(list []string, v string) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}

	return -1
}

// makeCerts writes a CA and a server certificate for 127.0.0.1 signed by it.
func (s *S3) makeCerts() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}

	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lifeboat test CA"},
		NotBefore: clock.Real{}.Now().Add(-time.Hour), NotAfter: clock.Real{}.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}

	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}

	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: clock.Real{}.Now().Add(-time.Hour), NotAfter: clock.Real{}.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}

	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}

	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}

	s.CAFile = filepath.Join(s.dir, "ca.pem")

	for name, block := range map[string]*pem.Block{
		"ca.pem": {Type: "CERTIFICATE", Bytes: caDER}, "server.pem": {Type: "CERTIFICATE", Bytes: leafDER},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(s.dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}

	return nil
}

// MakeBucket creates a bucket.
func (s *S3) MakeBucket(t testing.TB, name string) {
	t.Helper()

	cli, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}

	if err := cli.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
}

// Stop kills the server (its data stays, so Restart finds it again).
func (s *S3) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
		<-s.exited
		s.cmd = nil
	}
}

// Restart starts the server again on the same data and ports.
func (s *S3) Restart() error {
	s.Stop()
	return s.start()
}
