package mysql

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// statementBytes caps one INSERT statement, well under the server's smallest
// default max_allowed_packet (16 MiB on MariaDB, 64 MiB on MySQL 8).
const statementBytes = 1 << 20

type valueKind int

const (
	kindString valueKind = iota
	kindNumber
	kindBinary
	kindBit
)

func kindOf(dataType string) valueKind {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
		"float", "double", "real", "year":
		return kindNumber
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return kindBinary
	case "bit":
		return kindBit
	}

	return kindString
}

// rowSum is an order-independent checksum of a table's rows, built from each
// row's 64-bit xxHash: their sum and the XOR of their rotations. Two tables
// with the same multiset of rows have the same checksum whatever order a
// server returns them in, and chunk checksums add up to the table's. It is a
// check against loss and corruption, not a cryptographic seal: the
// repository's own hashes and encryption are that.
type rowSum [2]uint64

func (s *rowSum) add(row []byte) {
	h := xxhash.Sum64(row)
	s[0] += h
	s[1] ^= bits.RotateLeft64(h, 29) * 0x9E3779B97F4A7C15
}

func (s *rowSum) merge(o rowSum) {
	s[0] += o[0]
	s[1] ^= o[1]
}

func (s *rowSum) String() string {
	return fmt.Sprintf("xxh64sum:%016x%016x", s[0], s[1])
}

// wholeTable selects every row, not one chunk.
const wholeTable = -1

// selectRows is the query that reads a table (or one chunk of it) the way
// dumps and checks agree on.
func selectRows(db string, t *Table, chunk int) string {
	cols := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		cols[i] = quoteIdent(c.Name)

		// The text protocol prints FLOAT with 6 significant digits, which
		// loses precision; as a DOUBLE it prints 17, which load back to the
		// identical FLOAT.
		if c.Type == "float" {
			cols[i] += "+0e0"
		}
	}

	q := "SELECT " + strings.Join(cols, ",") + " FROM " + quoteIdent(db) + "." + quoteIdent(t.Name)

	if chunk != wholeTable {
		pk := quoteIdent(t.PK[0])
		q += fmt.Sprintf(" WHERE %s >= %d AND %s < %d", pk, t.Bounds[chunk], pk, t.Bounds[chunk+1])
	}

	if len(t.PK) > 0 {
		pk := make([]string, len(t.PK))
		for i, c := range t.PK {
			pk[i] = quoteIdent(c)
		}

		// Primary-key order keeps consecutive dumps aligned, so unchanged
		// rows fall into unchanged chunks and deduplicate.
		q += " ORDER BY " + strings.Join(pk, ",")
	}

	return q
}

// scanTable reads every row of a table and calls emit with each row rendered
// as an SQL tuple "(v1,v2,...)". Rows are streamed: memory does not grow with
// the table.
func scanTable(ctx context.Context, q querier, db string, t *Table, chunk int, emit func(tuple []byte) error) (int64, rowSum, error) {
	var sum rowSum

	if len(t.Cols) == 0 {
		return 0, sum, nil
	}

	rows, err := q.QueryContext(ctx, selectRows(db, t, chunk))
	if err != nil {
		return 0, sum, fmt.Errorf("read table %s.%s: %w", db, t.Name, err)
	}
	defer rows.Close()

	kinds := make([]valueKind, len(t.Cols))
	for i, c := range t.Cols {
		kinds[i] = kindOf(c.Type)
	}

	vals := make([]sql.RawBytes, len(t.Cols))
	ptrs := make([]any, len(vals))

	for i := range vals {
		ptrs[i] = &vals[i]
	}

	var (
		n   int64
		buf []byte
	)

	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, sum, fmt.Errorf("read table %s.%s: %w", db, t.Name, err)
		}

		buf = appendTuple(buf[:0], vals, kinds)
		sum.add(buf)
		n++

		if err := emit(buf); err != nil {
			return n, sum, err
		}
	}

	if err := rows.Err(); err != nil {
		return n, sum, fmt.Errorf("read table %s.%s after %d rows: %w", db, t.Name, n, err)
	}

	return n, sum, nil
}

func appendTuple(b []byte, vals []sql.RawBytes, kinds []valueKind) []byte {
	b = append(b, '(')

	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}

		switch {
		case v == nil:
			b = append(b, "NULL"...)
		case kinds[i] == kindNumber:
			b = append(b, v...)
		case kinds[i] == kindBinary:
			// The bytes as they are, escaped, not hex: hex doubles them, and
			// the repository's fast compressor gives little of that back
			// (random bytes were stored twice their size).
			b = append(b, "_binary'"...)
			b = appendEscaped(b, v)
			b = append(b, '\'')
		case kinds[i] == kindBit:
			b = append(b, "b'"...)
			for _, c := range v {
				for bit := 7; bit >= 0; bit-- {
					b = append(b, '0'+(c>>bit)&1)
				}
			}

			b = append(b, '\'')
		default:
			b = append(b, '\'')
			b = appendEscaped(b, v)
			b = append(b, '\'')
		}
	}

	return append(b, ')')
}

// escapes maps each byte to the character after a backslash that escapes it
// in a quoted SQL literal, or 0 when it goes in as it is.
var escapes = [256]byte{0: '0', '\n': 'n', '\r': 'r', '\\': '\\', '\'': '\'', 0x1a: 'Z'}

// appendEscaped escapes v as mysql_real_escape_string does, so every statement
// stays on one line. Runs of plain bytes are copied whole: most text needs no
// escaping, and this loop is a tenth of a database backup's CPU.
func appendEscaped(b, v []byte) []byte {
	start := 0

	for i, c := range v {
		if e := escapes[c]; e != 0 {
			b = append(b, v[start:i]...)
			b = append(b, '\\', e)
			start = i + 1
		}
	}

	return append(b, v[start:]...)
}

func insertPrefix(t *Table) string {
	cols := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		cols[i] = quoteIdent(c.Name)
	}

	return "INSERT INTO " + quoteIdent(t.Name) + " (" + strings.Join(cols, ",") + ") VALUES "
}

// dumpTable writes a table's rows as INSERT statements, one per line, each
// about statementBytes long.
func dumpTable(ctx context.Context, q querier, db string, t *Table, chunk int, w io.Writer) (int64, rowSum, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	prefix := insertPrefix(t)
	size := 0

	n, sum, err := scanTable(ctx, q, db, t, chunk, func(tuple []byte) error {
		var err error

		if size == 0 {
			_, err = bw.WriteString(prefix)
			size = len(prefix)
		} else {
			err = bw.WriteByte(',')
		}

		if err != nil {
			return err
		}

		if _, err := bw.Write(tuple); err != nil {
			return err
		}

		size += len(tuple) + 1

		if size >= statementBytes {
			size = 0
			_, err = bw.WriteString(";\n")
		}

		return err
	})
	if err != nil {
		return n, sum, err
	}

	if size > 0 {
		if _, err := bw.WriteString(";\n"); err != nil {
			return n, sum, err
		}
	}

	return n, sum, bw.Flush()
}
