package cli

import (
	"fmt"
	"strings"
	"unicode"
)

// printable escapes what would let text recorded from elsewhere (an error, a
// command's output, a detail) forge lines or drive the terminal when printed
// in a table: control characters (newline, carriage return, tab, escape, ...)
// and Unicode line separators and direction overrides become \n, \r, \t,
// \x1b, \u2028 and the like. Anything else is printed as it is.
func printable(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) {
		return s
	}

	var b strings.Builder

	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}

	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
}
