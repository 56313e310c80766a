package main

// validJSON reports whether b is one JSON value (RFC 8259), surrounded by
// whitespace only: what encoding/json.Valid says, for every input. It reads
// each byte once in a plain loop: encoding/json's scanner calls a function
// per byte, and checking the answers with it took two thirds of the load
// generator's CPU, on the same cores as the daemon it measures.
func validJSON(b []byte) bool {
	p := parser{b: b}
	p.space()

	if !p.value(0) {
		return false
	}

	p.space()

	return p.i == len(p.b)
}

// maxDepth is encoding/json's limit on nested arrays and objects.
const maxDepth = 10000

type parser struct {
	b []byte
	i int
}

func (p *parser) space() {
	b, i := p.b, p.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}

	p.i = i
}

// plain are the bytes a string holds as they are: not a control
// character, a quote or a backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}

	return t
}()

func (p *parser) value(depth int) bool {
	if p.i >= len(p.b) {
		return false
	}

	switch c := p.b[p.i]; {
	case c == '{':
		return depth < maxDepth && p.object(depth+1)
	case c == '[':
		return depth < maxDepth && p.array(depth+1)
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}

	return false
}

func (p *parser) literal(word string) bool {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return false
	}

	p.i += len(word)

	return true
}

// object is {} or { "key": value, ... }, p.i at the opening brace.
func (p *parser) object(depth int) bool {
	p.i++
	p.space()

	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}

	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' || !p.str() {
			return false
		}

		p.space()

		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}

		p.i++
		p.space()

		if !p.value(depth) {
			return false
		}

		if more, ok := p.next('}'); !more {
			return ok
		}
	}
}

// array is [] or [ value, ... ], p.i at the opening bracket.
func (p *parser) array(depth int) bool {
	p.i++
	p.space()

	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return true
	}

	for {
		if !p.value(depth) {
			return false
		}

		if more, ok := p.next(']'); !more {
			return ok
		}
	}
}

// str is a string, p.i at its opening quote: no control character inside,
// escapes among \" \\ \/ \b \f \n \r \t and \uXXXX. Bytes above ASCII are
// taken as they are, as encoding/json.Valid takes them.
func (p *parser) str() bool {
	b, i := p.b, p.i+1

	for {
		for i < len(b) && plain[b[i]] {
			i++
		}

		if i >= len(b) {
			return false
		}

		switch b[i] {
		case '"':
			p.i = i + 1
			return true
		case '\\':
			p.i = i
			if !p.escape() {
				return false
			}

			i = p.i
		default:
			return false
		}
	}
}

// escape is one escape sequence, p.i at its backslash.
func (p *parser) escape() bool {
	p.i++
	if p.i >= len(p.b) {
		return false
	}

	switch p.b[p.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		p.i++
		return true
	case 'u':
		if len(p.b)-p.i < 5 {
			return false
		}

		for _, h := range p.b[p.i+1 : p.i+5] {
			if !hex(h) {
				return false
			}
		}

		p.i += 5

		return true
	}

	return false
}

func hex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number is -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() bool {
	if p.b[p.i] == '-' {
		p.i++
	}

	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return false
	}

	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++

		if p.digits() == 0 {
			return false
		}
	}

	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++

		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}

		if p.digits() == 0 {
			return false
		}
	}

	return true
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}

	return n
}

// next reads what follows a member or an element: a comma, when more
// follow, or the closing byte; ok is false for anything else.
func (p *parser) next(closing byte) (more, ok bool) {
	p.space()

	if p.i >= len(p.b) {
		return false, false
	}

	switch p.b[p.i] {
	case ',':
		p.i++
		p.space()

		return true, true
	case closing:
		p.i++

		return false, true
	}

	return false, false
}
