package api

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
)

// The endpoint's limits. Its answers take milliseconds (a download or an
// event stream lifts the write timeout for itself), so these only cut off
// slow or idle clients that would otherwise hold a connection, and a
// goroutine, forever.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	readTimeout              = 10 * time.Second
	writeTimeout             = 30 * time.Second
	idleTimeout              = 60 * time.Second
	maxHeaderBytes           = 64 << 10
	// maxBody bounds a request's JSON body: the largest request (a restore
	// with a list of tables) is a few kilobytes.
	maxBody = 1 << 20
)

// ErrPlainExposed is plain HTTP asked for on an address beyond loopback.
var ErrPlainExposed = errors.New("plain HTTP beyond loopback")

// Transport is how the endpoint is served: TLS with a certificate, and
// whether plain HTTP is also answered (on a loopback address only).
type Transport struct {
	// TLS is nil when server.tls is off (plain HTTP on loopback only).
	TLS *tls.Config
	// Loopback: the configured address is a loopback one, where plain
	// HTTP is answered beside TLS (so /metrics and the health checks keep
	// working for local scrapers) and /metrics needs no token.
	Loopback bool
	// Fingerprint is the certificate's SHA-256, for clients to pin.
	Fingerprint string
	// CertFile is where the certificate is.
	CertFile          string
	ReadHeaderTimeout time.Duration
}

// Loopback reports whether listen (host:port) names a loopback address.
func Loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}

	if host == "localhost" {
		return true
	}

	ip := net.ParseIP(host)

	return ip != nil && ip.IsLoopback()
}

// CertFiles are the certificate and key the endpoint serves: the configured
// ones, or the self-signed pair kept in the state folder (beside the audit
// log).
func CertFiles(cfg *config.Config) (cert, key string) {
	if t := cfg.Server.TLS; t != nil && !t.Off {
		return t.Cert, t.Key
	}

	dir := filepath.Dir(cfg.Audit.Path)

	return filepath.Join(dir, "api-cert.pem"), filepath.Join(dir, "api-key.pem")
}

// NewTransport reads (or, the first time, makes) the certificate the
// configuration asks for. Plain HTTP beyond loopback is refused with what
// to configure instead.
func NewTransport(cfg *config.Config, clk clock.Clock) (*Transport, error) {
	t := &Transport{Loopback: Loopback(cfg.Server.Listen), ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout}
	if t.ReadHeaderTimeout <= 0 {
		t.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}

	certFile, keyFile := CertFiles(cfg)

	if cfg.Server.TLS != nil && cfg.Server.TLS.Off {
		if !t.Loopback {
			return nil, fmt.Errorf("%w: server.listen %s is not a loopback address, and server.tls is off: "+
				"passwords and tokens would cross the network in the clear. In %s, remove `tls: off` from server: "+
				"to serve HTTPS with a self-signed certificate kept at %s, or set server: {tls: {cert: FILE, key: FILE}} "+
				"to serve your own (PEM files), or listen on 127.0.0.1", ErrPlainExposed, cfg.Server.Listen, cfg.File, certFile)
		}

		return t, nil
	}

	if cfg.Server.TLS == nil {
		if err := ensureSelfSigned(certFile, keyFile, cfg.Server.Listen, clock.Or(clk).Now()); err != nil {
			return nil, err
		}
	}

	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: load the certificate %s and key %s: %w", certFile, keyFile, err)
	}

	t.CertFile, t.Fingerprint = certFile, Fingerprint(pair.Certificate[0])
	t.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}

	return t, nil
}

// Fingerprint is a certificate's SHA-256 as colon-separated hex, as
// browsers and openssl show it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))

	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}

	return strings.Join(parts, ":")
}

// FileFingerprint reads the certificate at path and returns its
// fingerprint, for `lifeboat status`.
func FileFingerprint(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}

	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", fmt.Errorf("%s holds no PEM certificate", path)
	}

	return Fingerprint(blk.Bytes), nil
}

// ensureSelfSigned makes an ECDSA P-256 certificate for the endpoint when
// none is kept yet; its key is written 0600.
func ensureSelfSigned(certFile, keyFile, listen string, now time.Time) error {
	if _, err := os.Stat(certFile); err == nil {
		return nil
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("make the server's key: %w", err)
	}

	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return err
	}

	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "lifeboat daemon", Organization: []string{"lifeboat"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}

	if h, err := os.Hostname(); err == nil {
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}

	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if ip == nil && host != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("make the server's certificate: %w", err)
	}

	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return fmt.Errorf("state folder for the server's certificate: %w", err)
	}

	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return fmt.Errorf("write the server's key: %w", err)
	}

	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("write the server's certificate: %w", err)
	}

	return nil
}

// Server is the HTTP server for h with the endpoint's timeouts and limits.
func (t *Transport) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
}

// Serve serves srv on l: TLS, and on loopback plain HTTP too, told apart
// by the connection's first byte.
func (t *Transport) Serve(srv *http.Server, l net.Listener) error {
	if t.TLS == nil {
		return srv.Serve(l)
	}

	return srv.Serve(&sniffListener{Listener: l, cfg: t.TLS, plain: t.Loopback})
}

type connKey struct{}

// overTLS reports whether r came over TLS.
func overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}

	c, ok := r.Context().Value(connKey{}).(*sniffConn)

	return ok && c.tls
}

// sniffListener hands out connections that decide on their first read
// whether they speak TLS, so the accept loop never waits on a client.
type sniffListener struct {
	net.Listener
	cfg   *tls.Config
	plain bool
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}

	return &sniffConn{Conn: c, cfg: l.cfg, plain: l.plain}, nil
}

// plainRefused is the answer to plain HTTP on an address beyond loopback.
const plainRefused = "this endpoint speaks HTTPS only (it listens beyond loopback): use https:// " +
	"(the certificate's SHA-256 fingerprint is in the daemon's log and in `lifeboat status`)\n"

type sniffConn struct {
	net.Conn
	cfg   *tls.Config
	plain bool

	once sync.Once
	c    net.Conn
	tls  bool
	err  error
}

func (c *sniffConn) decide() {
	br := bufio.NewReaderSize(c.Conn, 1)

	first, err := br.Peek(1)
	if err != nil {
		c.err = err
		return
	}

	pc := &prefixConn{Conn: c.Conn, r: br}

	switch {
	case first[0] == 0x16: // a TLS handshake record
		c.c, c.tls = tls.Server(pc, c.cfg), true
	case c.plain:
		c.c = pc
	default:
		fmt.Fprintf(c.Conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(plainRefused), plainRefused)
		c.err = errors.New("plain HTTP refused")
	}
}

func (c *sniffConn) Read(b []byte) (int, error) {
	c.once.Do(c.decide)

	if c.err != nil {
		return 0, c.err
	}

	return c.c.Read(b)
}

func (c *sniffConn) Write(b []byte) (int, error) {
	if c.c == nil {
		return c.Conn.Write(b)
	}

	return c.c.Write(b)
}

func (c *sniffConn) Close() error {
	if c.c != nil {
		return c.c.Close()
	}

	return c.Conn.Close()
}

// prefixConn reads through the buffer that peeked at the first byte.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(b []byte) (int, error) { return c.r.Read(b) }
