package binlog

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
)

var fixtureDirs = []string{"crc32", "nochecksum"}

// queryEvent builds a query event as a server writes it, with no status
// variables, for statements the fixtures do not hold (BEGIN, XA).
func queryEvent(db, query string, checksum bool, serverID, logPos uint32) event {
	body := make([]byte, 13, 13+len(db)+1+len(query)+4)
	body[8] = byte(len(db))
	body = append(body, db...)
	body = append(body, 0)
	body = append(body, query...)

	raw := make([]byte, headerLen, headerLen+len(body)+4)
	raw[4] = evQuery
	binary.LittleEndian.PutUint32(raw[5:], serverID)
	raw = append(raw, body...)

	if checksum {
		raw = append(raw, 0, 0, 0, 0)
	}

	binary.LittleEndian.PutUint32(raw[9:], uint32(len(raw)))
	binary.LittleEndian.PutUint32(raw[13:], logPos)

	if checksum {
		binary.LittleEndian.PutUint32(raw[len(raw)-4:], crc32.ChecksumIEEE(raw[:len(raw)-4]))
	}

	e, err := parseHeader(raw)
	if err != nil {
		panic(err)
	}

	return e
}

func TestFixtureEventsChainAndCarryChecksums(t *testing.T) {
	for _, dir := range fixtureDirs {
		for _, name := range fixtureFiles {
			f := loadFixture(t, dir, name)

			if f.checksum != (dir == "crc32") {
				t.Errorf("%s/%s: fdeChecksum = %v", dir, name, f.checksum)
			}

			pos := uint32(len(magic))
			for i, e := range f.events {
				if e.start() != pos {
					t.Fatalf("%s/%s event %d (type %d): starts at %d, previous ended at %d", dir, name, i, e.typ, e.start(), pos)
				}

				if int(e.size) != len(e.raw) {
					t.Errorf("%s/%s event %d: header size %d, %d bytes read", dir, name, i, e.size, len(e.raw))
				}

				if e.serverID != 1 {
					t.Errorf("%s/%s event %d: server id %d, the test server runs with 1", dir, name, i, e.serverID)
				}

				if e.artificial() {
					t.Errorf("%s/%s event %d: artificial in a file the server wrote", dir, name, i)
				}

				if f.checksum {
					n := len(e.raw) - 4
					if got, want := binary.LittleEndian.Uint32(e.raw[n:]), crc32.ChecksumIEEE(e.raw[:n]); got != want {
						t.Errorf("%s/%s event %d: CRC32 %08x, computed %08x", dir, name, i, got, want)
					}

					if len(e.body(true)) != len(e.raw)-headerLen-4 {
						t.Errorf("%s/%s event %d: body with checksum keeps its last 4 bytes", dir, name, i)
					}
				} else if len(e.body(false)) != len(e.raw)-headerLen {
					t.Errorf("%s/%s event %d: body without checksum lost bytes", dir, name, i)
				}

				pos = e.logPos
			}

			if int(pos) != len(f.raw) {
				t.Errorf("%s/%s: last event ends at %d, the file has %d bytes", dir, name, pos, len(f.raw))
			}

			last := f.events[len(f.events)-1]
			if last.typ != evRotate {
				t.Errorf("%s/%s: last event has type %d, want a rotate", dir, name, last.typ)
			}
		}
	}
}

func TestArtificialFlag(t *testing.T) {
	e := queryEvent("", "COMMIT", false, 1, 100)
	if e.artificial() {
		t.Fatal("flags 0 read as artificial")
	}

	e.raw[17] |= flagArtificial
	e, _ = parseHeader(e.raw)

	if !e.artificial() || e.flags != flagArtificial {
		t.Fatalf("flags %#x: artificial() = %v", e.flags, e.artificial())
	}
}

func TestParseHeaderAndReaderRefuseBrokenEvents(t *testing.T) {
	if _, err := parseHeader(make([]byte, 18)); err == nil || err.Error() != "binlog event of 18 bytes is shorter than its header" {
		t.Errorf("short header: %v", err)
	}

	f := loadFixture(t, "crc32", fixtureFiles[1])
	body := f.raw[len(magic):]
	first := f.events[0].size

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"cut inside the second header", body[:first+7], "binlog segment ends inside an event header at byte 252"},
		{"cut inside the second event", body[:first+headerLen+3], "binlog segment ends inside an event at byte 252: unexpected EOF"},
		{"size below a header", func() []byte {
			b := bytes.Clone(body)
			binary.LittleEndian.PutUint32(b[first+9:], 5)
			return b
		}(), "binlog event at byte 252 claims 5 bytes"},
	}

	for _, c := range cases {
		er := newEventReader(bytes.NewReader(c.data))
		if _, err := er.next(); err != nil {
			t.Fatalf("%s: first event: %v", c.name, err)
		}

		_, err := er.next()
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// txn is what the fixtures' GTID events say, in order.
type txn struct {
	gtid       string
	standalone bool
}

var fixtureTxns = [][]txn{
	{{"0-1-3", true}, {"0-1-4", true}, {"0-1-5", true}, {"0-1-6", true}, {"0-1-7", false}, {"0-1-8", false}, {"0-1-9", false}, {"0-1-10", true}, {"0-1-11", true}},
	{{"0-1-12", false}, {"0-1-13", false}},
}

var fixtureQueries = [][2]string{
	{"shop", "CREATE DATABASE shop"},
	{"lib", "CREATE DATABASE lib"},
	{"", "CREATE TABLE shop.orders (id INT PRIMARY KEY, qty INT) ENGINE=InnoDB"},
	{"", "CREATE TABLE lib.`odd-name $x` (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB"},
	{"shop", "CREATE TABLE items (id INT PRIMARY KEY) ENGINE=InnoDB"},
	{"shop", "ALTER TABLE shop.orders ADD COLUMN note VARCHAR(10)"},
}

func TestFixtureEventBodies(t *testing.T) {
	for _, dir := range fixtureDirs {
		var queries [][2]string

		var maps []string

		for i, name := range fixtureFiles {
			f := loadFixture(t, dir, name)

			var txns []txn

			var tables = map[uint64]string{}

			var rows []string

			for _, e := range f.events {
				switch {
				case e.typ == evMariaGTID:
					g, standalone := mariaGTID(e, f.checksum)
					txns = append(txns, txn{g.String(), standalone})
				case e.typ == evQuery:
					db, q := queryInfo(e, f.checksum)
					queries = append(queries, [2]string{db, q})
				case e.typ == evTableMap:
					id, db := tableMap(e, f.checksum)
					tables[id] = db
					maps = append(maps, db)
				case isRows(e.typ):
					db, ok := tables[rowsTable(e)]
					if !ok {
						t.Errorf("%s/%s: rows event for table %d with no table map before it", dir, name, rowsTable(e))
					}

					rows = append(rows, db)
				case e.typ == evRotate:
					file, pos := rotateTarget(e, f.checksum)
					if want := successor(name); file != want || pos != 4 {
						t.Errorf("%s/%s: rotate to %s:%d, want %s:4", dir, name, file, pos, want)
					}
				}
			}

			if got, want := txns, fixtureTxns[i]; !equalSlices(got, want) {
				t.Errorf("%s/%s: GTIDs %v, want %v", dir, name, got, want)
			}

			wantRows := []string{"shop", "lib", "shop", "shop", "lib"}
			if i == 1 {
				wantRows = []string{"lib", "shop"}
			}

			if !equalSlices(rows, wantRows) {
				t.Errorf("%s/%s: rows events apply to %v, want %v", dir, name, rows, wantRows)
			}
		}

		if !equalSlices(queries, fixtureQueries) {
			t.Errorf("%s: queries\n%q\nwant\n%q", dir, queries, fixtureQueries)
		}

		if want := []string{"shop", "lib", "shop", "shop", "lib", "lib", "shop"}; !equalSlices(maps, want) {
			t.Errorf("%s: table maps of %v, want %v", dir, maps, want)
		}
	}
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}

	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}

	return true
}

func TestBodyReadersOnShortEvents(t *testing.T) {
	short := event{raw: make([]byte, headerLen+4)}

	if g, s := mariaGTID(short, false); !g.IsZero() || s {
		t.Errorf("mariaGTID of a short event: %v %v", g, s)
	}

	if f, p := rotateTarget(event{raw: make([]byte, headerLen+7)}, false); f != "" || p != 0 {
		t.Errorf("rotateTarget of a short event: %q %d", f, p)
	}

	if db, q := queryInfo(short, false); db != "" || q != "" {
		t.Errorf("queryInfo of a short event: %q %q", db, q)
	}

	if id, db := tableMap(short, false); id != 0 || db != "" {
		t.Errorf("tableMap of a short event: %d %q", id, db)
	}

	if id := rowsTable(event{raw: make([]byte, headerLen+5)}); id != 0 {
		t.Errorf("rowsTable of a short event: %d", id)
	}

	if fdeChecksum(make([]byte, headerLen+57+4)) {
		t.Error("fdeChecksum of a short description")
	}

	// A query whose database length runs past the event.
	e := queryEvent("shop", "COMMIT", false, 1, 100)
	e.raw[headerLen+8] = 200

	if db, q := queryInfo(e, false); db != "" || q != "" {
		t.Errorf("queryInfo with a database past the end: %q %q", db, q)
	}

	if got := renameQuery(e, false, map[string]string{"shop": "x"}); !bytes.Equal(got, e.raw) {
		t.Error("renameQuery changed an event it cannot read")
	}
}

func TestTransactionBoundaries(t *testing.T) {
	for q, want := range map[string][2]bool{
		"COMMIT":             {true, false},
		" commit\n":          {true, false},
		"ROLLBACK":           {true, false},
		"XA COMMIT 'x'":      {true, false},
		"xa rollback 'x'":    {true, false},
		"BEGIN":              {false, true},
		"begin ":             {false, true},
		"XA START 'x'":       {false, true},
		"XA END 'x'":         {false, false},
		"COMMIT WORK AND NO": {false, false},
		"BEGIN NOT ATOMIC":   {false, false},
		"INSERT INTO t":      {false, false},
	} {
		if isTxnEnd(q) != want[0] || isBegin(q) != want[1] {
			t.Errorf("%q: isTxnEnd %v isBegin %v, want %v", q, isTxnEnd(q), isBegin(q), want)
		}
	}
}

func TestMentions(t *testing.T) {
	cases := []struct {
		query, db string
		want      bool
	}{
		{"CREATE TABLE shop.orders (id INT)", "shop", true},
		{"CREATE TABLE `shop`.`orders` (id INT)", "shop", true},
		{"DROP DATABASE `Shop`", "shop", true},
		{"create database shop", "shop", true},
		{"CREATE DATABASE lib", "shop", false},
		{"INSERT INTO orders VALUES (1)", "shop", false},
		{"CREATE TABLE lib.`odd-name $x` (id INT)", "lib", true},
		{"CREATE TABLE lib.`odd-name $x` (id INT)", "odd-name $x", false},
		{"DROP SCHEMA IF EXISTS shop", "shop", true},
		{"ALTER TABLE `shop`.t ADD c INT, ALGORITHM=INPLACE", "shop", true},
		{"RENAME TABLE lib.a TO shop.a", "shop", true},
		// Other databases whose names contain the name: their statements
		// must not be replayed into (or onto) the database recovered.
		{"ALTER TABLE myshop.t ADD c INT", "shop", false},
		{"DROP TABLE `myshop`.t", "shop", false},
		{"DROP DATABASE shopping", "shop", false},
		{"CREATE DATABASE `shop2`", "shop", false},
		{"DROP TABLE x_shop.t", "shop", false},
	}

	for _, c := range cases {
		if got := mentions(c.query, c.db); got != c.want {
			t.Errorf("mentions(%q, %q) = %v", c.query, c.db, got)
		}
	}
}

func TestRenameQueryRewritesQualifiedNames(t *testing.T) {
	for _, dir := range fixtureDirs {
		f := loadFixture(t, dir, fixtureFiles[0])

		var alter, odd, createDB event

		for _, e := range f.events {
			if e.typ != evQuery {
				continue
			}

			switch _, q := queryInfo(e, f.checksum); {
			case strings.HasPrefix(q, "ALTER"):
				alter = e
			case strings.Contains(q, "odd-name"):
				odd = e
			case q == "CREATE DATABASE shop":
				createDB = e
			}
		}

		cases := []struct {
			e      event
			rename map[string]string
			db, q  string
		}{
			{alter, map[string]string{"shop": "shop_copy"}, "shop", "ALTER TABLE `shop_copy`.orders ADD COLUMN note VARCHAR(10)"},
			{odd, map[string]string{"lib": "li`b"}, "", "CREATE TABLE `li``b`.`odd-name $x` (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB"},
			// The statement's database changes; the default database is
			// mariadb-binlog's --rewrite-db's to change.
			{createDB, map[string]string{"shop": "shop_copy"}, "shop", "CREATE DATABASE `shop_copy`"},
			{alter, map[string]string{"lib": "lib_copy"}, "shop", "ALTER TABLE shop.orders ADD COLUMN note VARCHAR(10)"},
		}

		for _, c := range cases {
			raw := renameQuery(c.e, f.checksum, c.rename)

			e, err := parseHeader(raw)
			if err != nil {
				t.Fatal(err)
			}

			if int(e.size) != len(raw) {
				t.Errorf("%s: renamed event says %d bytes, has %d", dir, e.size, len(raw))
			}

			if f.checksum {
				n := len(raw) - 4
				if binary.LittleEndian.Uint32(raw[n:]) != crc32.ChecksumIEEE(raw[:n]) {
					t.Errorf("%s: renamed event's CRC32 does not match its bytes", dir)
				}
			}

			if db, q := queryInfo(e, f.checksum); db != c.db || q != c.q {
				t.Errorf("%s: renamed %v to db %q query %q, want %q %q", dir, c.rename, db, q, c.db, c.q)
			}
		}
	}

	// Names that only end in the database's name, and columns, stay.
	e := queryEvent("", "UPDATE myshop.t SET shop = x.shop, y = `shop`.t.c", true, 1, 100)

	_, q := queryInfo(mustParse(t, renameQuery(e, true, map[string]string{"shop": "s2"})), true)
	if want := "UPDATE myshop.t SET shop = x.shop, y = `s2`.t.c"; q != want {
		t.Errorf("renamed to %q, want %q", q, want)
	}
}

func mustParse(t *testing.T, raw []byte) event {
	t.Helper()

	e, err := parseHeader(raw)
	if err != nil {
		t.Fatal(err)
	}

	return e
}

// TestRenameQueryRewritesDatabaseStatements: a replay into a renamed copy
// (a drill's scratch database, --target-database) must not create, alter
// or drop the original: mariadb-binlog's --rewrite-db leaves the name in
// these statements alone.
func TestRenameQueryRewritesDatabaseStatements(t *testing.T) {
	rename := map[string]string{"shop": "shop_r"}

	for q, want := range map[string]string{
		"DROP DATABASE shop":                         "DROP DATABASE `shop_r`",
		"drop database if exists `shop`":             "drop database if exists `shop_r`",
		"CREATE SCHEMA IF NOT EXISTS shop":           "CREATE SCHEMA IF NOT EXISTS `shop_r`",
		"CREATE DATABASE shop CHARACTER SET utf8mb4": "CREATE DATABASE `shop_r` CHARACTER SET utf8mb4",
		"ALTER DATABASE `shop` COMMENT = 'x'":        "ALTER DATABASE `shop_r` COMMENT = 'x'",
		"ALTER DATABASE shop\nCOLLATE utf8mb4_bin":   "ALTER DATABASE `shop_r`\nCOLLATE utf8mb4_bin",
		"DROP DATABASE shopping":                     "DROP DATABASE shopping",
		"DROP DATABASE lib":                          "DROP DATABASE lib",
		"CREATE TABLE t (database_name VARCHAR(9))":  "CREATE TABLE t (database_name VARCHAR(9))",
		"INSERT INTO t VALUES ('the database shop')": "INSERT INTO t VALUES ('the database shop')",
	} {
		for _, checksum := range []bool{true, false} {
			e := queryEvent("", q, checksum, 1, 500)

			got := mustParse(t, renameQuery(e, checksum, rename))
			if _, nq := queryInfo(got, checksum); nq != want {
				t.Errorf("rename %q: %q, want %q", q, nq, want)
			}

			if checksum {
				n := len(got.raw) - 4
				if binary.LittleEndian.Uint32(got.raw[n:]) != crc32.ChecksumIEEE(got.raw[:n]) {
					t.Errorf("rename %q: the CRC32 does not match", q)
				}
			}
		}
	}
}
