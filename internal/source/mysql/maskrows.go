package mysql

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// unescapes maps the character after a backslash in a dumped string to the
// byte it stands for (the inverse of escapes).
var unescapes = [256]byte{'0': 0, 'n': '\n', 'r': '\r', '\\': '\\', '\'': '\'', 'Z': 0x1a}

// binaryPrefix opens a binary string in a data file (appendTuple).
var binaryPrefix = []byte("_binary'")

// errTuple means a data file's values are not as this package writes them.
var errTuple = errors.New("the data file's values are not in the form a backup writes them")

// rewrite appends to dst the VALUES list values (the tuples of one INSERT,
// as dumpTable writes them) with every ruled column masked, and adds each
// masked row to the table's expected checksum.
func (tm *tableMask) rewrite(dst, values []byte) ([]byte, error) {
	var (
		sum  rowSum
		cell []byte
	)

	i := 0
	for i < len(values) {
		if values[i] != '(' {
			return dst, errTuple
		}

		start := len(dst)
		dst = append(dst, '(')
		i++

		for col := 0; col < len(tm.kinds); col++ {
			if col > 0 {
				if i >= len(values) || values[i] != ',' {
					return dst, errTuple
				}

				dst = append(dst, ',')
				i++
			}

			end, err := tokenEnd(values, i)
			if err != nil {
				return dst, err
			}

			tok := values[i:end]
			i = end

			f := tm.fields[col]
			if f == nil {
				dst = append(dst, tok...)
				continue
			}

			val, null := decodeToken(tok, cell[:0])
			cell = val

			if null {
				val = nil
			}

			out, outNull, err := f.Mask(val)
			if err != nil {
				return dst, err
			}

			dst = appendValue(dst, out, outNull, tm.kinds[col])
		}

		if i >= len(values) || values[i] != ')' {
			return dst, errTuple
		}

		dst = append(dst, ')')
		i++

		sum.add(dst[start:])

		if i < len(values) {
			if values[i] != ',' {
				return dst, errTuple
			}

			dst = append(dst, ',')
			i++
		}
	}

	tm.mu.Lock()
	tm.sum.merge(sum)
	tm.mu.Unlock()

	return dst, nil
}

// tokenEnd finds where the value starting at i ends.
func tokenEnd(v []byte, i int) (int, error) {
	if i >= len(v) {
		return i, errTuple
	}

	if bytes.HasPrefix(v[i:], binaryPrefix) {
		// A binary string, as appendTuple writes one since BLOBs are no
		// longer hex: the quoted part ends it.
		end, err := tokenEnd(v, i+len(binaryPrefix)-1)

		return end, err
	}

	switch {
	case v[i] == '\'':
		for j := i + 1; j < len(v); j++ {
			switch v[j] {
			case '\\':
				j++
			case '\'':
				return j + 1, nil
			}
		}

		return len(v), errTuple
	case v[i] == 'b' && i+1 < len(v) && v[i+1] == '\'':
		j := bytes.IndexByte(v[i+2:], '\'')
		if j < 0 {
			return len(v), errTuple
		}

		return i + 2 + j + 1, nil
	}

	j := i
	for j < len(v) && v[j] != ',' && v[j] != ')' {
		j++
	}

	return j, nil
}

// decodeToken turns a dumped value into its bytes (appended to buf): a
// string (binary or not) unescaped, hex (older backups) decoded, a number
// as its text; null for NULL.
func decodeToken(tok, buf []byte) ([]byte, bool) {
	tok = bytes.TrimPrefix(tok, binaryPrefix[:len(binaryPrefix)-1])

	switch {
	case string(tok) == "NULL":
		return buf, true
	case len(tok) >= 2 && tok[0] == '\'':
		in := tok[1 : len(tok)-1]
		for j := 0; j < len(in); j++ {
			if in[j] == '\\' && j+1 < len(in) {
				j++
				buf = append(buf, unescapes[in[j]])

				continue
			}

			buf = append(buf, in[j])
		}

		return buf, false
	case len(tok) > 2 && tok[0] == '0' && tok[1] == 'x':
		out := make([]byte, hex.DecodedLen(len(tok)-2))
		n, _ := hex.Decode(out, tok[2:])

		return append(buf, out[:n]...), false
	}

	return append(buf, tok...), false
}

// appendValue renders a masked value as appendTuple renders a server's.
func appendValue(b, v []byte, null bool, kind valueKind) []byte {
	switch {
	case null:
		return append(b, "NULL"...)
	case kind == kindNumber:
		return append(b, v...)
	case kind == kindBinary:
		b = append(b, binaryPrefix...)
		b = appendEscaped(b, v)

		return append(b, '\'')
	}

	b = append(b, '\'')
	b = appendEscaped(b, v)

	return append(b, '\'')
}

// maskStatements copies a table's data file (INSERT statements, one per
// line, each starting with prefix) from r to w with its rows masked.
func maskStatements(r io.Reader, w io.Writer, prefix string, tm *tableMask) error {
	br := bufio.NewReaderSize(r, 256<<10)

	var out []byte

	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}

		if len(line) == 0 {
			return nil
		}

		values, ok := bytes.CutPrefix(line, []byte(prefix))
		if !ok {
			return fmt.Errorf("statement %d does not start with the table's INSERT: the file is damaged or does not belong to this table", n)
		}

		values = bytes.TrimSuffix(bytes.TrimRight(values, "\n"), []byte(";"))

		out = append(out[:0], prefix...)
		if out, err = tm.rewrite(out, values); err != nil {
			return fmt.Errorf("statement %d: %w", n, err)
		}

		out = append(out, ";\n"...)
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
}
