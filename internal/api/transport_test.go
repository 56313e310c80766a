package api

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/testenv"
)

func parseConfig(t *testing.T, dir, server string) (*config.Config, error) {
	t.Helper()

	file := filepath.Join(dir, "lifeboat.yaml")
	yaml := "repository:\n  path: " + filepath.Join(dir, "repo") + "\naudit:\n  path: " + filepath.Join(dir, "state", "audit.jsonl") + "\nsources:\n  data:\n    type: files\n    paths: [" + dir + "]\n" + server

	return config.Parse(file, []byte(yaml))
}

// TestPlainHTTPBeyondLoopbackRefused: server.tls off on an address beyond
// loopback is refused with how to configure TLS, and nothing is written;
// on loopback it is allowed.
func TestPlainHTTPBeyondLoopbackRefused(t *testing.T) {
	dir := t.TempDir()

	cfg, err := parseConfig(t, dir, "server:\n  listen: 0.0.0.0:9750\n  tls: off\n")
	if err != nil {
		t.Fatal(err)
	}

	_, err = NewTransport(cfg, clock.Real{})
	if !errors.Is(err, ErrPlainExposed) {
		t.Fatalf("plain HTTP on 0.0.0.0: %v", err)
	}

	for _, want := range []string{"server.listen 0.0.0.0:9750 is not a loopback address", "remove `tls: off`", "server: {tls: {cert: FILE, key: FILE}}", "127.0.0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}

	if _, err := os.Stat(filepath.Join(dir, "state")); !os.IsNotExist(err) {
		t.Errorf("a refused start wrote into the state folder: %v", err)
	}

	cfg, err = parseConfig(t, dir, "server:\n  listen: 127.0.0.1:9750\n  tls: off\n")
	if err != nil {
		t.Fatal(err)
	}

	if tr, err := NewTransport(cfg, clock.Real{}); err != nil || tr.TLS != nil {
		t.Fatalf("plain HTTP on loopback: %+v, %v", tr, err)
	}
}

// TestServerConfigErrors: mistakes in server: are told with the key and
// what is expected.
func TestServerConfigErrors(t *testing.T) {
	for server, want := range map[string]string{
		"server: {tls: yes}\n":                     "server.tls: expected {cert: FILE, key: FILE}, or off",
		"server: {tls: {cert: a.pem}}\n":           "server.tls: key is missing",
		"server: {tls: {cert: a, key: b, x: 1}}\n": "server.tls.x",
		"server: {read_header_timeout: soon}\n":    "server.read_header_timeout: expected a duration",
	} {
		_, err := parseConfig(t, t.TempDir(), server)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", server, err, want)
		}
	}

	cfg, err := parseConfig(t, t.TempDir(), "server: {tls: {cert: /etc/c.pem, key: /etc/k.pem}, read_header_timeout: 2s}\n")
	if err != nil || cfg.Server.TLS.Cert != "/etc/c.pem" || cfg.Server.TLS.Key != "/etc/k.pem" || cfg.Server.ReadHeaderTimeout != 2*time.Second {
		t.Fatalf("%+v %v", cfg, err)
	}
}

// TestSelfSignedCertificate: the first start makes an ECDSA P-256
// certificate for loopback, key 0600; the next start keeps it.
func TestSelfSignedCertificate(t *testing.T) {
	dir := t.TempDir()

	cfg, err := parseConfig(t, dir, "")
	if err != nil {
		t.Fatal(err)
	}

	tr, err := NewTransport(cfg, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}

	certFile, keyFile := CertFiles(cfg)

	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key %s: %v %v", keyFile, st, err)
	}

	b, _ := os.ReadFile(certFile)
	blk, _ := pem.Decode(b)

	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || cert.PublicKeyAlgorithm != x509.ECDSA || cert.VerifyHostname("127.0.0.1") != nil {
		t.Fatalf("certificate: %v %v", cert.PublicKeyAlgorithm, err)
	}

	again, err := NewTransport(cfg, clock.Real{})
	if err != nil || again.Fingerprint != tr.Fingerprint || len(tr.Fingerprint) != 95 {
		t.Fatalf("fingerprint %q then %q (%v)", tr.Fingerprint, again.Fingerprint, err)
	}

	if fp, err := FileFingerprint(certFile); err != nil || fp != tr.Fingerprint {
		t.Fatalf("FileFingerprint %q %v", fp, err)
	}
}

// TestPlainRequestBeyondLoopbackAndMetrics: on an endpoint that listens
// beyond loopback a plain HTTP request is answered with how to connect,
// and /metrics needs a token; HTTPS answers carry the security headers.
func TestPlainRequestBeyondLoopbackAndMetrics(t *testing.T) {
	f := newFixture(t)

	// The same server, as when server.listen is beyond loopback.
	tr := *f.srv.Transport
	tr.Loopback = false
	f.srv = &Server{Cfg: f.srv.Cfg, Repo: f.srv.Repo, Sources: f.srv.Sources, Exec: f.srv.Exec, Audit: f.srv.Audit, Authority: f.srv.Authority, Transport: &tr, Clock: f.srv.Clock}
	f.serve(t, &tr)

	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")

	b, _ := io.ReadAll(conn)
	if !strings.Contains(string(b), "400 Bad Request") || !strings.Contains(string(b), "HTTPS only") || strings.Contains(string(b), "lifeboat_up") {
		t.Fatalf("a plain request beyond loopback: %q", b)
	}

	if code, out := f.call(t, "GET", "/metrics", ""); code != http.StatusUnauthorized || strings.Contains(out, "lifeboat_up") {
		t.Errorf("/metrics beyond loopback without a token: %d %s", code, out)
	}

	resp := f.do(t, "GET", "/metrics", "", bearer(access.Viewer)...)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "lifeboat_up") {
		t.Errorf("/metrics with a token: %s %s", resp.Status, body)
	}

	for h, want := range map[string]string{
		"Strict-Transport-Security": "max-age=", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
	} {
		if !strings.Contains(resp.Header.Get(h), want) {
			t.Errorf("header %s: %q, want %q", h, resp.Header.Get(h), want)
		}
	}

	resp = f.do(t, "GET", "/api/v1/status", "", bearer(access.Viewer)...)
	resp.Body.Close()

	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("the API's Content-Security-Policy: %q", csp)
	}

	// A body beyond the limit is refused, not read.
	big := `{"reason": "` + strings.Repeat("x", maxBody) + `"}`
	if code, out := f.call(t, "POST", "/api/v1/sources/data/backup", big, bearer(access.Operator)...); code != http.StatusBadRequest || !strings.Contains(out, "too large") {
		t.Errorf("an oversized body: %d %.200s", code, out)
	}
}

// TestLoopbackPlainAndMetricsOpen: on loopback /metrics answers plain HTTP
// without a token, as before the API.
func TestLoopbackPlainAndMetricsOpen(t *testing.T) {
	f := newFixture(t)

	resp, err := http.Get("http://" + f.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "lifeboat_up") || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("plain /metrics on loopback: %s %s %v", resp.Status, b, resp.Header)
	}
}

// TestSlowClientCut: a client that sends its request headers one byte a
// second is cut off by the header timeout (1s here), while others are
// served.
func TestSlowClientCut(t *testing.T) {
	f := newFixture(t)

	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	closed := make(chan time.Duration, 1)
	start := time.Now()

	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := conn.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()

	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()

		for _, c := range []byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 60)) {
			if _, err := conn.Write([]byte{c}); err != nil {
				return
			}

			<-tick.C
		}
	}()

	var took time.Duration

	testenv.Eventually(t, 30*time.Second, func() bool {
		select {
		case took = <-closed:
			return true
		default:
			return false
		}
	}, "the server to cut the slow client")

	if took > 5*time.Second {
		t.Errorf("the slow client was cut only after %s", took)
	}

	if code, out := f.call(t, "GET", "/healthz", ""); code != http.StatusOK || !strings.Contains(out, "ok") {
		t.Errorf("a normal client after the slow one: %d %s", code, out)
	}
}
