package mysql

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

// writeCerts makes a CA and a server certificate for 127.0.0.1.
func writeCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()

	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lifeboat test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	caCert, _ := x509.ParseCertificate(caDER)

	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	keyDER, _ := x509.MarshalECPrivateKey(srvKey)

	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}

		return p
	}

	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}

// TestTLS backs up over TCP as a user the server admits only over TLS,
// verifying the server's certificate against the configured CA.
func TestTLS(t *testing.T) {
	ctx := context.Background()
	certs := t.TempDir()
	ca, cert, key := writeCerts(t, certs)

	srv, err := testenv.StartWith(ctx, "", "--ssl-ca="+ca, "--ssl-cert="+cert, "--ssl-key="+key)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	srv.Exec(t, `CREATE DATABASE tls_db; CREATE TABLE tls_db.t (id INT PRIMARY KEY); INSERT INTO tls_db.t VALUES (1),(2);
		CREATE USER 'tlsonly'@'127.0.0.1' IDENTIFIED BY 'tls-pw' REQUIRE SSL; GRANT ALL ON *.* TO 'tlsonly'@'127.0.0.1';`)

	cfg := &config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Host: "127.0.0.1", Port: srv.Port, User: "tlsonly", PasswordEnv: "PW", Databases: []string{"tls_db"}, Workers: 2,
	}}
	pw := func(string) string { return "tls-pw" }
	r := newRepo(t)

	if _, err := New(cfg, pw).Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err == nil || !strings.Contains(err.Error(), "refused user") {
		t.Fatalf("without TLS the server should refuse the user: %v", err)
	}

	cfg.MySQL.TLS, cfg.MySQL.TLSCA = true, ca
	withTLS := New(cfg, pw)

	snap, err := withTLS.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatalf("backup over TLS: %v", err)
	}

	if _, err := withTLS.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "tls_copy"}); err != nil {
		t.Fatalf("restore over TLS: %v", err)
	}

	// A CA that did not sign the server's certificate is refused.
	other, _, _ := writeCerts(t, t.TempDir())
	cfg.MySQL.TLSCA = other

	if _, err := New(cfg, pw).Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err == nil {
		t.Fatal("a server certificate from an unknown CA was accepted")
	}
}
