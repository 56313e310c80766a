// Package shamir splits a secret into n shares of which any k give it back
// and fewer give nothing (Shamir's secret sharing over GF(2^8), one random
// polynomial of degree k-1 per byte). It is the arithmetic only: how shares
// are written down, named and checked belongs to its callers. Randomness is
// passed in, so tests are reproducible; callers pass crypto/rand.
package shamir

import (
	"errors"
	"fmt"
	"io"
)

// Share is one point of every byte's polynomial: X is its non-zero
// abscissa, Y the polynomials' values there.
type Share struct {
	X byte
	Y []byte
}

// Errors of Split and Combine.
var (
	ErrParams    = errors.New("shares: need 2 <= k <= n <= 255")
	ErrTooFew    = errors.New("too few shares")
	ErrDuplicate = errors.New("the same share twice")
	ErrMismatch  = errors.New("shares of different lengths")
)

// exp and log tables of GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1
// and generator 3.
var expT, logT = tables()

func tables() (e [510]byte, l [256]byte) {
	x := byte(1)
	for i := 0; i < 255; i++ {
		e[i], e[i+255] = x, x
		l[x] = byte(i)
		// x *= 3: x*2 xor x, reduced.
		hi := x & 0x80
		x2 := x << 1
		if hi != 0 {
			x2 ^= 0x1b
		}
		x ^= x2
	}

	return e, l
}

func mul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}

	return expT[int(logT[a])+int(logT[b])]
}

func div(a, b byte) byte {
	if a == 0 {
		return 0
	}

	return expT[int(logT[a])+255-int(logT[b])]
}

// Split returns n shares of secret, any k of which recover it.
func Split(secret []byte, k, n int, random io.Reader) ([]Share, error) {
	if k < 2 || k > n || n > 255 {
		return nil, fmt.Errorf("%w (k=%d, n=%d)", ErrParams, k, n)
	}

	shares := make([]Share, n)
	for i := range shares {
		shares[i] = Share{X: byte(i + 1), Y: make([]byte, len(secret))}
	}

	coef := make([]byte, k)

	for j, s := range secret {
		coef[0] = s
		if _, err := io.ReadFull(random, coef[1:]); err != nil {
			return nil, fmt.Errorf("shares: random: %w", err)
		}

		for i := range shares {
			// Horner's rule at x.
			x, y := shares[i].X, byte(0)
			for d := k - 1; d >= 0; d-- {
				y = mul(y, x) ^ coef[d]
			}

			shares[i].Y[j] = y
		}
	}

	return shares, nil
}

// Combine recovers the secret from k shares (Lagrange interpolation at 0).
// It cannot tell k right shares from k shares of which one is wrong: the
// caller checks the result (the repository opening is that check).
func Combine(shares []Share, k int) ([]byte, error) {
	if len(shares) < k || len(shares) < 2 {
		return nil, fmt.Errorf("%w: %d given, %d needed", ErrTooFew, len(shares), max(k, 2))
	}

	seen := map[byte]bool{}

	for _, s := range shares {
		if s.X == 0 || seen[s.X] {
			return nil, fmt.Errorf("%w (number %d)", ErrDuplicate, s.X)
		}

		seen[s.X] = true

		if len(s.Y) != len(shares[0].Y) {
			return nil, ErrMismatch
		}
	}

	out := make([]byte, len(shares[0].Y))

	for i, si := range shares {
		// The Lagrange basis polynomial of si at 0.
		basis := byte(1)

		for j, sj := range shares {
			if i != j {
				basis = mul(basis, div(sj.X, sj.X^si.X))
			}
		}

		for b := range out {
			out[b] ^= mul(si.Y[b], basis)
		}
	}

	return out, nil
}
