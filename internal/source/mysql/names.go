package mysql

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names of databases, tables, columns and objects are chosen by whoever may
// create them and can hold any byte but NUL: line breaks, quotes, backticks,
// comment markers, delimiters, path separators. Everywhere a dump or an
// export writes one, it goes through one of the functions below, so that no
// name can end the comment, statement, line or path it is written in.

// fileName is name as one path element of a snapshot: letters, digits, _, -
// and $ stand for themselves, every other byte (the path separators, '.',
// which would clash with chunk numbers, control bytes, '@' itself) is @ and
// two hex digits. Distinct names give distinct file names.
func fileName(name string) string {
	const hex = "0123456789abcdef"

	var b strings.Builder

	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])

		switch {
		case r == '_' || r == '-' || r == '$' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'):
			b.WriteRune(r)
		case r >= utf8.RuneSelf && r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteString(name[i : i+size])
		default:
			for _, c := range []byte(name[i : i+size]) {
				b.WriteByte('@')
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
		}

		i += size
	}

	return b.String()
}

// commentText is s for a "-- " comment of a script: as it is when it is
// printable ASCII without quotes, backslashes or comment markers (the
// usual names, times, versions and checksums), else quoted and escaped as a
// Go string (line breaks, control bytes and quotes become escapes) with "*/"
// and "/*" broken up, so nothing in it can end the comment or start another.
func commentText(s string) string {
	plain := !strings.Contains(s, "*/") && !strings.Contains(s, "/*") && !strings.ContainsAny(s, `"\`)
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= ' ' && s[i] <= '~'
	}

	if plain {
		return s
	}

	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "*/", `*\x2f`)

	return strings.ReplaceAll(q, "/*", `\x2f*`)
}

// scanUnquoted calls fn with the index of every byte of the SQL text s that
// is outside a quoted name (`...`), string ('...', "...") and comment, until
// fn returns false.
func scanUnquoted(s string, fn func(i int) bool) {
	scanSQL(s, 0, fn)
}

// Where scanSQL is at the end of a piece of text: outside quotes and
// comments (0), in a quoted name or string (its quote), or in a comment.
const (
	inLineComment  = '-'
	inBlockComment = '*'
)

// scanSQL follows SQL text from state (0, or what it returned for the text
// before) and calls fn with the index of each byte outside quoted names,
// strings and comments, until fn returns false; it returns the state at the
// end. Inside strings a backslash escapes the next byte, as it does in the
// statements the server prints and in dumps. Versioned comments (/*! and
// /*M!) hold statements, so their content is followed as SQL.
func scanSQL(s string, state byte, fn func(i int) bool) byte {
	for i := 0; i < len(s); i++ {
		c := s[i]

		switch state {
		case 0:
			switch {
			case c == '`' || c == '\'' || c == '"':
				state = c
			case c == '#' || (c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || s[i+2] <= ' ')):
				state = inLineComment
			case c == '/' && strings.HasPrefix(s[i:], "/*") && !strings.HasPrefix(s[i:], "/*!") && !strings.HasPrefix(s[i:], "/*M!"):
				state, i = inBlockComment, i+1
			default:
				if !fn(i) {
					return state
				}
			}
		case inLineComment:
			if c == '\n' {
				state = 0

				if !fn(i) {
					return state
				}
			}
		case inBlockComment:
			if c == '*' && i+1 < len(s) && s[i+1] == '/' {
				state, i = 0, i+1
			}
		case '`':
			if c == '`' {
				state = 0
			}
		default:
			switch c {
			case '\\':
				i++
			case state:
				state = 0
			}
		}
	}

	return state
}

// sqlLines splits a statement the server printed into its lines, leaving line
// breaks inside quoted names and strings where they are.
func sqlLines(s string) []string {
	var (
		out   []string
		start int
	)

	scanUnquoted(s, func(i int) bool {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}

		return true
	})

	return append(out, s[start:])
}

// indexUnquoted is the index of the first occurrence of word in s outside
// quoted names and strings, or -1. word must hold no quote character.
func indexUnquoted(s, word string) int {
	at := -1

	scanUnquoted(s, func(i int) bool {
		if strings.HasPrefix(s[i:], word) {
			at = i
			return false
		}

		return true
	})

	return at
}

// leadingIdent is the quoted name at the start of s (`a“b` included whole),
// or "" when s does not start with one.
func leadingIdent(s string) string {
	if !strings.HasPrefix(s, "`") {
		return ""
	}

	for i := 1; i < len(s); i++ {
		if s[i] != '`' {
			continue
		}

		if i+1 < len(s) && s[i+1] == '`' {
			i++
			continue
		}

		return s[:i+1]
	}

	return ""
}

// unquoteIdent is the name s starts with: a quoted name (`a“b` is a`b)
// or, unquoted, s up to its first space or ';'.
func unquoteIdent(s string) string {
	if q := leadingIdent(s); q != "" {
		return strings.ReplaceAll(q[1:len(q)-1], "``", "`")
	}

	if end := strings.IndexAny(s, " \t\n;"); end >= 0 {
		return s[:end]
	}

	return s
}

// delimiterFor is a DELIMITER for a script to end stmt with: one that does
// not occur anywhere in it, so the client cannot end the statement early,
// whatever its body, names or strings hold.
func delimiterFor(stmt string) string {
	for _, d := range []string{";;", "$$", "//"} {
		if !strings.Contains(stmt, d) {
			return d
		}
	}

	for n := 1; ; n++ {
		d := ";;" + strconv.Itoa(n) + ";;"
		if !strings.Contains(stmt, d) {
			return d
		}
	}
}

// JSON holds only UTF-8, and encoding/json replaces other bytes. A
// definition may hold them (a binary literal in a trigger, a view or a
// default), so one that is not UTF-8 is recorded in base64 beside the empty
// text field; names are UTF-8 (the server refuses others).

// binaryCreate is the base64 of create when it is not UTF-8, else "".
func binaryCreate(create *string) string {
	if utf8.ValidString(*create) {
		return ""
	}

	b64 := base64.StdEncoding.EncodeToString([]byte(*create))
	*create = ""

	return b64
}

// textCreate puts back a definition binaryCreate recorded in base64.
func textCreate(create *string, b64 string) error {
	if b64 == "" {
		return nil
	}

	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("a recorded definition: %w", err)
	}

	*create = string(b)

	return nil
}

// marshalCreate encodes p, whose definition is *create, recording a
// definition that is not UTF-8 in base64.
func marshalCreate[P any](p *P, create *string) ([]byte, error) {
	b64 := binaryCreate(create)

	b, err := json.Marshal(p)
	if err != nil || b64 == "" {
		return b, err
	}

	return append(b[:len(b)-1], `,"create_base64":"`+b64+`"}`...), nil
}

// unmarshalCreate decodes what marshalCreate wrote into p.
func unmarshalCreate[P any](b []byte, p *P, create *string) error {
	var extra struct {
		CreateBase64 string `json:"create_base64"`
	}

	if err := json.Unmarshal(b, p); err != nil {
		return err
	}

	if err := json.Unmarshal(b, &extra); err != nil {
		return err
	}

	return textCreate(create, extra.CreateBase64)
}

// MarshalJSON records the table's definition byte for byte.
func (t Table) MarshalJSON() ([]byte, error) {
	type plain Table

	p := plain(t)

	return marshalCreate(&p, &p.Create)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (t *Table) UnmarshalJSON(b []byte) error {
	type plain Table

	return unmarshalCreate(b, (*plain)(t), &t.Create)
}

// MarshalJSON records the object's definition byte for byte.
func (o Object) MarshalJSON() ([]byte, error) {
	type plain Object

	p := plain(o)

	return marshalCreate(&p, &p.Create)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (o *Object) UnmarshalJSON(b []byte) error {
	type plain Object

	return unmarshalCreate(b, (*plain)(o), &o.Create)
}
