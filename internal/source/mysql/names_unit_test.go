package mysql

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestFileNamesAreDistinctAndFlat: every name becomes one path element of
// its own: no separator, no dot, and no two names (nor a name and another
// table's chunk) share a file.
func TestFileNamesAreDistinctAndFlat(t *testing.T) {
	names := []string{"actor", "a.b", "a@2eb", "a/b", `a\b`, "..", ".", "t.0001", "t", "b\nc", "b\rc", "é", "ü", "e\u0301", "x\u2028y", "a b", "a\x01", "a@01"}
	seen := map[string]string{}

	for _, n := range names {
		f := fileName(n)
		if strings.ContainsAny(f, "/\\.\n\r\x00 ") {
			t.Errorf("%q -> %q: holds a separator, dot or control byte", n, f)
		}

		if other, ok := seen[f]; ok {
			t.Errorf("%q and %q share the file name %q", n, other, f)
		}

		seen[f] = n
	}

	if fileName("actor") != "actor" || fileName("Bücher_2") != "Bücher_2" {
		t.Errorf("plain names change: %q %q", fileName("actor"), fileName("Bücher_2"))
	}

	tbl := &Table{Name: "t", Bounds: []int64{1, 5, 9}}
	whole := &Table{Name: "t.0001", File: fileName("t.0001")}
	db := &Database{Name: "d/.."}
	nameFiles(db)

	if a, b := tbl.Files(db)[1], whole.Files(db)[0]; a == b || !strings.HasPrefix(a, "d@2f@2e@2e/") {
		t.Errorf("chunk %q and table %q", a, b)
	}
}

// TestCommentTextStaysInItsComment: nothing in a name ends a -- comment or a
// /* */ comment.
func TestCommentTextStaysInItsComment(t *testing.T) {
	for _, n := range []string{"t\nDROP DATABASE x;", "t\rx", "a*/b", "/*x", "a\x00\x01\x1a", "a\u2028b\u0085c", "\xff\xfe"} {
		c := commentText(n)
		if strings.ContainsAny(c, "\n\r\x00\x01\x1a\u2028\u0085") || strings.Contains(c, "*/") || strings.Contains(c, "/*") {
			t.Errorf("%q -> %q", n, c)
		}
	}

	// The usual ones read as they are.
	for _, n := range []string{"actor", "2026-12-02T18:00:00.123456Z", "10.11.19-MariaDB-0+deb12u1", "xxh64sum:00ff", "0-1-9876"} {
		if c := commentText(n); c != n {
			t.Errorf("%q -> %q", n, c)
		}
	}

	if c := commentText(`say "hi"`); c != `"say \"hi\""` {
		t.Errorf("a name with quotes is written %s", c)
	}
}

// TestDelimiterNotInStatement: a routine's delimiter never occurs in it.
func TestDelimiterNotInStatement(t *testing.T) {
	for _, stmt := range []string{"BEGIN SELECT 1; END", "SELECT ';;'", "SELECT ';;$$//'", "SELECT ';;$$//;;1;;'"} {
		if d := delimiterFor(stmt); strings.Contains(stmt, d) || d == ";" {
			t.Errorf("%q: delimiter %q", stmt, d)
		}
	}
}

// TestSQLScanning: line breaks, keywords and delimiters inside quoted names,
// strings and comments are not taken for the statement's own.
func TestSQLScanning(t *testing.T) {
	create := "CREATE TABLE `a\nb` (\n  `c``\n` int COMMENT 'x\\'\n',\n  KEY `k` (`c``\n`)\n) ENGINE=InnoDB"
	if got := sqlLines(create); len(got) != 4 || got[0] != "CREATE TABLE `a\nb` (" {
		t.Errorf("sqlLines: %q", got)
	}

	ev := "CREATE EVENT `x ENABLE y` ON SCHEDULE EVERY 1 DAY ON COMPLETION NOT PRESERVE ENABLE COMMENT ' ENABLE ' DO SELECT 1"
	if i := indexUnquoted(ev, " ENABLE "); ev[i-8:i] != "PRESERVE" {
		t.Errorf("ENABLE found at %d: %q", i, ev[i:])
	}

	if q := leadingIdent("`a``b` int"); q != "`a``b`" || unquoteIdent(q) != "a`b" {
		t.Errorf("leadingIdent: %q", q)
	}

	// A statement split across lines continues while a quote or a block
	// comment is open; a line comment ends with its line.
	state := byte(0)
	for _, line := range []string{"INSERT INTO `a;\n", "b` VALUES ('x;\n", "y'); -- it's\n", "/* ;\n", "*/ SELECT 1;\n"} {
		state = scanSQL(line, state, func(int) bool { return true })
	}

	if state != 0 {
		t.Errorf("state %q after a whole statement", state)
	}
}

// TestDefinitionsKeepEveryByte: a definition that is not UTF-8 comes back
// from the recorded metadata byte for byte; others are recorded as before.
func TestDefinitionsKeepEveryByte(t *testing.T) {
	m := &Meta{Databases: []*Database{{Name: "d", Tables: []*Table{{Name: "t", Create: "CREATE TABLE `t` (b BLOB DEFAULT _binary '\xff')"}},
		Objects: []*Object{{Kind: "trigger", Name: "tr", Create: "SET @a = _binary'\xfe\x80'"}, {Kind: "view", Name: "v", Create: "SELECT 'é'"}}}}}

	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}

	if !strings.Contains(string(b), `"create":"SELECT 'é'"`) {
		t.Errorf("a UTF-8 definition is no longer recorded as text: %s", b)
	}

	var back Meta
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}

	d := back.Databases[0]
	if d.Tables[0].Create != m.Databases[0].Tables[0].Create || d.Objects[0].Create != m.Databases[0].Objects[0].Create || d.Objects[1].Create != "SELECT 'é'" {
		t.Errorf("definitions changed: %q %q %q", d.Tables[0].Create, d.Objects[0].Create, d.Objects[1].Create)
	}
}

// TestDisableEventsTouchesOnlyTheStatus: a copy's event is created disabled;
// " ENABLE " in its name, comment or body stays as it is.
func TestDisableEventsTouchesOnlyTheStatus(t *testing.T) {
	ev := &Object{Kind: "event", Name: "x ENABLE y", Create: "CREATE DEFINER=`r ENABLE `@`%` EVENT `x ENABLE y` ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE COMMENT ' ENABLE ' DO ALTER EVENT `z` ENABLE "}
	want := "CREATE DEFINER=`r ENABLE `@`%` EVENT `x ENABLE y` ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' ON COMPLETION NOT PRESERVE DISABLE COMMENT ' ENABLE ' DO ALTER EVENT `z` ENABLE "

	if got := disableEvents([]*Object{ev})[0].Create; got != want {
		t.Errorf("disabled:\n%s\nwant\n%s", got, want)
	}

	off := &Object{Kind: "event", Name: "e", Create: "CREATE EVENT `e` ON SCHEDULE EVERY 1 DAY DISABLE DO ALTER EVENT `z` ENABLE "}
	if got := disableEvents([]*Object{off})[0].Create; got != off.Create {
		t.Errorf("a disabled event's body changed: %s", got)
	}
}
