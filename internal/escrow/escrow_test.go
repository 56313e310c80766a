package escrow

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

const secret = "escrow-test-password-6b1e"

func sshKey(t *testing.T) (pub string, priv []byte) {
	t.Helper()

	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}

	block, err := ssh.MarshalPrivateKey(sk, "")
	if err != nil {
		t.Fatal(err)
	}

	return string(ssh.MarshalAuthorizedKey(sp)), pem.EncodeToMemory(block)
}

// TestSealOpen: a password sealed to an age key and an SSH key opens with
// either private key, never with another, and is not in the sealed text.
func TestSealOpen(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	sshPub, sshPriv := sshKey(t)

	sealed, err := Seal(secret, []string{id.Recipient().String(), sshPub})
	if err != nil {
		t.Fatal(err)
	}

	if strings.Contains(sealed, secret) || !strings.Contains(sealed, "BEGIN AGE ENCRYPTED FILE") {
		t.Fatalf("sealed text:\n%s", sealed)
	}

	for name, key := range map[string][]byte{"age": []byte("# key\n" + id.String() + "\n"), "ssh": sshPriv} {
		got, err := Open(sealed, key)
		if err != nil || got != secret {
			t.Fatalf("%s identity: %q, %v", name, got, err)
		}
	}

	other, _ := age.GenerateX25519Identity()
	if _, err := Open(sealed, []byte(other.String())); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("another key: %v", err)
	}

	if _, err := Open(sealed, []byte("not a key")); err == nil || !strings.Contains(err.Error(), "expected an age identity") {
		t.Fatalf("garbage key: %v", err)
	}

	if _, err := Seal(secret, []string{"ssh-dss AAAA"}); err == nil {
		t.Fatal("an unsupported recipient was accepted")
	}

	if _, err := Seal(secret, []string{"bob@example.com"}); err == nil || !strings.Contains(err.Error(), "expected an age public key") {
		t.Fatalf("a non-key recipient: %v", err)
	}
}

// TestShares: any 2 of 3 shares give the password back through their text
// form; one share, a typo, and shares of two splits are refused.
func TestShares(t *testing.T) {
	shares, err := SplitSecret(secret, 2, 3)
	if err != nil {
		t.Fatal(err)
	}

	parsed := make([]Share, len(shares))

	for i, s := range shares {
		if strings.Contains(s.Line(), secret) {
			t.Fatal("a share holds the password")
		}

		p, err := ParseShare("Held by: someone\n\n" + s.Line() + "\n")
		if err != nil {
			t.Fatal(err)
		}

		parsed[i] = p
	}

	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}, {2, 0}} {
		got, err := Combine([]Share{parsed[pair[0]], parsed[pair[1]]})
		if err != nil || got != secret {
			t.Fatalf("shares %v: %q, %v", pair, got, err)
		}
	}

	if _, err := Combine(parsed[:1]); !errors.Is(err, ErrTooFew) || !strings.Contains(err.Error(), "1 given, 2 of the 3 holders are needed") {
		t.Fatalf("one share: %v", err)
	}

	// One hex digit of the share's bytes changed.
	b := []byte(shares[0].Line())
	i := len(b) - 12
	b[i] = map[bool]byte{true: '0', false: '1'}[b[i] != '0']
	typo := string(b)

	if _, err := ParseShare(typo); !errors.Is(err, ErrShareTypo) {
		t.Fatalf("typo: %v", err)
	}

	if _, err := ParseShare("nothing here"); !errors.Is(err, ErrNotShare) {
		t.Fatalf("no share: %v", err)
	}

	others, _ := SplitSecret(secret, 2, 3)
	if _, err := Combine([]Share{parsed[0], others[1]}); !errors.Is(err, ErrOtherSplit) {
		t.Fatalf("mixed splits: %v", err)
	}
}

// TestKitRoundTrip: the kit's text names the repository, its copies and
// restore commands, holds no password, and its block parses back; the HTML
// page embeds a QR code.
func TestKitRoundTrip(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	sealed, err := Seal(secret, []string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}

	k := &Kit{
		Created: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Version: "test",
		Repository:   Place{Location: "s3://bucket/lifeboat", Endpoint: "minio:9000", PlainS3: true},
		RepositoryID: "0123456789abcdef",
		Copies:       []Place{{Name: "vault", Location: "/mnt/vault/lifeboat"}},
		Sources:      []Source{{Name: "database", Type: "mysql", Databases: []string{"sml_library"}}, {Name: "docs", Type: "files"}},
		Sealed:       sealed, Recipients: []string{id.Recipient().String()},
		Shares: &Split{ID: "abc", K: 2, N: 3, Holders: []string{"incident manager", "security officer", "CTO"}},
	}

	text := k.Text()

	for _, w := range []string{
		"Repository ID: 0123456789abcdef", "s3://bucket/lifeboat", "/mnt/vault/lifeboat",
		"lifeboat --repo s3://bucket/lifeboat --s3-endpoint minio:9000 --s3-tls=false restore database --mysql-host",
		"kopia repository connect s3 --bucket bucket --prefix lifeboat/ --endpoint minio:9000",
		"--disable-tls", "share 2: security officer", "Without Lifeboat: kopia " + KopiaVersion + " ",
		"any 2 of which", id.Recipient().String(),
	} {
		if !strings.Contains(text, w) {
			t.Errorf("kit text lacks %q", w)
		}
	}

	if strings.Contains(text, secret) {
		t.Fatal("the kit holds the password")
	}

	// The steps are blocks a shell runs: one per way to the password, the
	// connection, and one restore per source.
	blocks := Blocks(text)
	for name, w := range map[string]string{
		"password-age":             `age -d -i "$KEY_FILE" -o password.txt password.age`,
		"password-lifeboat-shares": `--share "$SHARE_1" --share "$SHARE_2" --out password.txt`,
		"kopia-connect":            "kopia repository connect s3 --bucket bucket --prefix lifeboat/",
		"kopia-restore-docs":       `kopia snapshot list lifeboat@lifeboat:/docs --tags role:backup`,
		"kopia-restore-database":   "| mariadb",
		"lifeboat":                 "lifeboat --repo s3://bucket/lifeboat --s3-endpoint minio:9000 --s3-tls=false restore database",
	} {
		if !strings.Contains(blocks[name], w) {
			t.Errorf("kit block %s lacks %q:\n%s", name, w, blocks[name])
		}
	}

	back, err := ParseKit("scanned:\n" + text)
	if err != nil || back.RepositoryID != k.RepositoryID || back.Sealed != sealed || back.Shares.K != 2 {
		t.Fatalf("parse: %+v, %v", back, err)
	}

	page, err := k.HTML()
	if err != nil || !strings.Contains(string(page), `<img src="data:image/png;base64,`) || !strings.Contains(string(page), "security officer") {
		t.Fatalf("HTML: %v\n%.300s", err, page)
	}

	if _, err := ParseKit("no kit"); !errors.Is(err, ErrNoKit) {
		t.Fatalf("no kit: %v", err)
	}
}

// TestKopiaVersion: the kopia release the kit names is the one go.mod
// requires.
func TestKopiaVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}

	if !strings.Contains(string(b), "\tgithub.com/kopia/kopia "+KopiaVersion+"\n") {
		t.Fatalf("go.mod does not require github.com/kopia/kopia %s: update escrow.KopiaVersion", KopiaVersion)
	}
}
