// Package escrow keeps the repository password for the people who may have
// to restore without the usual operators: sealed with age to escrow
// recipients (age X25519 or SSH public keys), split k-of-n among named
// holders (Shamir), and described by a recovery kit (plain text and a
// printable HTML page with a QR code) that says where the repository is and
// how to restore with or without Lifeboat. It never writes the password in
// the clear: not in the kit, not in a share (one share tells nothing), not
// in an error.
package escrow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
)

// ErrNoIdentity is an identity that opens none of the sealed password's
// stanzas.
var ErrNoIdentity = errors.New("this key is not one the password was sealed to")

// ParseRecipient reads an age X25519 recipient (age1...) or an SSH public
// key line (ssh-ed25519 AAAA..., ssh-rsa AAAA...).
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)

	switch {
	case strings.HasPrefix(s, "age1"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("age recipient %q: %w", s, err)
		}

		return r, nil
	case strings.HasPrefix(s, "ssh-"):
		r, err := agessh.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("SSH public key: %w", err)
		}

		return r, nil
	}

	return nil, fmt.Errorf("recipient %q: expected an age public key (age1...) or an SSH public key line (ssh-ed25519 ..., ssh-rsa ...)", cut(s, 20))
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}

	return s
}

// Seal encrypts the secret to every recipient (any one of them opens it)
// and returns it ASCII-armored, to print.
func Seal(secret string, recipients []string) (string, error) {
	if len(recipients) == 0 {
		return "", errors.New("seal: no recipient")
	}

	rs := make([]age.Recipient, 0, len(recipients))

	for _, s := range recipients {
		r, err := ParseRecipient(s)
		if err != nil {
			return "", err
		}

		rs = append(rs, r)
	}

	var buf bytes.Buffer

	aw := armor.NewWriter(&buf)

	w, err := age.Encrypt(aw, rs...)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}

	if _, err := io.WriteString(w, secret); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}

	if err := w.Close(); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}

	if err := aw.Close(); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}

	return buf.String(), nil
}

// ParseIdentity reads a private key: an age identity file (AGE-SECRET-KEY-1...,
// comments allowed) or an unencrypted OpenSSH private key.
func ParseIdentity(b []byte) ([]age.Identity, error) {
	if bytes.Contains(b, []byte("AGE-SECRET-KEY-")) {
		ids, err := age.ParseIdentities(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("age identity: %w", err)
		}

		return ids, nil
	}

	if bytes.Contains(b, []byte("PRIVATE KEY")) {
		id, err := agessh.ParseIdentity(b)
		if err != nil {
			return nil, fmt.Errorf("SSH private key (a key protected by a passphrase: decrypt a copy first, ssh-keygen -p): %w", err)
		}

		return []age.Identity{id}, nil
	}

	return nil, errors.New("expected an age identity (AGE-SECRET-KEY-1...) or an OpenSSH private key")
}

// Open decrypts a sealed secret with the identity's private key.
func Open(sealed string, identity []byte) (string, error) {
	ids, err := ParseIdentity(identity)
	if err != nil {
		return "", err
	}

	r, err := age.Decrypt(armor.NewReader(strings.NewReader(sealed)), ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return "", ErrNoIdentity
		}

		return "", fmt.Errorf("open the sealed password: %w", err)
	}

	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("open the sealed password: %w", err)
	}

	return string(b), nil
}
