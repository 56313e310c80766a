package mask

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var (
	keyA = []byte("0123456789abcdef-key-a")
	keyB = []byte("0123456789abcdef-key-b")
)

func masker(t *testing.T, key []byte) *Masker {
	t.Helper()

	m, err := New(key)
	if err != nil {
		t.Fatal(err)
	}

	return m
}

func field(t *testing.T, key []byte, spec Spec, col Column) *Field {
	t.Helper()

	if col.Name == "" {
		col.Name = "db.t.c"
	}

	f, err := masker(t, key).Field(spec, col)
	if err != nil {
		t.Fatalf("%s on %s: %v", spec, col.Type, err)
	}

	return f
}

func mask(t *testing.T, f *Field, in string) string {
	t.Helper()

	out, null, err := f.Mask([]byte(in))
	if err != nil {
		t.Fatalf("mask %q: %v", in, err)
	}

	if null {
		return "NULL"
	}

	return string(out)
}

// Each keyed transformer: the same input gives the same output under the
// same key (in another Field, as another table's column would), another
// key gives another output, the output differs from the input, and it has
// the shape the transformer promises.
func TestKeyedTransformers(t *testing.T) {
	cases := []struct {
		spec  Spec
		col   Column
		in    string
		shape *regexp.Regexp
	}{
		{Spec{Kind: "email"}, Column{Type: "varchar", Length: 50}, "MARY.SMITH@sakilacustomer.org", regexp.MustCompile(`^[a-z]+\.[a-z]+\.[0-9a-f]{16}@example\.(com|org|net)$`)},
		{Spec{Kind: "name"}, Column{Type: "varchar", Length: 45}, "Mary Smith", regexp.MustCompile(`^[A-Z][a-z]+ [A-Z][a-z]+$`)},
		{Spec{Kind: "first_name"}, Column{Type: "varchar", Length: 45}, "MARY", regexp.MustCompile(`^[A-Z][a-z]+$`)},
		{Spec{Kind: "last_name"}, Column{Type: "varchar", Length: 45}, "SMITH", regexp.MustCompile(`^[A-Z][a-z]+$`)},
		{Spec{Kind: "phone"}, Column{Type: "varchar", Length: 20}, "+44 (20) 7946-0958", regexp.MustCompile(`^\+\d\d \(\d\d\) \d{4}-\d{4}$`)},
		{Spec{Kind: "phone"}, Column{Type: "bigint"}, "4420794609", regexp.MustCompile(`^[1-9]\d{9}$`)},
		{Spec{Kind: "address"}, Column{Type: "varchar", Length: 50}, "1913 Hanoi Way", regexp.MustCompile(`^\d+ [A-Z][a-z]+ [A-Z][a-z]+$`)},
		{Spec{Kind: "text"}, Column{Type: "text"}, "Call me at 555-0100, Bob!", regexp.MustCompile(`^[A-Z][a-z]{3} [a-z]{2} [a-z]{2} \d{3}-\d{4}, [A-Z][a-z]{2}!$`)},
		{Spec{Kind: "hash"}, Column{Type: "varchar", Length: 40}, "secret-token", regexp.MustCompile(`^[0-9a-f]{32}$`)},
		{Spec{Kind: "hash", Format: true}, Column{Type: "varchar", Length: 40}, "AB-1234-cd", regexp.MustCompile(`^[A-Z]{2}-\d{4}-[a-z]{2}$`)},
		{Spec{Kind: "hash"}, Column{Type: "int"}, "123456", regexp.MustCompile(`^[1-9]\d{5}$`)},
		{Spec{Kind: "date_shift", Value: "30d"}, Column{Type: "date"}, "1984-06-01", regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)},
		{Spec{Kind: "date_shift", Value: "30d"}, Column{Type: "datetime"}, "2006-02-15 04:34:33", regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)},
		{Spec{Kind: "date_shift", Value: "12h"}, Column{Type: "datetime"}, "2006-02-15 04:34:33.250", regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`)},
		{Spec{Kind: "number_noise", Value: "10%"}, Column{Type: "decimal", Length: 5, Scale: 2}, "100.00", regexp.MustCompile(`^\d+\.\d\d$`)},
		{Spec{Kind: "number_noise", Value: "10%"}, Column{Type: "int"}, "1000", regexp.MustCompile(`^\d+$`)},
	}

	for _, c := range cases {
		t.Run(c.spec.String()+"/"+c.col.Type, func(t *testing.T) {
			a := mask(t, field(t, keyA, c.spec, c.col), c.in)
			again := mask(t, field(t, keyA, c.spec, c.col), c.in)
			b := mask(t, field(t, keyB, c.spec, c.col), c.in)

			if a != again {
				t.Errorf("same key, same input: %q then %q", a, again)
			}

			if a == b {
				t.Errorf("another key gave the same output %q", a)
			}

			if a == c.in {
				t.Errorf("the output is the input %q", a)
			}

			if !c.shape.MatchString(a) {
				t.Errorf("%q does not have the shape %s", a, c.shape)
			}

			if c.col.Length > 0 && c.col.class() == classString && utf8.RuneCountInString(a) > c.col.Length {
				t.Errorf("%q is longer than the column's %d characters", a, c.col.Length)
			}
		})
	}
}

func TestTextKeepsLengthInCharacters(t *testing.T) {
	f := field(t, keyA, Spec{Kind: "text"}, Column{Type: "varchar", Length: 20})

	for _, in := range []string{"Zoë Müller-Łukasz", "日本語のテキスト", "a\\b'c"} {
		out := mask(t, f, in)
		if utf8.RuneCountInString(out) != utf8.RuneCountInString(in) {
			t.Errorf("%q -> %q: %d characters, want %d", in, out, utf8.RuneCountInString(out), utf8.RuneCountInString(in))
		}

		if !utf8.ValidString(out) {
			t.Errorf("%q -> %q is not valid UTF-8", in, out)
		}
	}
}

func TestLengthLimits(t *testing.T) {
	for _, c := range []struct {
		spec   Spec
		length int
	}{
		{Spec{Kind: "email"}, 20}, {Spec{Kind: "email"}, 10}, {Spec{Kind: "name"}, 6}, {Spec{Kind: "address"}, 8}, {Spec{Kind: "hash"}, 7},
	} {
		f := field(t, keyA, c.spec, Column{Type: "varchar", Length: c.length})
		for i := 0; i < 50; i++ {
			out := mask(t, f, fmt.Sprintf("someone-%d@company.example", i))
			if utf8.RuneCountInString(out) > c.length {
				t.Fatalf("%s into varchar(%d): %q is too long", c.spec, c.length, out)
			}
		}
	}
}

func TestNumbersStayInRange(t *testing.T) {
	f := field(t, keyA, Spec{Kind: "hash"}, Column{Type: "tinyint", Unsigned: true})
	for i := 100; i < 256; i++ {
		out := mask(t, f, fmt.Sprint(i))
		var v int
		if _, err := fmt.Sscan(out, &v); err != nil || v < 0 || v > 255 {
			t.Fatalf("tinyint unsigned %d -> %q", i, out)
		}
	}

	n := field(t, keyA, Spec{Kind: "number_noise", Value: "50%"}, Column{Type: "decimal", Length: 4, Scale: 2})
	for i := 0; i < 100; i++ {
		out := mask(t, n, fmt.Sprintf("%d.99", i%100))
		var v float64
		if _, err := fmt.Sscan(out, &v); err != nil || v > 99.99 || v < 0 {
			t.Fatalf("decimal(4,2) -> %q", out)
		}
	}
}

// Values of a unique column stay distinct even where the transformer's
// range is small (first names), and the result is the same in a second run.
func TestUniqueColumnsStayUnique(t *testing.T) {
	col := Column{Type: "varchar", Length: 45, Unique: true}

	run := func() []string {
		f := field(t, keyA, Spec{Kind: "first_name"}, col)
		out := make([]string, 2000)
		seen := map[string]bool{}

		for i := range out {
			out[i] = mask(t, f, fmt.Sprintf("user%d", i))
			if seen[out[i]] {
				t.Fatalf("%q given twice", out[i])
			}

			seen[out[i]] = true
		}

		// The same input again is no collision.
		if again := mask(t, f, "user7"); again != out[7] {
			t.Fatalf("user7 again: %q, first %q", again, out[7])
		}

		return out
	}

	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("row %d: %q then %q", i, a[i], b[i])
		}
	}

	// A small integer column: a keyed hash would collide often; the
	// permutation keeps every value distinct.
	f := field(t, keyA, Spec{Kind: "hash"}, Column{Type: "smallint", Unique: true})
	seen := map[string]bool{}

	for i := 1000; i < 1500; i++ {
		out := mask(t, f, fmt.Sprint(i))
		if seen[out] {
			t.Fatalf("%q given twice", out)
		}

		seen[out] = true
	}
}

func TestUnkeyedTransformers(t *testing.T) {
	if got := mask(t, field(t, keyA, Spec{Kind: "null"}, Column{Type: "varchar", Nullable: true}), "x"); got != "NULL" {
		t.Errorf("null: %q", got)
	}

	if got := mask(t, field(t, keyA, Spec{Kind: "fixed", Value: "redacted"}, Column{Type: "varchar", Length: 10}), "x"); got != "redacted" {
		t.Errorf("fixed: %q", got)
	}

	if got := mask(t, field(t, keyA, Spec{Kind: "keep"}, Column{Type: "varchar"}), "same"); got != "same" {
		t.Errorf("keep: %q", got)
	}

	re := field(t, keyA, Spec{Kind: "regexp", Match: `\d{4}$`, Replace: "XXXX"}, Column{Type: "varchar", Length: 30})
	if got := mask(t, re, "card 4111111111111111"); got != "card 411111111111XXXX" {
		t.Errorf("regexp: %q", got)
	}

	// NULL stays NULL for a keyed transformer.
	out, null, err := field(t, keyA, Spec{Kind: "email"}, Column{Type: "varchar"}).Mask(nil)
	if err != nil || !null || out != nil {
		t.Errorf("email of NULL: %q %v %v", out, null, err)
	}
}

func TestJSONPaths(t *testing.T) {
	spec := Spec{Kind: "json", JSON: map[string]Spec{
		"$.address":           {Kind: "address"},
		"$.contacts[*].phone": {Kind: "phone"},
		"$.age":               {Kind: "number_noise", Value: "10%"},
	}}
	in := `{"address":"12 Real Street","contacts":[{"phone":"555-0100","kind":"home"},{"phone":"555-0199"}],"age":40,"tier":"gold","tags":["<a>"]}`

	a := mask(t, field(t, keyA, spec, Column{Type: "json"}), in)
	b := mask(t, field(t, keyB, spec, Column{Type: "json"}), in)

	if a == b {
		t.Fatal("another key gave the same document")
	}

	if again := mask(t, field(t, keyA, spec, Column{Type: "json"}), in); again != a {
		t.Fatalf("same key: %s then %s", a, again)
	}

	var doc struct {
		Address  string
		Contacts []struct{ Phone, Kind string }
		Age      float64
		Tier     string
		Tags     []string
	}
	if err := json.Unmarshal([]byte(a), &doc); err != nil {
		t.Fatalf("%s: %v", a, err)
	}

	if doc.Address == "12 Real Street" || strings.Contains(a, "555-0100") || strings.Contains(a, "555-0199") {
		t.Errorf("original values left in %s", a)
	}

	if doc.Tier != "gold" || doc.Contacts[0].Kind != "home" || doc.Tags[0] != "<a>" {
		t.Errorf("values outside the paths changed: %s", a)
	}

	if doc.Age < 36 || doc.Age > 44 {
		t.Errorf("age %v is not within 10%% of 40", doc.Age)
	}

	if _, _, err := field(t, keyA, spec, Column{Type: "json"}).Mask([]byte("not json")); err == nil {
		t.Error("a value that is not JSON was accepted")
	}
}

func TestRefusals(t *testing.T) {
	m := masker(t, keyA)

	for _, c := range []struct {
		spec Spec
		col  Column
		want string
	}{
		{Spec{Kind: "emial"}, Column{Type: "varchar"}, `unknown transformer "emial"`},
		{Spec{Kind: "email"}, Column{Type: "int"}, "email cannot write a int column"},
		{Spec{Kind: "date_shift", Value: "30d"}, Column{Type: "varchar"}, "date_shift cannot write a varchar column"},
		{Spec{Kind: "date_shift", Value: "soon"}, Column{Type: "date"}, "expected a span"},
		{Spec{Kind: "number_noise", Value: "10"}, Column{Type: "int"}, "expected a share"},
		{Spec{Kind: "null"}, Column{Type: "varchar"}, "NOT NULL"},
		{Spec{Kind: "fixed", Value: "too long for it"}, Column{Type: "varchar", Length: 5}, "longer than the column's 5 characters"},
		{Spec{Kind: "fixed", Value: "x"}, Column{Type: "varchar", Unique: true}, "unique key"},
		{Spec{Kind: "regexp", Match: "("}, Column{Type: "varchar"}, "regexp: match"},
		{Spec{Kind: "json", JSON: map[string]Spec{"address": {Kind: "address"}}}, Column{Type: "json"}, "expected a path"},
	} {
		c.col.Name = "db.t.c"
		if _, err := m.Field(c.spec, c.col); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "db.t.c") {
			t.Errorf("%s on %s: %v, want %q naming the column", c.spec, c.col.Type, err, c.want)
		}
	}

	if _, err := New([]byte("short")); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}
