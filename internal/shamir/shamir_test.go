package shamir

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// TestGFInverse: every non-zero element times its inverse is one, and
// multiplication matches the slow carry-less definition.
func TestGFInverse(t *testing.T) {
	slow := func(a, b byte) byte {
		var p byte
		for b > 0 {
			if b&1 == 1 {
				p ^= a
			}

			hi := a & 0x80
			a <<= 1

			if hi != 0 {
				a ^= 0x1b
			}

			b >>= 1
		}

		return p
	}

	for a := 1; a < 256; a++ {
		if got := mul(byte(a), div(1, byte(a))); got != 1 {
			t.Fatalf("%d * 1/%d = %d", a, a, got)
		}

		for b := 0; b < 256; b++ {
			if mul(byte(a), byte(b)) != slow(byte(a), byte(b)) {
				t.Fatalf("mul(%d,%d) = %d, want %d", a, b, mul(byte(a), byte(b)), slow(byte(a), byte(b)))
			}
		}
	}
}

// TestEveryKSubsetRecovers: every subset of k of the n shares gives the
// secret back, for several k and n.
func TestEveryKSubsetRecovers(t *testing.T) {
	secret := []byte("correct horse battery staple \x00\xff")

	for _, p := range [][2]int{{2, 2}, {2, 3}, {3, 5}, {5, 5}, {4, 7}} {
		k, n := p[0], p[1]

		shares, err := Split(secret, k, n, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}

		for mask := 0; mask < 1<<n; mask++ {
			var sub []Share

			for i := 0; i < n; i++ {
				if mask&(1<<i) != 0 {
					sub = append(sub, shares[i])
				}
			}

			if len(sub) < k {
				if _, err := Combine(sub, k); !errors.Is(err, ErrTooFew) {
					t.Fatalf("%d-of-%d: %d shares gave %v", k, n, len(sub), err)
				}

				continue
			}

			got, err := Combine(sub, k)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("%d-of-%d, subset %b: %q, %v", k, n, mask, got, err)
			}
		}
	}
}

// TestOneShareFitsEverySecret: one share of a 2-of-n split is consistent
// with every possible secret byte (a line through (0,s) and the share exists
// for each s), so it reveals nothing. Checked by interpolating the share with
// a second point forged for each s.
func TestOneShareFitsEverySecret(t *testing.T) {
	shares, err := Split([]byte{42}, 2, 3, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	one := shares[0]

	for s := 0; s < 256; s++ {
		// The line through (0,s) and one: its value at x=2.
		slope := div(one.Y[0]^byte(s), one.X)
		forged := Share{X: 2, Y: []byte{byte(s) ^ mul(slope, 2)}}

		got, err := Combine([]Share{one, forged}, 2)
		if err != nil || got[0] != byte(s) {
			t.Fatalf("secret %d is not consistent with one share: %v %v", s, got, err)
		}
	}
}

func TestCombineRefusals(t *testing.T) {
	shares, err := Split([]byte("pw"), 2, 3, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := Combine([]Share{shares[0], shares[0]}, 2); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}

	if _, err := Combine([]Share{shares[0], {X: 2, Y: []byte{1}}}, 2); !errors.Is(err, ErrMismatch) {
		t.Fatalf("mismatch: %v", err)
	}

	for _, p := range [][2]int{{1, 3}, {4, 3}, {2, 256}} {
		if _, err := Split([]byte("pw"), p[0], p[1], rand.Reader); !errors.Is(err, ErrParams) {
			t.Fatalf("k=%d n=%d: %v", p[0], p[1], err)
		}
	}
}
