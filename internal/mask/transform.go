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
// transformers; a unique column's values get a keyed suffix, so distinct
// inputs stay distinct.
func stringFn(kind string, col Column) maskFn {
	return func(m *Masker, in []byte, attempt int) ([]byte, bool, error) {
		s := m.stream(kind, in, attempt)

		var out string

		switch kind {
		case "email":
			// Twelve hex digits (48 bits) keep a million addresses apart
			// but for a rare collision, which the unique check re-derives.
			tag := s.hex(12)
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
			tag := " " + s.hex(8)
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
func shapeFn(label string, col Column) maskFn {
	const lower, upper, digits = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"

	return func(m *Masker, in []byte, attempt int) ([]byte, bool, error) {
		s := m.stream(label, in, attempt)
		out := make([]byte, 0, len(in))

		for i := 0; i < len(in); {
			r, n := utf8.DecodeRune(in[i:])
			i += n

			switch {
			case r >= '0' && r <= '9':
				out = append(out, digits[s.intn(10)])
			case unicode.IsUpper(r):
				out = append(out, upper[s.intn(26)])
			case unicode.IsLetter(r):
				out = append(out, lower[s.intn(26)])
			case r == utf8.RuneError && n == 1:
				out = append(out, lower[s.intn(26)])
			default:
				out = utf8.AppendRune(out, r)
			}
		}

		return out, false, nil
	}
}

// digitsFn replaces every digit of the value with a keyed digit, keeping
// everything else (a phone number's +, spaces and dashes; a number's sign).
// A leading digit that was not 0 stays non-zero, so the number keeps its
// digit count; a number column's result stays inside its type's range.
func digitsFn(label string, col Column, _ bool) maskFn {
	cl := col.class()

	return func(m *Masker, in []byte, attempt int) ([]byte, bool, error) {
		s := m.stream(label, in, attempt)
		out := make([]byte, len(in))
		first := true

		for i, c := range in {
			out[i] = c

			if c < '0' || c > '9' {
				continue
			}

			d := byte(s.intn(10))
			if first && c != '0' {
				d = 1 + byte(s.intn(9))
			}

			first = false
			out[i] = '0' + d
		}

		if cl == classInt {
			return clampInt(out, col), false, nil
		}

		return out, false, nil
	}
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

// clampInt keeps an integer's text inside its column's range.
func clampInt(v []byte, col Column) []byte {
	lo, hi := intRange(col)

	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return v
	}

	switch {
	case f > hi:
		return []byte(strconv.FormatFloat(hi, 'f', 0, 64))
	case f < lo:
		return []byte(strconv.FormatFloat(lo, 'f', 0, 64))
	}

	return v
}

// noiseFn moves a number by up to share of its value, keyed by the value:
// integers stay integers, decimals keep their scale, and the result stays
// in the column's range and sign.
func noiseFn(share float64, col Column) maskFn {
	cl := col.class()

	return func(m *Masker, in []byte, attempt int) ([]byte, bool, error) {
		f, err := strconv.ParseFloat(string(in), 64)
		if err != nil {
			return nil, false, fmt.Errorf("not a number")
		}

		s := m.stream("number_noise", in, attempt)
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

// shiftFn moves a date or time by a keyed amount within ±span (whole days
// for a date column), keeping the value's form: a date stays a date, a
// datetime keeps its fraction digits. Zero dates stay as they are; a
// timestamp stays inside the type's range.
func shiftFn(span time.Duration, col Column) maskFn {
	return func(m *Masker, in []byte, attempt int) ([]byte, bool, error) {
		v := string(in)
		if strings.HasPrefix(v, "0000-00-00") {
			return in, false, nil
		}

		t, err := parseDate(v)
		if err != nil {
			return nil, false, err
		}

		s := m.stream("date_shift", in, attempt)
		unit := time.Second

		if col.Type == "date" || len(v) == 10 {
			unit = 24 * time.Hour
		}

		steps := int64(span / unit)
		if steps < 1 {
			steps = 1
		}

		d := time.Duration(int64(s.uint64()%uint64(2*steps+1))-steps) * unit
		if d == 0 {
			d = unit
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
