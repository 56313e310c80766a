package mask

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

var (
	firstNames = []string{"Ada", "Alan", "Alice", "Amir", "Anna", "Ben", "Bruno", "Carla", "Chen", "Clara", "Dana", "David", "Elena", "Emil", "Eva", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jonas", "Julia", "Kai", "Lara", "Leo", "Lina", "Luca", "Maya", "Mia", "Nora", "Omar", "Paula", "Rosa", "Sami", "Sara", "Tomas", "Vera", "Yuki"}
	lastNames  = []string{"Adams", "Berg", "Costa", "Dahl", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Kowalski", "Larsen", "Meyer", "Novak", "Olsen", "Park", "Quinn", "Rossi", "Schmidt", "Tanaka", "Urban", "Vogel", "Weber", "Xu", "Young", "Zimmer", "Moreau", "Silva", "Nagy", "Horvat"}
	streets    = []string{"Maple", "Oak", "Cedar", "Birch", "Elm", "Willow", "Hill", "Lake", "River", "Park", "Station", "Church", "Mill", "Garden", "Harbour", "Meadow", "Orchard", "Spring", "Forest", "Bridge"}
	streetEnds = []string{"Street", "Road", "Lane", "Avenue", "Way", "Close", "Drive", "Place"}
	domains    = []string{"example.com", "example.org", "example.net"}
)

// stringFn returns the email, name, first_name, last_name and address
// transformers. These pick from short lists, so a unique column's values
// carry a keyed tag of 16 hex digits (64 bits: among a billion values a
// collision has odds of about 1 in 40), as an email's local part always
// does; a column too short for the whole tag keeps what fits, and
// Field.Mask reports a collision should one happen.
func stringFn(kind string, col Column) maskFn {
	return func(m *Masker, in []byte) ([]byte, bool, error) {
		s := m.stream(kind, in)

		var out string

		switch kind {
		case "email":
			tag := s.hex(16)
			out = strings.ToLower(s.pick(firstNames)+"."+s.pick(lastNames)) + "." + tag + "@" + s.pick(domains)

			if col.Length > 0 && len(out) > col.Length {
				out = tag + "@" + s.pick(domains)
			}

			if col.Length > 0 && len(out) > col.Length {
				out = fit(tag, col.Length-2) + "@x"
			}
		case "name":
			out = s.pick(firstNames) + " " + s.pick(lastNames)
		case "first_name":
			out = s.pick(firstNames)
		case "last_name":
			out = s.pick(lastNames)
		case "address":
			out = strconv.Itoa(1+s.intn(299)) + " " + s.pick(streets) + " " + s.pick(streetEnds)
		}

		if col.Unique && kind != "email" {
			tag := " " + s.hex(16)
			if col.Length > 0 && len(tag) > col.Length-1 {
				tag = fit(tag, col.Length-1)
			}

			if col.Length > 0 && len(out)+len(tag) > col.Length {
				out = fit(out, col.Length-len(tag))
			}

			out += tag
		}

		if col.Length > 0 && len(out) > col.Length {
			if col.Unique {
				return nil, false, fmt.Errorf("the column's %d characters cannot hold a distinct masked value", col.Length)
			}

			out = fit(out, col.Length)
		}

		return []byte(out), false, nil
	}
}

// shapeFn keeps the value's shape: each letter becomes a letter of the same
// case, each digit a digit, and everything else stays, so the length in
// characters and the format (dashes, spaces, @) are kept.
func shapeFn(label string, _ Column) maskFn {
	return func(m *Masker, in []byte) ([]byte, bool, error) {
		return m.shape(label, in, shapeOpts{letters: true}), false, nil
	}
}

// shapeOpts choose what shape masks.
type shapeOpts struct {
	// letters masks letters too (else only digits change).
	letters bool
	// number keeps the first digit of a number's integer part non-zero
	// when it has more than one digit, so the number keeps its digit count.
	number bool
}

// classes of a masked position, as they enter the permutation's tweak.
const (
	posDigit   = 'd'
	posLead    = 'n' // a number's leading digit, 1 to 9
	posUpper   = 'u'
	posLower   = 'l'
	posForeign = 'x' // a letter outside ASCII (or a stray byte)
)

const (
	lowerABC = "abcdefghijklmnopqrstuvwxyz"
	upperABC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// shape masks in's ASCII digits (and letters) by the keyed permutation of
// the values of its shape (the sequence of its classes of characters), so
// two distinct values never mask alike. Letters outside ASCII have no
// place in that permutation: each becomes an ASCII letter of its case
// from a keyed hash of the whole value. A value of more than maxExactBits
// of digits and letters is masked by the keyed hash alone.
func (m *Masker) shape(label string, in []byte, o shapeOpts) []byte {
	if shapeBits(in, o) > maxExactBits {
		return m.shapeHashed(label, in, o)
	}

	out := make([]byte, 0, len(in))
	radix, digits := make([]uint64, 0, len(in)), make([]uint64, 0, len(in))
	places, pattern, cls := make([]int, 0, len(in)), make([]byte, 0, len(in)), make([]byte, 0, len(in))

	var foreign []int

	intDigits := integerDigits(in, o)

	for i := 0; i < len(in); {
		r, n := utf8.DecodeRune(in[i:])
		raw := in[i : i+n]
		i += n

		switch {
		case r >= '0' && r <= '9' && o.number && len(digits) == 0 && intDigits > 1 && r != '0':
			radix, digits, pattern = append(radix, 9), append(digits, uint64(r-'1')), append(pattern, posLead)
		case r >= '0' && r <= '9':
			radix, digits, pattern = append(radix, 10), append(digits, uint64(r-'0')), append(pattern, posDigit)
		case !o.letters:
			out = append(out, raw...)
			continue
		case r >= 'A' && r <= 'Z':
			radix, digits, pattern = append(radix, 26), append(digits, uint64(r-'A')), append(pattern, posUpper)
		case r >= 'a' && r <= 'z':
			radix, digits, pattern = append(radix, 26), append(digits, uint64(r-'a')), append(pattern, posLower)
		case unicode.IsUpper(r):
			foreign, pattern = append(foreign, len(out)), append(pattern, posForeign)
			out = append(out, 'A')

			continue
		case unicode.IsLetter(r) || (r == utf8.RuneError && n == 1):
			foreign, pattern = append(foreign, len(out)), append(pattern, posForeign)
			out = append(out, 'a')

			continue
		default:
			out = append(out, raw...)
			continue
		}

		places, cls = append(places, len(out)), append(cls, pattern[len(pattern)-1])
		out = append(out, '0')
	}

	var s *stream

	if d, ok := exactDomain(radix); ok {
		m.perms[label].permute(d, sum64(pattern), digits)
	}

	for i, p := range places {
		switch cls[i] {
		case posLead:
			out[p] = '1' + byte(digits[i])
		case posDigit:
			out[p] = '0' + byte(digits[i])
		case posUpper:
			out[p] = upperABC[digits[i]]
		default:
			out[p] = lowerABC[digits[i]]
		}
	}

	if len(foreign) > 0 {
		if s == nil {
			s = m.stream(label, in)
		}

		for _, p := range foreign {
			if out[p] == 'A' {
				out[p] = upperABC[s.intn(26)]
			} else {
				out[p] = lowerABC[s.intn(26)]
			}
		}
	}

	return out
}

// integerDigits counts the digits of a number's integer part (0 unless
// o.number).
func integerDigits(in []byte, o shapeOpts) int {
	n := 0

	for _, c := range in {
		if !o.number || c == '.' {
			break
		}

		if c >= '0' && c <= '9' {
			n++
		}
	}

	return n
}

// shapeBits is about how many bits the digits and letters shape would
// permute in carry; it reads ahead so a long value takes the cheaper path.
func shapeBits(in []byte, o shapeOpts) float64 {
	bits := 0.0

	for _, c := range in {
		switch {
		case c >= '0' && c <= '9':
			bits += 3.17 // a leading digit's 9 values, a lower bound
		case o.letters && (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'):
			bits += 4.7
		}

		if bits > maxExactBits+8 {
			break
		}
	}

	return bits
}

// shapeHashed is shape for a value of more than maxExactBits: every digit
// and letter from a keyed hash of the whole value, as many bits as the
// value has, in one pass.
func (m *Masker) shapeHashed(label string, in []byte, o shapeOpts) []byte {
	s := m.stream(label, in)
	out := make([]byte, 0, len(in))
	lead := integerDigits(in, o) > 1

	for i := 0; i < len(in); {
		r, n := utf8.DecodeRune(in[i:])
		raw := in[i : i+n]
		i += n

		switch {
		case r >= '0' && r <= '9' && lead && r != '0':
			out = append(out, '1'+byte(s.intn(9)))
		case r >= '0' && r <= '9':
			out = append(out, '0'+byte(s.intn(10)))
		case !o.letters:
			out = append(out, raw...)
		case unicode.IsUpper(r):
			out = append(out, upperABC[s.intn(26)])
		case unicode.IsLetter(r) || (r == utf8.RuneError && n == 1):
			out = append(out, lowerABC[s.intn(26)])
		default:
			out = append(out, raw...)
		}

		if r >= '0' && r <= '9' {
			lead = false
		}
	}

	return out
}

// intRange is the range of an integer type.
func intRange(col Column) (lo, hi float64) {
	bits := map[string]int{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}[col.Type]
	if col.Type == "year" {
		return 1901, 2155
	}

	if bits == 0 {
		bits = 64
	}

	if col.Unsigned {
		return 0, math.Pow(2, float64(bits)) - 1
	}

	return -math.Pow(2, float64(bits-1)), math.Pow(2, float64(bits-1)) - 1
}

// digitsFn replaces every digit of the value with a keyed digit, keeping
// everything else (a phone number's +, spaces and dashes; a number's sign
// and point). An integer column's value is permuted among the integers of
// its digit count and its type's range; a decimal's integer part keeps its
// digit count.
func digitsFn(label string, col Column) maskFn {
	switch col.class() {
	case classInt:
		lo, hi := intBounds(col)

		return func(m *Masker, in []byte) ([]byte, bool, error) {
			out, err := m.permuteInt(label, in, lo, hi)
			return out, false, err
		}
	case classDecimal:
		return func(m *Masker, in []byte) ([]byte, bool, error) {
			return m.shape(label, in, shapeOpts{number: true}), false, nil
		}
	}

	return func(m *Masker, in []byte) ([]byte, bool, error) {
		return m.shape(label, in, shapeOpts{}), false, nil
	}
}

// intBounds are an integer type's smallest and largest values, as text.
func intBounds(col Column) (lo, hi string) {
	type bounds struct{ lo, hi, uhi string }

	b, ok := map[string]bounds{
		"tinyint":   {"-128", "127", "255"},
		"smallint":  {"-32768", "32767", "65535"},
		"mediumint": {"-8388608", "8388607", "16777215"},
		"int":       {"-2147483648", "2147483647", "4294967295"},
		"integer":   {"-2147483648", "2147483647", "4294967295"},
		"year":      {"1901", "2155", "2155"},
	}[col.Type]
	if !ok {
		b = bounds{"-9223372036854775808", "9223372036854775807", "18446744073709551615"}
	}

	if col.Unsigned && col.Type != "year" {
		return "0", b.uhi
	}

	return b.lo, b.hi
}

// atMost compares two non-negative integers written without leading zeros.
func atMost(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}

	return a <= b
}

// permuteInt maps an integer to another of the same sign and digit count
// inside [lo, hi]: the permutation of the digit count's integers, walked
// along its cycle until it lands inside the range (cycle walking keeps it
// a bijection of the range). Leading zeros (ZEROFILL) are kept as padding;
// a YEAR's zero stays zero.
func (m *Masker) permuteInt(label string, in []byte, lo, hi string) ([]byte, error) {
	v := string(in)
	neg := strings.HasPrefix(v, "-")
	mag := strings.TrimPrefix(v, "-")
	width := len(mag)
	mag = strings.TrimLeft(mag, "0")

	if mag == "" {
		return in, nil // zero (a YEAR's too) has no other value of its shape
	}

	for _, c := range mag {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("not an integer")
		}
	}

	limit := strings.TrimPrefix(hi, "-")
	if neg {
		if !strings.HasPrefix(lo, "-") {
			return nil, fmt.Errorf("a negative value in an unsigned column")
		}

		limit = lo[1:]
	}

	radix := make([]uint64, len(mag))
	digits := make([]uint64, len(mag))
	pattern := []byte{'+', byte('0' + len(mag)%10), byte('0' + len(mag)/10)}

	if neg {
		pattern[0] = '-'
	}

	for i, c := range mag {
		radix[i], digits[i] = 10, uint64(c-'0')
	}

	// Zero stays zero, so the leading digit is 1 to 9 even in a number of
	// one digit.
	radix[0], digits[0] = 9, digits[0]-1

	low := strings.TrimPrefix(lo, "-")
	inRange := func(got string) bool {
		return atMost(got, limit) && (neg || strings.HasPrefix(lo, "-") || !atMost(got, low) || got == low)
	}

	// The walk ends on the cycle's way back to the value itself, so a
	// value outside the range would never end it.
	if !inRange(mag) {
		return nil, fmt.Errorf("%s is outside the column's range", v)
	}

	d, _ := exactDomain(radix)
	tweak := sum64(pattern)

	for {
		m.perms[label].permute(d, tweak, digits)

		b := make([]byte, len(digits))
		for i, x := range digits {
			b[i] = byte('0' + x)
		}

		b[0]++

		if got := string(b); inRange(got) {
			out := strings.Repeat("0", max(0, width-len(got))) + got
			if neg {
				out = "-" + out
			}

			return []byte(out), nil
		}
	}
}

// noiseFn moves a number by up to share of its value, keyed by the value:
// integers stay integers, decimals keep their scale, and the result stays
// in the column's range and sign.
func noiseFn(share float64, col Column) maskFn {
	cl := col.class()

	return func(m *Masker, in []byte) ([]byte, bool, error) {
		f, err := strconv.ParseFloat(string(in), 64)
		if err != nil {
			return nil, false, fmt.Errorf("not a number")
		}

		s := m.stream("number_noise", in)
		u := float64(s.uint64()>>11) / (1 << 53) // [0, 1)
		g := f * (1 + share*(2*u-1))

		if col.Unsigned && g < 0 {
			g = 0
		}

		switch cl {
		case classInt:
			lo, hi := intRange(col)
			g = math.Max(lo, math.Min(hi, math.Round(g)))

			return []byte(strconv.FormatFloat(g, 'f', 0, 64)), false, nil
		case classDecimal:
			scale := col.Scale
			if dot := strings.IndexByte(string(in), '.'); dot >= 0 && col.Length == 0 {
				scale = len(in) - dot - 1
			}

			if col.Length > 0 {
				limit := math.Pow(10, float64(col.Length-scale)) - math.Pow(10, -float64(scale))
				g = math.Max(-limit, math.Min(limit, g))
			}

			return []byte(strconv.FormatFloat(g, 'f', scale, 64)), false, nil
		}

		return []byte(strconv.FormatFloat(g, 'g', -1, 64)), false, nil
	}
}

// dateLayouts are the forms a server prints dates in.
var dateLayouts = []string{"2006-01-02 15:04:05.999999", "2006-01-02 15:04:05", "2006-01-02"}

func parseDate(v string) (time.Time, error) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}

	return time.Time{}, fmt.Errorf("not a date: %q", v)
}

// shiftFn moves a date or time by a keyed amount within ±span, derived
// from the value (the same date shifts alike in every row and table),
// keeping the value's form: a date stays a date, a datetime keeps its
// fraction digits. The shift is never zero, and never under a day when the
// span is a day or more, so no value keeps its own date. Zero dates stay
// as they are; a timestamp stays inside the type's range.
func shiftFn(span time.Duration, col Column) maskFn {
	return func(m *Masker, in []byte) ([]byte, bool, error) {
		v := string(in)
		if strings.HasPrefix(v, "0000-00-00") {
			return in, false, nil
		}

		t, err := parseDate(v)
		if err != nil {
			return nil, false, err
		}

		s := m.stream("date_shift", in)
		unit, least := time.Second, time.Second

		if col.Type == "date" || len(v) == 10 {
			unit = 24 * time.Hour
		}

		if span >= 24*time.Hour {
			least = 24 * time.Hour
		}

		steps, first := int64(span/unit), int64(max(least, unit)/unit)
		if steps < first {
			steps = first
		}

		d := time.Duration(first+int64(s.uint64()%uint64(steps-first+1))) * unit
		if s.byte()&1 == 1 {
			d = -d
		}

		out := t.Add(d)

		if col.Type == "timestamp" {
			lo, hi := time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2038, 1, 18, 0, 0, 0, 0, time.UTC)
			if out.Before(lo) || out.After(hi) {
				out = t.Add(-d)
			}
		}

		layout := "2006-01-02"

		if len(v) > 10 {
			layout = "2006-01-02 15:04:05"
			if dot := strings.IndexByte(v, '.'); dot >= 0 {
				layout += "." + strings.Repeat("0", len(v)-dot-1)
			}
		}

		return []byte(out.Format(layout)), false, nil
	}
}
