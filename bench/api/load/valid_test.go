package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// corpus is valid JSON of every kind, the API's own OpenAPI document
// among it.
func corpus(t testing.TB) [][]byte {
	t.Helper()

	doc, err := os.ReadFile("../../../internal/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}

	type snap struct {
		ID     string            `json:"id"`
		Time   time.Time         `json:"time"`
		Bytes  int64             `json:"bytes"`
		Ratio  float64           `json:"ratio"`
		OK     bool              `json:"ok"`
		Extra  map[string]string `json:"extra,omitempty"`
		Parent *snap             `json:"parent"`
	}

	enc, err := json.Marshal([]snap{
		{ID: "k1f3e", Time: time.Date(2026, 3, 1, 12, 0, 0, 123, time.UTC), Bytes: -42, Ratio: 1.5e-7, OK: true,
			Extra: map[string]string{"quote": `a "b" \ c`, "ctl": "tab\there\nnl", "uni": "é ✓ \u2028 \U0001F600 <&>"}},
		{ID: "", Ratio: 12345678901234567890, Parent: &snap{ID: "p"}},
	})
	if err != nil {
		t.Fatal(err)
	}

	out := [][]byte{doc, enc}
	for _, s := range []string{
		`0`, `-0`, `1`, `-12.5e+3`, `0.1E-2`, `1e9`, `true`, `false`, `null`, `""`, `"\u00e9\ud83d\ude00\/"`,
		`[]`, `{}`, ` [ 1 , [ ] , { } , "x" ] `, "\t{\"a\"\r\n:\n[true,false,null]}\n", `{"a":{"b":{"c":[[[]]]}}}`,
		"\"\xff\xfe raw bytes\"",
	} {
		out = append(out, []byte(s))
	}

	return out
}

// TestValidJSONAgreesWithEncodingJSON: on valid documents and on every
// kind of breakage, validJSON says what encoding/json.Valid says.
func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	cases := corpus(t)

	for _, s := range []string{
		``, ` `, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `tru`, `nul`, `True`, `"abc`, `"a\x"`, `"\u12"`, `"\u12g4"`,
		"\"tab\there\"", `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{a:1}`, `{"a" 1}`, `[1 2]`, `[1] [2]`, `{}}`, `[[]`,
		`"\'"`, "\"a\x00b\"", `1 x`, `[` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10002),
		strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000),
	} {
		cases = append(cases, []byte(s))
	}

	// Every valid document broken in many ways: a byte dropped, changed
	// or added, or the document cut short.
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("{}[]\":,\\ \t\n0123456789-+.eEtrufalsn\x00\x1f\x7fu/abcdef")

	for _, doc := range corpus(t) {
		for range 300 {
			b := bytes.Clone(doc)
			i := rnd.IntN(len(b))

			switch rnd.IntN(4) {
			case 0:
				b = append(b[:i], b[i+1:]...)
			case 1:
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			case 2:
				b = append(b[:i], append([]byte{alphabet[rnd.IntN(len(alphabet))]}, b[i:]...)...)
			default:
				b = b[:i]
			}

			cases = append(cases, b)
		}
	}

	valid := 0

	for _, b := range cases {
		want := json.Valid(b)
		if got := validJSON(b); got != want {
			t.Fatalf("validJSON(%.200q) = %v, encoding/json.Valid says %v", b, got, want)
		}

		if want {
			valid++
		}
	}

	if valid < 30 || valid == len(cases) {
		t.Fatalf("%d of %d cases valid: the corpus does not test both sides", valid, len(cases))
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, b := range corpus(f) {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	doc := corpus(b)[0]

	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))

		for b.Loop() {
			if !validJSON(doc) {
				b.Fatal("invalid")
			}
		}
	})

	b.Run("encoding/json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))

		for b.Loop() {
			if !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
}
