package mask

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math"
)

// A keyed permutation of mixed-radix numbers: the value's digits and
// letters, each position with its own radix (10 for a digit, 26 for a
// letter), are the input, and the output has the same radices. Being a
// bijection, it keeps distinct inputs distinct whatever else is masked and
// in whatever order, which no keyed hash into the same small domain can.
// It is a Feistel network over two groups of positions (as NIST's FF1
// splits a numeral string), alternating modular additions of a keyed
// AES-based round function; a domain of one position is shuffled whole.

// feistelRounds is FF1's count: enough for small domains, whose halves are
// only a few values each.
const feistelRounds = 10

// maxExactBits bounds the domains permuted exactly: each half stays under
// 2^62, so the modular arithmetic cannot overflow. A larger domain is
// masked by a keyed hash of the whole value, whose collisions among 2^110
// or more outcomes are negligible (and still detected).
const maxExactBits = 110

// permuter is one permutation family: a key and a label (which transformer).
type permuter struct {
	block cipher.Block
	label uint64
}

func newPermuter(key []byte, label string) *permuter {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // the key is 32 bytes, made by Masker.
	}

	return &permuter{block: b, label: sum64([]byte(label))}
}

// round is the round function: a keyed pseudo-random number in [0, mod)
// of the tweak, the round and the other half.
func (p *permuter) round(tweak uint64, r int, x, mod uint64) uint64 {
	var in, out [16]byte

	binary.LittleEndian.PutUint64(in[:8], x)
	binary.LittleEndian.PutUint64(in[8:], tweak^p.label^uint64(r+1)*0x9e3779b97f4a7c15)
	p.block.Encrypt(out[:], in[:])

	return binary.LittleEndian.Uint64(out[:8]) % mod
}

// domain is the radices of a value's permuted positions, split in two.
type domain struct {
	radix []uint64
	split int // positions [0, split) form the first half
	a, b  uint64
}

// exactDomain splits radix into two halves of about equal size, or reports
// false when the domain is too large to permute exactly.
func exactDomain(radix []uint64) (domain, bool) {
	total := 0.0
	for _, r := range radix {
		total += log2(r)
	}

	if total > maxExactBits || len(radix) == 0 {
		return domain{}, false
	}

	d := domain{radix: radix, a: 1, b: 1}
	bits := 0.0

	for d.split < len(radix)-1 {
		rb := log2(radix[d.split])
		if d.split > 0 && bits+rb > total/2 {
			break
		}

		bits += rb
		d.a *= radix[d.split]
		d.split++
	}

	for _, r := range radix[d.split:] {
		d.b *= r
	}

	return d, true
}

// log2 of the radices in use, without the cost of math.Log2 per position.
func log2(r uint64) float64 {
	switch r {
	case 10:
		return 3.321928094887362
	case 26:
		return 4.700439718141092
	case 9:
		return 3.169925001442312
	}

	return math.Log2(float64(r))
}

// number reads digits[from:to] in their radices.
func (d domain) number(digits []uint64, from, to int) uint64 {
	var v uint64
	for i := from; i < to; i++ {
		v = v*d.radix[i] + digits[i]
	}

	return v
}

// digits writes v into digits[from:to].
func (d domain) digits(v uint64, digits []uint64, from, to int) {
	for i := to - 1; i >= from; i-- {
		digits[i] = v % d.radix[i]
		v /= d.radix[i]
	}
}

// permute replaces digits (each below its radix) with their image under
// the permutation for tweak.
func (p *permuter) permute(d domain, tweak uint64, digits []uint64) {
	if len(digits) == 1 {
		digits[0] = p.shuffle(tweak, d.radix[0], digits[0])
		return
	}

	a, b := d.number(digits, 0, d.split), d.number(digits, d.split, len(digits))

	for r := 0; r < feistelRounds; r++ {
		if r%2 == 0 {
			a = (a + p.round(tweak, r, b, d.a)) % d.a
		} else {
			b = (b + p.round(tweak, r, a, d.b)) % d.b
		}
	}

	d.digits(a, digits, 0, d.split)
	d.digits(b, digits, d.split, len(digits))
}

// shuffle is x's place in a keyed shuffle of [0, n) (n at most 26): a
// domain of one position has no halves to run a Feistel network on.
func (p *permuter) shuffle(tweak, n, x uint64) uint64 {
	var perm [32]uint64
	for i := range perm[:n] {
		perm[i] = uint64(i)
	}

	for i := n - 1; i > 0; i-- {
		j := p.round(tweak, int(i), n, i+1)
		perm[i], perm[j] = perm[j], perm[i]
	}

	return perm[x]
}
