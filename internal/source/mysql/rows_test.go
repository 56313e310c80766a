package mysql

import "testing"

func TestAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"plain text":       "plain text",
		"it's":             `it\'s`,
		"a\\b":             `a\\b`,
		"nul\x00end":       `nul\0end`,
		"line1\nline2\r\n": `line1\nline2\r\n`,
		"ctrl-z\x1a":       `ctrl-z\Z`,
		"\"double\" stays": `"double" stays`,
		"🚀 ünïcode\x00'":   `🚀 ünïcode\0\'`,
	} {
		if got := string(appendEscaped(nil, []byte(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func BenchmarkAppendEscaped(b *testing.B) {
	v := []byte("a fairly ordinary line of text with one 'quote' in it, as rows usually are")
	buf := make([]byte, 0, 256)

	b.SetBytes(int64(len(v)))

	for b.Loop() {
		buf = appendEscaped(buf[:0], v)
	}
}
