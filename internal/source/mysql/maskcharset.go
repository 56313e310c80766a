package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// A binlog row holds a text column's bytes in the column's character set,
// where a dump reads them as utf8mb4: a masked replay decodes them, so a
// latin1 name masks as the full's copy of it did.

// decoders are the character sets a masked column's replayed values are
// decoded from when the server's own table (loadByteTables) does not
// serve: the multi-byte ones. The single-byte ones are listed so a column
// in them is known to be decodable. big5 is left out: MariaDB's big5 and
// the standard one read some characters differently (TestReplayCharsets).
var decoders = map[string]encoding.Encoding{
	"latin1": charmap.Windows1252, "ascii": charmap.Windows1252,
	"latin2": charmap.ISO8859_2, "latin5": charmap.ISO8859_9, "latin7": charmap.ISO8859_13,
	"greek": charmap.ISO8859_7, "hebrew": charmap.ISO8859_8,
	"cp1250": charmap.Windows1250, "cp1251": charmap.Windows1251, "cp1256": charmap.Windows1256, "cp1257": charmap.Windows1257,
	"cp850": charmap.CodePage850, "cp852": charmap.CodePage852, "cp866": charmap.CodePage866,
	"koi8r": charmap.KOI8R, "koi8u": charmap.KOI8U, "macroman": charmap.Macintosh,
	"sjis": japanese.ShiftJIS, "cp932": japanese.ShiftJIS, "ujis": japanese.EUCJP, "eucjpms": japanese.EUCJP,
	"euckr": korean.EUCKR, "gbk": simplifiedchinese.GBK, "gb2312": simplifiedchinese.GBK, "gb18030": simplifiedchinese.GB18030,
	"ucs2": unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf16": unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf16le": unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf32": utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
}

var (
	tableCharset  = regexp.MustCompile(`DEFAULT CHARSET=(\w+)`)
	columnCharset = regexp.MustCompile(`CHARACTER SET (\w+)`)
)

// columnCharsets is the character set of each of t's text columns that is
// not a UTF-8 one ("" for the others and for columns that are not text),
// by the column's place among t.Cols.
func columnCharsets(t *Table) []string {
	def := ""
	if m := tableCharset.FindStringSubmatch(t.Create); m != nil {
		def = m[1]
	}

	byName := map[string]string{}

	for _, l := range sqlLines(t.Create) {
		m := columnLine.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(strings.TrimSpace(l), "CREATE") {
			continue
		}

		cs := def
		if c := columnCharset.FindStringSubmatch(m[4]); c != nil {
			cs = c[1]
		}

		byName[strings.ReplaceAll(m[1][1:len(m[1])-1], "``", "`")] = cs
	}

	out := make([]string, len(t.Cols))

	for i, c := range t.Cols {
		cs := byName[c.Name]
		if kindOf(c.Type) != kindString || cs == "" || cs == "binary" || strings.HasPrefix(cs, "utf8") {
			continue
		}

		out[i] = cs
	}

	return out
}

// byteTables maps a single-byte character set to the character the server
// reads each byte as: where MariaDB's tables and the standard ones differ
// (undefined bytes, an older code page), the server's are the ones the
// full's dump was read with.
type byteTables map[string]*[256]rune

// loadByteTables asks the server how it converts every byte of each
// single-byte character set in sets; the multi-byte ones are left to
// decoders.
func loadByteTables(ctx context.Context, db *sql.DB, sets map[string]bool) (byteTables, error) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}

	out := byteTables{}

	for cs := range sets {
		var width int
		if err := db.QueryRowContext(ctx, "SELECT MAXLEN FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = ?", cs).Scan(&width); err != nil {
			return nil, fmt.Errorf("look up the %s character set on the server: %w", cs, err)
		}

		if width != 1 {
			continue
		}

		var text string
		if err := db.QueryRowContext(ctx, "SELECT CONVERT("+charsetLiteral(cs, all)+" USING utf8mb4)").Scan(&text); err != nil {
			return nil, fmt.Errorf("read the %s character set from the server: %w", cs, err)
		}

		if utf8.RuneCountInString(text) != 256 {
			continue
		}

		var t [256]rune

		i := 0
		for _, r := range text {
			t[i] = r
			i++
		}

		out[cs] = &t
	}

	return out, nil
}

// decodeText turns a replayed text value in charset cs into UTF-8, by the
// server's table for a single-byte set, else by the set's decoder.
func (bt byteTables) decodeText(cs string, raw []byte) ([]byte, error) {
	if t := bt[cs]; t != nil {
		out := make([]byte, 0, len(raw)+len(raw)/2)
		for _, b := range raw {
			out = utf8.AppendRune(out, t[b])
		}

		return out, nil
	}

	enc, ok := decoders[cs]
	if !ok {
		return nil, fmt.Errorf("no decoder for the %s character set", cs)
	}

	return enc.NewDecoder().Bytes(raw)
}

// charsetLiteral writes a text value in its own character set, as the
// server reads it whatever the session's: _latin1 X'...'.
func charsetLiteral(cs string, raw []byte) string {
	return "_" + cs + " X'" + hex.EncodeToString(raw) + "'"
}
