package mask

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// The permutation is a bijection of every domain it is given: each value of
// the domain (enumerated whole) has exactly one image, inside the domain,
// for several tweaks and keys, and the images are not the identity.
func TestPermutationIsBijection(t *testing.T) {
	domains := [][]uint64{{10}, {9}, {26}, {9, 10}, {10, 10}, {26, 10}, {10, 10, 10, 10}, {9, 10, 10, 10}, {26, 26, 10}, {10, 26, 26}, {26, 9, 10, 10}}

	for _, key := range [][]byte{keyA, keyB} {
		m := masker(t, key)

		for _, radix := range domains {
			d, ok := exactDomain(radix)
			if !ok {
				t.Fatalf("%v: not permuted exactly", radix)
			}

			size := d.a * d.b
			for _, tweak := range []uint64{0, 1, 0xdeadbeef} {
				seen := make([]bool, size)
				moved := 0

				for x := uint64(0); x < size; x++ {
					digits := make([]uint64, len(radix))
					d.digits(x, digits, 0, len(radix))
					m.perms["hash"].permute(d, tweak, digits)

					for i, v := range digits {
						if v >= radix[i] {
							t.Fatalf("%v: digit %d of %d's image is %d", radix, i, x, v)
						}
					}

					y := d.number(digits, 0, len(radix))
					if seen[y] {
						t.Fatalf("%v tweak %d: %d is the image of two values", radix, tweak, y)
					}

					seen[y] = true

					if y != x {
						moved++
					}
				}

				if size > 2 && moved < int(size)/2 {
					t.Errorf("%v tweak %d: only %d of %d values moved", radix, tweak, moved, size)
				}
			}
		}
	}
}

// A large domain (up to maxExactBits) is still permuted exactly: no two of
// many random values share an image.
func TestPermutationLargeDomain(t *testing.T) {
	m := masker(t, keyA)
	radix := make([]uint64, 23) // 23 letters: 108 bits
	for i := range radix {
		radix[i] = 26
	}

	d, ok := exactDomain(radix)
	if !ok || d.a >= 1<<62 || d.b >= 1<<62 {
		t.Fatalf("108 bits: %v %+v", ok, d)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]string{}

	for i := 0; i < 20000; i++ {
		digits := make([]uint64, len(radix))
		for j := range digits {
			digits[j] = rng.Uint64N(26)
		}

		in := fmt.Sprint(digits)
		m.perms["text"].permute(d, 7, digits)

		out := fmt.Sprint(digits)
		if prev, ok := seen[out]; ok && prev != in {
			t.Fatalf("%s and %s share an image", prev, in)
		}

		seen[out] = in
	}
}

// A unique column whose every value is taken (all 4-digit codes, a YEAR's
// whole range, an unsigned TINYINT's 3-digit values) is mapped onto itself:
// unique, and the same set of values.
func TestUniqueSmallDomains(t *testing.T) {
	cases := []struct {
		name   string
		spec   Spec
		col    Column
		lo, hi int
		format string
	}{
		{"codes with zeros char(4)", Spec{Kind: "hash", Format: true}, Column{Type: "char", Length: 4}, 0, 9999, "%04d"},
		{"codes smallint", Spec{Kind: "hash"}, Column{Type: "smallint"}, 1000, 9999, "%d"},
		{"negative smallint", Spec{Kind: "hash"}, Column{Type: "smallint"}, -32768, -10000, "%d"},
		{"tinyint unsigned", Spec{Kind: "hash"}, Column{Type: "tinyint", Unsigned: true}, 100, 255, "%d"},
		{"one digit and zero", Spec{Kind: "hash"}, Column{Type: "tinyint"}, -9, 9, "%d"},
		{"year", Spec{Kind: "hash"}, Column{Type: "year"}, 1901, 2155, "%d"},
		{"phone digits", Spec{Kind: "phone"}, Column{Type: "varchar", Length: 20}, 0, 9999, "%04d"},
		{"decimal", Spec{Kind: "hash"}, Column{Type: "decimal", Length: 5, Scale: 2}, 1000, 9999, "%d"},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.col.Unique = true
			f := field(t, keyA, c.spec, c.col)
			in := map[string]bool{}
			out := map[string]string{}

			for v := c.lo; v <= c.hi; v++ {
				s := fmt.Sprintf(c.format, v)
				if c.col.Type == "decimal" {
					s = fmt.Sprintf("%d.%02d", v/100, v%100)
				}

				in[s] = true

				got := mask(t, f, s)
				if prev, ok := out[got]; ok {
					t.Fatalf("%s and %s both mask to %s", prev, s, got)
				}

				out[got] = s
			}

			for got := range out {
				if !in[got] {
					t.Fatalf("%q is outside the values of the domain", got)
				}
			}
		})
	}
}

// Each value masks alike whatever came before it and whichever goroutine
// masks it: a table loaded in parallel chunks gives the rows of a serial
// load. The same holds for a unique column's email and names.
func TestUniqueOrderIndependent(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		col  Column
		in   func(i int) string
	}{
		{Spec{Kind: "email"}, Column{Type: "varchar", Length: 100, Unique: true}, func(i int) string { return fmt.Sprintf("user%d@corp.example", i) }},
		{Spec{Kind: "first_name"}, Column{Type: "varchar", Length: 45, Unique: true}, func(i int) string { return fmt.Sprintf("name%d", i) }},
		{Spec{Kind: "hash", Format: true}, Column{Type: "char", Length: 4, Unique: true}, func(i int) string { return fmt.Sprintf("%04d", i) }},
		{Spec{Kind: "hash"}, Column{Type: "int", Unique: true}, func(i int) string { return fmt.Sprint(i + 1) }},
	} {
		serial := map[string]string{}
		f := field(t, keyA, c.spec, c.col)

		for i := 0; i < 5000; i++ {
			serial[c.in(i)] = mask(t, f, c.in(i))
		}

		order := rand.New(rand.NewPCG(3, 4)).Perm(5000)
		g := field(t, keyA, c.spec, c.col)

		var wg sync.WaitGroup

		results := make([]string, 5000)

		for w := 0; w < 8; w++ {
			wg.Add(1)

			go func() {
				defer wg.Done()

				for _, i := range order[w*625 : (w+1)*625] {
					out, _, err := g.Mask([]byte(c.in(i)))
					if err != nil {
						t.Error(err)
						return
					}

					results[i] = string(out)
				}
			}()
		}

		wg.Wait()

		for i, got := range results {
			if got != serial[c.in(i)] {
				t.Fatalf("%s: %s masks to %q in parallel, %q serially", c.spec, c.in(i), got, serial[c.in(i)])
			}
		}
	}
}

// A unique column too short for the keyed tag collides: the copy fails,
// naming the column, in any order, rather than pick a winner by order.
func TestUniqueCollisionFails(t *testing.T) {
	values := make([]string, 3000)
	for i := range values {
		values[i] = fmt.Sprintf("someone%d@corp.example", i)
	}

	for _, order := range [][]string{values, reversed(values)} {
		f := field(t, keyA, Spec{Kind: "email"}, Column{Name: "shop.users.email", Type: "varchar", Length: 5, Unique: true})

		var err error
		for _, v := range order {
			if _, _, err = f.Mask([]byte(v)); err != nil {
				break
			}
		}

		if !errors.Is(err, ErrUnique) || !strings.Contains(err.Error(), "shop.users.email") || !strings.Contains(err.Error(), "widen the column") {
			t.Fatalf("a 5-character unique email column: %v", err)
		}
	}

	// Derive (a replay's rows) reports no collision: the target's unique
	// key decides there.
	f := field(t, keyA, Spec{Kind: "email"}, Column{Type: "varchar", Length: 5, Unique: true})
	for _, v := range values {
		if _, _, err := f.Derive([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}
}

func reversed(in []string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[len(in)-1-i] = v
	}

	return out
}

// date_shift never leaves a value on its own date: a date column moves by
// at least a day, a datetime by at least a day when the span is a day or
// more, by at least a second when it is shorter.
func TestDateShiftNeverZero(t *testing.T) {
	day := field(t, keyA, Spec{Kind: "date_shift", Value: "1d"}, Column{Type: "date"})
	month := field(t, keyA, Spec{Kind: "date_shift", Value: "30d"}, Column{Type: "datetime"})
	hours := field(t, keyA, Spec{Kind: "date_shift", Value: "12h"}, Column{Type: "datetime"})
	base := time.Date(1980, 1, 1, 12, 0, 0, 0, time.UTC)

	for i := 0; i < 3000; i++ {
		at := base.Add(time.Duration(i) * 7 * time.Hour)

		for _, c := range []struct {
			f      *Field
			layout string
			least  time.Duration
			most   time.Duration
		}{
			{day, "2006-01-02", 24 * time.Hour, 24 * time.Hour},
			{month, "2006-01-02 15:04:05", 24 * time.Hour, 30 * 24 * time.Hour},
			{hours, "2006-01-02 15:04:05", time.Second, 12 * time.Hour},
		} {
			in := at.Format(c.layout)
			got, err := time.Parse(c.layout, mask(t, c.f, in))
			orig, _ := time.Parse(c.layout, in)

			if d := got.Sub(orig).Abs(); err != nil || d < c.least || d > c.most {
				t.Fatalf("%s with %s moved by %v (%v), want %v to %v", in, c.f.Rule(), d, err, c.least, c.most)
			}
		}
	}
}

// A value too long to permute exactly (over maxExactBits) still keeps its
// shape, masks alike every time, and a long number keeps its digit count.
func TestLongValuesKeepShape(t *testing.T) {
	text := field(t, keyA, Spec{Kind: "text"}, Column{Type: "text"})
	in := strings.Repeat("Call Bob at 555-0100, Zoë! ", 8)

	out := mask(t, text, in)
	if out != mask(t, field(t, keyA, Spec{Kind: "text"}, Column{Type: "text"}), in) || out == in {
		t.Fatalf("%q masks to %q", in, out)
	}

	shape := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r >= '0' && r <= '9':
				b.WriteByte('9')
			case r >= 'A' && r <= 'Z':
				b.WriteByte('A')
			case r >= 'a' && r <= 'z' || r == 'ë':
				b.WriteByte('a')
			default:
				b.WriteRune(r)
			}
		}

		return b.String()
	}

	if shape(out) != shape(in) {
		t.Fatalf("shape %q became %q", shape(in), shape(out))
	}

	num := field(t, keyA, Spec{Kind: "hash"}, Column{Type: "decimal", Length: 65, Scale: 10})
	big := "98765432109876543210987654321098765.0123456789"

	if got := mask(t, num, big); len(got) != len(big) || got[0] == '0' || got[35] != '.' || got == big {
		t.Fatalf("%s masks to %s", big, got)
	}
}
