package binlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// replayed is what a filter wrote: its events, the GTIDs of the
// transactions among them and the filter's result.
type replayed struct {
	res     *Result
	events  []event
	gtids   []string
	queries []string
	stopped bool
}

// replayFixtures feeds the recorded files' events into a filter set up as
// Replay sets one up, the way Replay feeds a segment's events, and reads back
// what it wrote. arrival, if set, gives the streamer's arrival time (Unix
// milliseconds) of the event starting at a position of a file.
func replayFixtures(t *testing.T, dir string, target Target, dbs []string, rename map[string]string, fullGTID string, arrival func(file string, pos uint32) (int64, bool)) replayed {
	t.Helper()

	var buf bytes.Buffer

	f := &filter{
		t: target, dbs: map[string]bool{}, skip: map[GTID]bool{}, tables: map[uint64]bool{},
		out: bufio.NewWriter(&buf), res: &Result{}, rename: rename,
	}
	f.already, _ = ParseGTIDList(fullGTID)

	for _, d := range dbs {
		f.dbs[d] = true
	}

	for _, g := range target.Skip {
		f.skip[g] = true
	}

	out := replayed{res: f.res}
	checksum := false

files:
	for _, name := range fixtureFiles {
		fx := loadFixture(t, dir, name)
		f.checksum, f.file, f.arrivals = fx.checksum, name, nil
		checksum = fx.checksum

		// The arrival index as the streamer stores it: "position ms" lines.
		if arrival != nil {
			var index strings.Builder

			for _, e := range fx.events {
				if ms, ok := arrival(name, e.start()); ok {
					fmt.Fprintf(&index, "%d %d\n", e.start(), ms)
				}
			}

			f.arrivals = &arrivalCursor{sc: bufio.NewScanner(strings.NewReader(index.String()))}
		}

		for _, e := range fx.events {
			if err := f.event(e); errors.Is(err, errStop) {
				out.stopped = true
				break files
			} else if err != nil {
				t.Fatalf("%s:%d: %v", name, e.start(), err)
			}
		}
	}

	if err := f.out.Flush(); err != nil {
		t.Fatal(err)
	}

	er := newEventReader(&buf)

	for {
		e, err := er.next()
		if errors.Is(err, io.EOF) {
			break
		}

		if err != nil {
			t.Fatalf("reading the filter's output: %v", err)
		}

		out.events = append(out.events, e)

		switch e.typ {
		case evMariaGTID:
			g, _ := mariaGTID(e, checksum)
			out.gtids = append(out.gtids, g.String())
		case evQuery:
			_, q := queryInfo(e, checksum)
			out.queries = append(out.queries, q)
		}
	}

	if f.res.Events != len(out.events) || f.res.Bytes != int64(lenEvents(out.events)) {
		t.Errorf("result counts %d events, %d bytes; %d events of %d bytes written", f.res.Events, f.res.Bytes, len(out.events), lenEvents(out.events))
	}

	return out
}

func lenEvents(es []event) int {
	n := 0
	for _, e := range es {
		n += len(e.raw)
	}

	return n
}

// seqs names GTIDs 0-1-from to 0-1-to, except those left out.
func seqs(from, to int, except ...int) []string {
	var out []string

next:
	for i := from; i <= to; i++ {
		for _, x := range except {
			if i == x {
				continue next
			}
		}

		out = append(out, fmt.Sprintf("0-1-%d", i))
	}

	return out
}

func types(es []event) []byte {
	var out []byte
	for _, e := range es {
		out = append(out, e.typ)
	}

	return out
}

// txnEvents is the output from the GTID event of g up to the next GTID.
func txnEvents(r replayed, checksum bool, g string) []event {
	var out []event

	in := false

	for _, e := range r.events {
		if e.typ == evMariaGTID {
			id, _ := mariaGTID(e, checksum)
			in = id.String() == g
		}

		if in {
			out = append(out, e)
		}
	}

	return out
}

func TestFilterKeepsEverythingWithNoTarget(t *testing.T) {
	for _, dir := range fixtureDirs {
		r := replayFixtures(t, dir, Target{}, nil, nil, "", nil)

		if got := r.gtids; !equalSlices(got, seqs(3, 13)) || r.stopped {
			t.Errorf("%s: kept %v, stopped %v", dir, got, r.stopped)
		}

		if r.res.Transactions != 11 || r.res.Skipped != 0 || r.res.LastGTID != "0-1-13" {
			t.Errorf("%s: result %+v", dir, r.res)
		}

		// Byte for byte, every event but the files' own bookkeeping.
		var want []byte

		for _, name := range fixtureFiles {
			for _, e := range loadFixture(t, dir, name).events {
				switch e.typ {
				case evFormat, evRotate, evGTIDList, evCheckpoint:
				default:
					want = append(want, e.raw...)
				}
			}
		}

		var got []byte
		for _, e := range r.events {
			got = append(got, e.raw...)
		}

		if !bytes.Equal(got, want) {
			t.Errorf("%s: output of %d bytes differs from the %d bytes of the transactions", dir, len(got), len(want))
		}
	}
}

func TestFilterKeepsOneDatabase(t *testing.T) {
	for _, dir := range fixtureDirs {
		checksum := dir == "crc32"

		// shop: its DDL (by default database or by qualified name), its
		// rows, and its part of the transaction that touches both.
		r := replayFixtures(t, dir, Target{}, []string{"shop"}, nil, "", nil)
		if want := []string{"0-1-3", "0-1-5", "0-1-7", "0-1-9", "0-1-10", "0-1-11", "0-1-13"}; !equalSlices(r.gtids, want) {
			t.Errorf("%s shop: kept %v, want %v", dir, r.gtids, want)
		}

		if r.res.Transactions != 7 || r.res.LastGTID != "0-1-13" {
			t.Errorf("%s shop: result %+v", dir, r.res)
		}

		wantQ := []string{"CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, qty INT) ENGINE=InnoDB", "CREATE TABLE items (id INT PRIMARY KEY) ENGINE=InnoDB", "ALTER TABLE shop.orders ADD COLUMN note VARCHAR(10)"}
		if !equalSlices(r.queries, wantQ) {
			t.Errorf("%s shop: queries %q", dir, r.queries)
		}

		for _, e := range r.events {
			if _, db := tableMap(e, checksum); e.typ == evTableMap && db != "shop" {
				t.Errorf("%s shop: table map of %s written", dir, db)
			}
		}

		// GTID, then per statement its annotation, table map and rows;
		// the lib insert's rows are left out, its annotation (a comment
		// to mariadb-binlog) is not.
		if got, want := types(txnEvents(r, checksum, "0-1-9")), []byte{evMariaGTID, evAnnotate, evTableMap, 24, evAnnotate, evTableMap, 25, evAnnotate, evXID}; !bytes.Equal(got, want) {
			t.Errorf("%s shop: transaction 0-1-9 is %v, want %v", dir, got, want)
		}

		r = replayFixtures(t, dir, Target{}, []string{"lib"}, nil, "", nil)
		if want := []string{"0-1-4", "0-1-6", "0-1-8", "0-1-9", "0-1-12"}; !equalSlices(r.gtids, want) {
			t.Errorf("%s lib: kept %v, want %v", dir, r.gtids, want)
		}

		if r.res.Transactions != 5 || r.res.LastGTID != "0-1-12" {
			t.Errorf("%s lib: result %+v", dir, r.res)
		}

		// The opening events wait until the transaction has something for
		// lib, then go out together.
		if got, want := types(txnEvents(r, checksum, "0-1-9")), []byte{evMariaGTID, evAnnotate, evAnnotate, evAnnotate, evTableMap, 23, evXID}; !bytes.Equal(got, want) {
			t.Errorf("%s lib: transaction 0-1-9 is %v, want %v", dir, got, want)
		}

		r = replayFixtures(t, dir, Target{}, []string{"nothere"}, nil, "", nil)
		if len(r.events) != 0 || r.res.Transactions != 0 {
			t.Errorf("%s: a database with no events got %d events, %+v", dir, len(r.events), r.res)
		}
	}
}

// gtidStarts is where each GTID event of the fixtures starts, and its
// server time.
func gtidStarts(t *testing.T, dir string) map[string]struct {
	file string
	pos  uint32
	when uint32
} {
	out := map[string]struct {
		file string
		pos  uint32
		when uint32
	}{}

	for _, name := range fixtureFiles {
		fx := loadFixture(t, dir, name)
		for _, e := range fx.events {
			if e.typ == evMariaGTID {
				g, _ := mariaGTID(e, fx.checksum)
				out[g.String()] = struct {
					file string
					pos  uint32
					when uint32
				}{name, e.start(), e.when}
			}
		}
	}

	return out
}

func TestFilterStopsAtATime(t *testing.T) {
	base := at(9, 0)

	for _, dir := range fixtureDirs {
		starts := gtidStarts(t, dir)

		// With arrival times, transaction 0-1-n arrived at base + n seconds.
		arrival := func(file string, pos uint32) (int64, bool) {
			for g, s := range starts {
				if s.file == file && s.pos == pos {
					n, _ := ParseGTID(g)
					return base.Add(time.Duration(n.Seq) * time.Second).UnixMilli(), true
				}
			}

			return 0, false
		}

		for _, c := range []struct {
			target time.Time
			kept   []string
		}{
			{base.Add(8*time.Second + 500*time.Millisecond), seqs(3, 8)},
			{base.Add(8 * time.Second), seqs(3, 8)}, // at the commit: kept
			{base.Add(8*time.Second - time.Millisecond), seqs(3, 7)},
			{base.Add(12 * time.Second), seqs(3, 12)}, // across the rotate
			{base.Add(2 * time.Second), nil},
		} {
			r := replayFixtures(t, dir, Target{Time: c.target}, nil, nil, "", arrival)
			if !equalSlices(r.gtids, c.kept) || !r.stopped {
				t.Errorf("%s to %s: kept %v, stopped %v; want %v", dir, c.target.Sub(base), r.gtids, r.stopped, c.kept)
				continue
			}

			if len(c.kept) > 0 {
				last, _ := ParseGTID(c.kept[len(c.kept)-1])
				if want := base.Add(time.Duration(last.Seq) * time.Second); !r.res.Reached.Equal(want) || r.res.LastGTID != last.String() {
					t.Errorf("%s to %s: reached %s at %s", dir, c.target.Sub(base), r.res.LastGTID, r.res.Reached.Sub(base))
				}
			}
		}

		// Without them, a transaction may have committed any time in its
		// event's second: it counts from the second's last nanosecond.
		first := time.Unix(int64(starts["0-1-3"].when), 0)
		inFirstSecond := []string{}

		for _, g := range seqs(3, 13) {
			if starts[g].when == starts["0-1-3"].when {
				inFirstSecond = append(inFirstSecond, g)
			}
		}

		r := replayFixtures(t, dir, Target{Time: first.Add(time.Second - time.Nanosecond)}, nil, nil, "", nil)
		if !equalSlices(r.gtids, inFirstSecond) || !r.res.Reached.Equal(first) {
			t.Errorf("%s to the end of the first second: kept %v reached %s; want %v", dir, r.gtids, r.res.Reached, inFirstSecond)
		}

		r = replayFixtures(t, dir, Target{Time: first.Add(time.Second - 2*time.Nanosecond)}, nil, nil, "", nil)
		if len(r.gtids) != 0 || !r.stopped || r.res.Transactions != 0 {
			t.Errorf("%s to just before the end of the first second: kept %v", dir, r.gtids)
		}
	}
}

func TestFilterStopsAtAPosition(t *testing.T) {
	for _, dir := range fixtureDirs {
		starts := gtidStarts(t, dir)

		for _, c := range []struct {
			file string
			pos  uint32
			kept []string
		}{
			{starts["0-1-9"].file, starts["0-1-9"].pos, seqs(3, 8)},
			// A transaction starting before the position is replayed whole.
			{starts["0-1-9"].file, starts["0-1-9"].pos + 1, seqs(3, 9)},
			{starts["0-1-13"].file, starts["0-1-13"].pos, seqs(3, 12)},
			{"mysql-bin.000003", 4, seqs(3, 11)},
		} {
			r := replayFixtures(t, dir, Target{File: c.file, Pos: c.pos}, nil, nil, "", nil)
			if !equalSlices(r.gtids, c.kept) || !r.stopped {
				t.Errorf("%s to %s:%d: kept %v, stopped %v; want %v", dir, c.file, c.pos, r.gtids, r.stopped, c.kept)
			}
		}

		r := replayFixtures(t, dir, Target{File: "mysql-bin.000004", Pos: 4}, nil, nil, "", nil)
		if !equalSlices(r.gtids, seqs(3, 13)) || r.stopped {
			t.Errorf("%s to a later file: kept %v, stopped %v", dir, r.gtids, r.stopped)
		}
	}
}

func TestFilterStopsAtAGTID(t *testing.T) {
	for _, dir := range fixtureDirs {
		for _, c := range []struct {
			gtid    GTID
			dbs     []string
			kept    []string
			stopped bool
			last    byte
		}{
			{GTID{0, 1, 9}, nil, seqs(3, 9), true, evXID},
			{GTID{0, 1, 11}, nil, seqs(3, 11), true, evQuery}, // a DDL stands alone
			{GTID{0, 1, 9}, []string{"lib"}, []string{"0-1-4", "0-1-6", "0-1-8", "0-1-9"}, true, evXID},
			// Past the target's sequence in its domain, even if the target
			// itself was never seen.
			{GTID{0, 2, 9}, nil, seqs(3, 9), true, evXID},
			{GTID{1, 1, 5}, nil, seqs(3, 13), false, evXID},
		} {
			g := c.gtid
			r := replayFixtures(t, dir, Target{GTID: &g}, c.dbs, nil, "", nil)

			if !equalSlices(r.gtids, c.kept) || r.stopped != c.stopped || r.events[len(r.events)-1].typ != c.last {
				t.Errorf("%s to %s %v: kept %v, stopped %v, last event %d", dir, g, c.dbs, r.gtids, r.stopped, r.events[len(r.events)-1].typ)
			}
		}
	}
}

func TestFilterSkipsAndLeavesOutWhatTheFullHolds(t *testing.T) {
	for _, dir := range fixtureDirs {
		r := replayFixtures(t, dir, Target{Skip: []GTID{{0, 1, 7}, {0, 1, 10}, {0, 1, 99}}}, nil, nil, "", nil)
		if !equalSlices(r.gtids, seqs(3, 13, 7, 10)) || r.res.Skipped != 2 || r.res.Transactions != 9 {
			t.Errorf("%s skip: kept %v, %+v", dir, r.gtids, r.res)
		}

		r = replayFixtures(t, dir, Target{}, nil, nil, "0-1-8", nil)
		if !equalSlices(r.gtids, seqs(9, 13)) || r.res.Skipped != 0 || r.res.Transactions != 5 {
			t.Errorf("%s after a full at 0-1-8: kept %v, %+v", dir, r.gtids, r.res)
		}

		r = replayFixtures(t, dir, Target{}, nil, nil, "0-1-8,1-1-100", nil)
		if !equalSlices(r.gtids, seqs(9, 13)) {
			t.Errorf("%s after a full with two domains: kept %v", dir, r.gtids)
		}

		r = replayFixtures(t, dir, Target{}, nil, nil, "1-1-100", nil)
		if !equalSlices(r.gtids, seqs(3, 13)) {
			t.Errorf("%s after a full of another domain: kept %v", dir, r.gtids)
		}
	}
}

func TestFilterRenamesQualifiedNames(t *testing.T) {
	for _, dir := range fixtureDirs {
		r := replayFixtures(t, dir, Target{}, []string{"shop"}, map[string]string{"shop": "shop_r"}, "", nil)

		want := []string{"CREATE DATABASE `shop_r`", "CREATE TABLE `shop_r`.orders (id INT PRIMARY KEY, qty INT) ENGINE=InnoDB", "CREATE TABLE items (id INT PRIMARY KEY) ENGINE=InnoDB", "ALTER TABLE `shop_r`.orders ADD COLUMN note VARCHAR(10)"}
		if !equalSlices(r.queries, want) || !equalSlices(r.gtids, []string{"0-1-3", "0-1-5", "0-1-7", "0-1-9", "0-1-10", "0-1-11", "0-1-13"}) {
			t.Errorf("%s: queries %q, kept %v", dir, r.queries, r.gtids)
		}
	}
}

// TestFilterQueryTransactions covers transactions a server opens with a
// BEGIN query and ends with COMMIT or ROLLBACK, and artificial events.
func TestFilterQueryTransactions(t *testing.T) {
	fx := loadFixture(t, "crc32", fixtureFiles[0])

	var gtid, tm, rows event

	for _, e := range fx.events {
		if e.typ == evMariaGTID {
			if g, _ := mariaGTID(e, true); g.Seq == 7 {
				gtid = e
			}
		}

		if gtid.raw != nil && tm.raw == nil && e.typ == evTableMap {
			tm = e
		}

		if tm.raw != nil && rows.raw == nil && isRows(e.typ) {
			rows = e
		}
	}

	artificial := event{raw: bytes.Clone(rows.raw)}
	artificial.raw[17] |= flagArtificial
	artificial, _ = parseHeader(artificial.raw)

	run := func(dbs []string, end string) ([]byte, *Result) {
		var buf bytes.Buffer

		f := &filter{dbs: map[string]bool{}, skip: map[GTID]bool{}, tables: map[uint64]bool{}, out: bufio.NewWriter(&buf), res: &Result{}, checksum: true, file: fx.name}
		for _, d := range dbs {
			f.dbs[d] = true
		}

		for _, e := range []event{gtid, queryEvent("", "BEGIN", true, 1, 2000), tm, artificial, rows, queryEvent("", end, true, 1, 2100)} {
			if err := f.event(e); err != nil {
				t.Fatal(err)
			}
		}

		_ = f.out.Flush()

		var ts []byte

		er := newEventReader(&buf)
		for e, err := er.next(); err == nil; e, err = er.next() {
			ts = append(ts, e.typ)
			if e.artificial() {
				t.Error("an artificial event was replayed")
			}
		}

		return ts, f.res
	}

	for _, end := range []string{"COMMIT", "ROLLBACK"} {
		ts, res := run(nil, end)
		if !bytes.Equal(ts, []byte{evMariaGTID, evQuery, evTableMap, rows.typ, evQuery}) || res.Transactions != 1 || res.LastGTID != "0-1-7" {
			t.Errorf("%s: wrote %v, %+v", end, ts, res)
		}

		ts, res = run([]string{"lib"}, end)
		if len(ts) != 0 || res.Transactions != 0 {
			t.Errorf("%s for another database: wrote %v, %+v", end, ts, res)
		}
	}
}

func TestCleanSQL(t *testing.T) {
	long := "BINLOG '" + string(bytes.Repeat([]byte("A"), 3<<20)) + " SET @@session.gtid_seq_no=5'\n"
	in := "# at 385\n" +
		"/*M!100001 SET @@session.gtid_domain_id=0*//*!*/;\n" +
		"/*M!100001 SET @@session.server_id=1*//*!*/;\n" +
		"/*M!100001 SET @@session.gtid_seq_no=12*//*!*/;\n" +
		"SET @@session.server_id=1/*!*/;\n" +
		"START TRANSACTION\n" +
		"/*!*/;\n" +
		"SET @@session.sql_mode=1411383296/*!*/;\n" +
		"INSERT INTO t VALUES ('SET @@session.gtid_seq_no=3')\n" +
		long +
		"/* a comment longer than a setting line, naming SET @@session.gtid_seq_no= but far too long to be one: " + string(bytes.Repeat([]byte("x"), 40)) + " */\n" +
		"COMMIT/*!*/;\n" +
		"/*M!100001 SET @@session.gtid_seq_no=13*//*!*/;"

	want := "# at 385\n" +
		"START TRANSACTION\n" +
		"/*!*/;\n" +
		"SET @@session.sql_mode=1411383296/*!*/;\n" +
		"INSERT INTO t VALUES ('SET @@session.gtid_seq_no=3')\n" +
		long +
		"/* a comment longer than a setting line, naming SET @@session.gtid_seq_no= but far too long to be one: " + string(bytes.Repeat([]byte("x"), 40)) + " */\n" +
		"COMMIT/*!*/;\n"

	var out bytes.Buffer
	if err := CleanSQL(bytes.NewBufferString(in), &out); err != nil {
		t.Fatal(err)
	}

	if out.String() != want {
		t.Errorf("CleanSQL kept %d bytes, want %d:\n%.400s", out.Len(), len(want), out.String())
	}
}

// TestFilterKeepsStatementsByTheirOwnDatabase: a DDL with no default
// database is kept when it names the database, never when it names another
// whose name merely contains it.
func TestFilterKeepsStatementsByTheirOwnDatabase(t *testing.T) {
	fx := loadFixture(t, "crc32", fixtureFiles[0])

	var ddl event // the standalone GTID of a DDL

	for _, e := range fx.events {
		if _, standalone := mariaGTID(e, true); e.typ == evMariaGTID && standalone && ddl.raw == nil {
			ddl = e
		}
	}

	for q, kept := range map[string]bool{
		"TRUNCATE TABLE shop.t":           true,
		"DROP DATABASE IF EXISTS `shop`":  true,
		"TRUNCATE TABLE myshop.t":         false,
		"DROP TABLE `myshop`.t, x_shop.u": false,
		"DROP DATABASE shopping":          false,
		"CREATE DATABASE lib":             false,
	} {
		var buf bytes.Buffer

		f := &filter{dbs: map[string]bool{"shop": true}, skip: map[GTID]bool{}, tables: map[uint64]bool{}, out: bufio.NewWriter(&buf), res: &Result{}, checksum: true, file: fx.name}

		for _, e := range []event{ddl, queryEvent("", q, true, 1, 3000)} {
			if err := f.event(e); err != nil {
				t.Fatal(err)
			}
		}

		_ = f.out.Flush()

		if got := f.res.Transactions == 1 && f.res.Events == 2; got != kept || (!kept && buf.Len() != 0) {
			t.Errorf("%q for shop: %d transactions, %d events written; kept should be %v", q, f.res.Transactions, f.res.Events, kept)
		}
	}
}
