package escrow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// Kit is what a stranger on a bare machine needs besides the password's
// holders: where the repository and its copies are, which repository it is,
// what it holds, and the password sealed to the escrow recipients.
type Kit struct {
	// ID names this kit (random, it reveals nothing); the repository
	// records it with what the kit was made for, so status can tell when
	// the kit no longer serves.
	ID           string    `json:"kit_id,omitempty"`
	Created      time.Time `json:"created"`
	Version      string    `json:"lifeboat_version"`
	Repository   Place     `json:"repository"`
	RepositoryID string    `json:"repository_id"`
	Copies       []Place   `json:"copies,omitempty"`
	Sources      []Source  `json:"sources"`
	// Sealed is the password encrypted with age to Recipients (their
	// public keys), ASCII-armored; empty when only shares hold it.
	Sealed     string   `json:"sealed,omitempty"`
	Recipients []string `json:"recipients,omitempty"`
	// Shares describes the k-of-n split, when there is one.
	Shares *Split `json:"shares,omitempty"`
}

// Place is a repository's location, without a credential: S3 keys are
// named by the variables that hold them.
type Place struct {
	Name     string `json:"name,omitempty"`
	Location string `json:"location"`
	Endpoint string `json:"s3_endpoint,omitempty"`
	Region   string `json:"s3_region,omitempty"`
	PlainS3  bool   `json:"s3_plain_http,omitempty"`
}

// Source is one source the repository holds.
type Source struct {
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Databases []string `json:"databases,omitempty"`
}

// Split says how the password was split and who holds the shares.
type Split struct {
	ID      string   `json:"id"`
	K       int      `json:"k"`
	N       int      `json:"n"`
	Holders []string `json:"holders"`
}

const (
	blockBegin = "-----BEGIN LIFEBOAT RECOVERY KIT-----"
	blockEnd   = "-----END LIFEBOAT RECOVERY KIT-----"
)

// ErrNoKit is a text without the kit's block.
var ErrNoKit = errors.New("no LIFEBOAT RECOVERY KIT block in it: give the kit.txt that `lifeboat key kit` wrote")

// block is the kit's machine-readable part: its JSON between two lines.
func (k *Kit) block() string {
	b, _ := json.MarshalIndent(k, "", "  ")
	return blockBegin + "\n" + string(b) + "\n" + blockEnd + "\n"
}

// ParseKit reads the kit's block out of the kit's text (or the QR code's).
func ParseKit(text string) (*Kit, error) {
	i := strings.Index(text, blockBegin)
	j := strings.Index(text, blockEnd)

	if i < 0 || j < i {
		return nil, ErrNoKit
	}

	var k Kit
	if err := json.Unmarshal([]byte(text[i+len(blockBegin):j]), &k); err != nil {
		return nil, fmt.Errorf("the kit's block is damaged: %w", err)
	}

	if k.RepositoryID == "" || k.Repository.Location == "" {
		return nil, errors.New("the kit's block names no repository")
	}

	return &k, nil
}

// repoFlags are the location flags of every Lifeboat command.
func (p Place) repoFlags() string {
	f := "--repo " + shellQuote(p.Location)
	if p.Endpoint != "" {
		f += " --s3-endpoint " + shellQuote(p.Endpoint)
	}

	if p.Region != "" {
		f += " --s3-region " + shellQuote(p.Region)
	}

	if p.PlainS3 {
		f += " --s3-tls=false"
	}

	return f
}

// kopiaConnect is kopia's command to connect to the same storage.
func (p Place) kopiaConnect() string {
	if rest, ok := strings.CutPrefix(p.Location, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		c := "kopia repository connect s3 --bucket " + shellQuote(bucket)

		if prefix != "" {
			c += " --prefix " + shellQuote(strings.TrimSuffix(prefix, "/")+"/")
		}

		endpoint := p.Endpoint
		if endpoint == "" {
			endpoint = "s3.amazonaws.com"
		}

		c += " --endpoint " + shellQuote(endpoint) + ` --access-key "$AWS_ACCESS_KEY_ID" --secret-access-key "$AWS_SECRET_ACCESS_KEY"`
		if p.Region != "" {
			c += " --region " + shellQuote(p.Region)
		}

		if p.PlainS3 {
			c += " --disable-tls"
		}

		return c
	}

	return "kopia repository connect filesystem --path " + shellQuote(p.Location)
}

func shellQuote(s string) string {
	plain := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@,+=", r)
	}

	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !plain(r) }) < 0 {
		return s
	}

	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QRPNG is a QR code of the kit's block, as a PNG: scanned, it gives back
// the text ParseKit reads. Low error correction keeps a kit with several
// recipients within the code's capacity.
func (k *Kit) QRPNG() ([]byte, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(k.block(), blockBegin+"\n"), blockEnd+"\n")))); err != nil {
		return nil, err
	}

	png, err := qrcode.Encode(blockBegin+"\n"+compact.String()+"\n"+blockEnd, qrcode.Low, 512)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}

	return png, nil
}

// HTML is the printable page: the text and the QR code.
func (k *Kit) HTML() ([]byte, error) {
	png, err := k.QRPNG()
	if err != nil {
		return nil, err
	}

	var buf bytes.Buffer

	err = kitPage.Execute(&buf, struct {
		Kit  *Kit
		Text string
		QR   template.URL
	}{k, k.Text(), template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))})

	return buf.Bytes(), err
}

var kitPage = template.Must(template.New("kit").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Lifeboat recovery kit: repository {{.Kit.RepositoryID}}</title>
<style>
body{font-family:sans-serif;max-width:50rem;margin:2rem auto}
pre{white-space:pre-wrap;font-size:.85rem;border:1px solid #999;padding:1rem}
img{width:18rem;height:18rem}
@media print{pre{border:none}}
</style></head><body>
<h1>Lifeboat recovery kit</h1>
<p>Repository <strong>{{.Kit.RepositoryID}}</strong> at <strong>{{.Kit.Repository.Location}}</strong>, written {{.Kit.Created.Format "2006-01-02 15:04 MST"}}.
The password is not on this page: it is sealed to the escrow keys, or split among the holders named below.</p>
<figure><img src="{{.QR}}" alt="QR code of the kit's machine-readable block (the same as at the end of the text)">
<figcaption>Scanned, this code gives the block at the end of the text below.</figcaption></figure>
<pre>{{.Text}}</pre>
</body></html>
`))
