package escrow

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"lifeboat/internal/shamir"
)

// sharePrefix starts the one line of a share file a program reads.
const sharePrefix = "lifeboat-share:v1:"

// Share is one holder's part of the password.
type Share struct {
	// Split identifies the split: shares of different splits never mix.
	Split string
	K, N  int
	X     int
	Y     []byte
}

// Errors a holder can cause.
var (
	ErrNotShare   = errors.New("no lifeboat-share line in it")
	ErrShareTypo  = errors.New("the share's checksum does not match: a character was changed or lost")
	ErrOtherSplit = errors.New("the shares come from different kits")
	ErrTooFew     = errors.New("too few shares")
)

// SplitSecret splits the secret into n shares, any k of which give it back.
func SplitSecret(secret string, k, n int) ([]Share, error) {
	return splitWith(secret, k, n, rand.Reader)
}

func splitWith(secret string, k, n int, random io.Reader) ([]Share, error) {
	id := make([]byte, 6)
	if _, err := io.ReadFull(random, id); err != nil {
		return nil, err
	}

	ps, err := shamir.Split([]byte(secret), k, n, random)
	if err != nil {
		return nil, err
	}

	out := make([]Share, n)
	for i, p := range ps {
		out[i] = Share{Split: hex.EncodeToString(id), K: k, N: n, X: int(p.X), Y: p.Y}
	}

	return out, nil
}

// Line is the share as one line of text with a checksum.
func (s Share) Line() string {
	body := fmt.Sprintf("%s%s:%d:%d:%d:%s", sharePrefix, s.Split, s.K, s.N, s.X, hex.EncodeToString(s.Y))
	sum := sha256.Sum256([]byte(body))

	return body + ":" + hex.EncodeToString(sum[:4])
}

// ParseShare finds the share line in a share file's text.
func ParseShare(text string) (Share, error) {
	var line string

	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, sharePrefix) {
			line = l
			break
		}
	}

	if line == "" {
		return Share{}, ErrNotShare
	}

	i := strings.LastIndexByte(line, ':')
	sum := sha256.Sum256([]byte(line[:i]))

	if hex.EncodeToString(sum[:4]) != line[i+1:] {
		return Share{}, ErrShareTypo
	}

	f := strings.Split(strings.TrimPrefix(line[:i], sharePrefix), ":")
	if len(f) != 5 {
		return Share{}, ErrShareTypo
	}

	var (
		s   = Share{Split: f[0]}
		err error
	)

	for j, p := range []*int{&s.K, &s.N, &s.X} {
		if *p, err = strconv.Atoi(f[j+1]); err != nil {
			return Share{}, ErrShareTypo
		}
	}

	if s.Y, err = hex.DecodeString(f[4]); err != nil || s.X < 1 || s.X > 255 {
		return Share{}, ErrShareTypo
	}

	return s, nil
}

// Combine gives the secret back from at least K shares of one split.
func Combine(shares []Share) (string, error) {
	if len(shares) == 0 {
		return "", fmt.Errorf("%w: none given", ErrTooFew)
	}

	k := shares[0].K
	ps := make([]shamir.Share, 0, len(shares))

	for _, s := range shares {
		if s.Split != shares[0].Split || s.K != k {
			return "", ErrOtherSplit
		}

		ps = append(ps, shamir.Share{X: byte(s.X), Y: s.Y})
	}

	if len(shares) < k {
		return "", fmt.Errorf("%w: %d given, %d of the %d holders are needed", ErrTooFew, len(shares), k, shares[0].N)
	}

	b, err := shamir.Combine(ps, k)
	if err != nil {
		return "", err
	}

	return string(b), nil
}
