package binlog

import (
	"testing"
	"time"

	"lifeboat/internal/repo"
)

func TestParseGTID(t *testing.T) {
	// The second case carries surrounding whitespace on purpose: ParseGTID
	// trims it.
	ok := []struct {
		s    string
		want GTID
	}{
		{"0-1-42", GTID{0, 1, 42}},
		{" 3-777-18446744073709551615\n", GTID{3, 777, 18446744073709551615}},
		{"4294967295-4294967295-0", GTID{4294967295, 4294967295, 0}},
	}
	for _, c := range ok {
		g, err := ParseGTID(c.s)
		if err != nil || g != c.want {
			t.Errorf("ParseGTID(%q) = %v, %v; want %v", c.s, g, err, c.want)
		}
	}

	for _, s := range []string{"", "0-1", "0-1-2-3", "a-1-2", "0-1-x", "-1-1-1", "4294967296-1-1", "0-4294967296-1", "0-1-18446744073709551616", "0 1 2"} {
		g, err := ParseGTID(s)
		want := `GTID "` + s + `": expected domain-server-sequence, e.g. 0-1-42`

		if err == nil || err.Error() != want {
			t.Errorf("ParseGTID(%q) = %v, %v; want error %q", s, g, err, want)
		}
	}

	if s := (GTID{1, 2, 3}).String(); s != "1-2-3" {
		t.Errorf("String = %q", s)
	}

	if !(GTID{}).IsZero() || (GTID{Seq: 1}).IsZero() {
		t.Error("IsZero")
	}
}

func TestParseGTIDList(t *testing.T) {
	m, err := ParseGTIDList("0-1-5,1-2-7, 2-3-9")
	if err != nil || len(m) != 3 || m[0] != (GTID{0, 1, 5}) || m[1] != (GTID{1, 2, 7}) || m[2] != (GTID{2, 3, 9}) {
		t.Errorf("three domains: %v %v", m, err)
	}

	// One GTID per domain: a later one for the same domain wins; blanks
	// between commas are ignored.
	m, err = ParseGTIDList("0-1-5, ,0-2-9,")
	if err != nil || len(m) != 1 || m[0] != (GTID{0, 2, 9}) {
		t.Errorf("repeated domain: %v %v", m, err)
	}

	m, err = ParseGTIDList("")
	if err != nil || m == nil || len(m) != 0 {
		t.Errorf("empty: %v %v", m, err)
	}

	if _, err := ParseGTIDList("0-1-5,0-1"); err == nil || err.Error() != `GTID "0-1": expected domain-server-sequence, e.g. 0-1-42` {
		t.Errorf("bad member: %v", err)
	}
}

func TestFileNamesAndCoordOrder(t *testing.T) {
	for name, want := range map[string]struct {
		seq  int
		next string
	}{
		"mysql-bin.000001":  {1, "mysql-bin.000002"},
		"mysql-bin.000009":  {9, "mysql-bin.000010"},
		"mysql-bin.999999":  {999999, "mysql-bin.1000000"},
		"host.name-bin.042": {42, "host.name-bin.043"},
		"log.9":             {9, "log.10"},
	} {
		if fileSeq(name) != want.seq || successor(name) != want.next {
			t.Errorf("%s: fileSeq %d successor %s, want %v", name, fileSeq(name), successor(name), want)
		}
	}

	c := func(f string, p uint32) Coord { return Coord{File: f, Pos: p} }
	before := [][2]Coord{
		{c("mysql-bin.000001", 4), c("mysql-bin.000001", 5)},
		{c("mysql-bin.000001", 9000), c("mysql-bin.000002", 4)},
		// By number, not by name: a seventh digit sorts before in text.
		{c("mysql-bin.999999", 4), c("mysql-bin.1000000", 4)},
	}

	for _, p := range before {
		if !p[0].Before(p[1]) || p[1].Before(p[0]) {
			t.Errorf("%v should be before %v", p[0], p[1])
		}
	}

	if x := c("mysql-bin.000001", 4); x.Before(x) {
		t.Error("a coordinate is before itself")
	}

	if s := (Coord{Epoch: "e", File: "mysql-bin.000003", Pos: 120}).String(); s != "mysql-bin.000003:120" {
		t.Errorf("String = %q", s)
	}
}

// day is the hand-built archive's date; at(h, m) an instant on it.
func at(h, m int) time.Time { return time.Date(2026, 1, 1, h, m, 0, 0, time.UTC) }

// testArchive is two chains: the first (e1) runs across mysql-bin.000001 and
// .000002, then a gap while the server was reset, then a second (e2) whose
// numbering starts again at mysql-bin.000001.
type testArchive struct {
	*Archive
	e1, e2                  string
	s1, s2, s3, s3short, t1 *Segment
	f1, f2, f3              Full
}

func seg(epoch, file string, start, end uint32, next string, first, last time.Time, g1, g2 string) *Segment {
	return &Segment{
		Segment: &repo.Segment{ID: epoch[:8] + file[len(file)-2:] + "-" + time.Unix(int64(start), 0).UTC().Format("150405")},
		Epoch:   epoch, File: file, Start: start, End: end, Next: next, First: first, Last: last,
		GTIDFirst: g1, GTIDLast: g2, BinlogBytes: int64(end - start), Events: 1,
	}
}

func newTestArchive() testArchive {
	e1, e2 := newEpoch(at(0, 0)), newEpoch(at(1, 0))
	ta := testArchive{e1: e1, e2: e2}
	ta.s1 = seg(e1, "mysql-bin.000001", 4, 1000, "", at(0, 1), at(0, 5), "0-1-1", "0-1-10")
	ta.s2 = seg(e1, "mysql-bin.000001", 1000, 2000, "mysql-bin.000002", at(0, 6), at(0, 10), "0-1-11", "0-1-20")
	ta.s3 = seg(e1, "mysql-bin.000002", 4, 500, "", at(0, 11), at(0, 15), "0-1-21", "0-1-25")
	ta.s3short = seg(e1, "mysql-bin.000002", 4, 300, "", at(0, 11), at(0, 13), "0-1-21", "0-1-23")
	ta.t1 = seg(e2, "mysql-bin.000001", 4, 800, "", at(1, 1), at(1, 10), "0-1-40", "0-1-50")
	ta.Archive = &Archive{
		Source:   "db",
		Segments: []*Segment{ta.s1, ta.s3short, ta.s2, ta.s3, ta.t1},
		Gaps:     []*Gap{{ID: "g", Epoch: e2, PrevEpoch: e1, From: at(0, 15), At: at(1, 0), Reason: "the server purged mysql-bin.000003 before it was archived"}},
		Marks:    []Mark{{Coord: Coord{Epoch: e2, File: "mysql-bin.000001", Pos: 800}, At: at(1, 20)}},
	}
	ta.f1 = Full{Snap: &repo.Snapshot{ID: "f1aaaaaaaaaaaaaaaa"}, Coord: Coord{File: "mysql-bin.000001", Pos: 4}, At: at(0, 0)}
	ta.f2 = Full{Snap: &repo.Snapshot{ID: "f2bbbbbbbbbbbbbbbb"}, Coord: Coord{File: "mysql-bin.000001", Pos: 1000}, At: at(0, 7), GTID: "0-1-10"}
	ta.f3 = Full{Snap: &repo.Snapshot{ID: "f3cccccccccccccccc"}, Coord: Coord{File: "mysql-bin.000001", Pos: 4}, At: at(1, 0), GTID: "0-1-39"}

	return ta
}

func TestEpochs(t *testing.T) {
	ta := newTestArchive()

	if ta.e1 != "20260101T000000.000000000Z" {
		t.Fatalf("epoch name %q", ta.e1)
	}

	for when, want := range map[time.Time]string{
		at(0, 0).Add(-time.Hour): ta.e1, // before any chain: the oldest
		at(0, 0):                 ta.e1,
		at(0, 59):                ta.e1,
		at(1, 0):                 ta.e2,
		at(5, 0):                 ta.e2,
	} {
		if got := ta.epochAt(when); got != want {
			t.Errorf("epochAt(%s) = %q, want %q", when, got, want)
		}

		if got := ta.EpochFor(when); got != want {
			t.Errorf("EpochFor(%s) = %q, want %q", when, got, want)
		}
	}

	empty := &Archive{Source: "db"}
	if got := empty.epochAt(at(3, 0)); got != "" {
		t.Errorf("empty archive epochAt = %q", got)
	}

	if got := empty.EpochFor(at(3, 4).Add(5 * time.Nanosecond)); got != "20260101T030400.000000005Z" {
		t.Errorf("empty archive EpochFor = %q: a new chain named for the instant", got)
	}
}

func TestEnd(t *testing.T) {
	ta := newTestArchive()

	c, last, ok := ta.End()
	if !ok || last != ta.t1 || c != (Coord{Epoch: ta.e2, File: "mysql-bin.000001", Pos: 800}) {
		t.Errorf("End = %v %v %v: the newest chain's furthest segment", c, last, ok)
	}

	// The first chain alone ends where its furthest segment ends.
	first := &Archive{Segments: []*Segment{ta.s1, ta.s3short, ta.s2, ta.s3}}
	if c, last, _ := first.End(); last != ta.s3 || c != (Coord{Epoch: ta.e1, File: "mysql-bin.000002", Pos: 500}) {
		t.Errorf("End of the first chain = %v (%v)", c, last.ID)
	}

	// A segment that closes its file: resume at the next file's start.
	closed := &Archive{Segments: []*Segment{ta.s1, ta.s2}}
	if c, last, _ := closed.End(); last != ta.s2 || c != (Coord{Epoch: ta.e1, File: "mysql-bin.000002", Pos: 4}) {
		t.Errorf("End after a rotate = %v (%v)", c, last.ID)
	}

	// Of two segments ending at the same place, the one that knows the
	// next file wins, whichever comes first.
	open := seg(ta.e1, "mysql-bin.000001", 1000, 2000, "", at(0, 6), at(0, 10), "", "")
	for _, segs := range [][]*Segment{{open, ta.s2}, {ta.s2, open}} {
		if c, _, _ := (&Archive{Segments: segs}).End(); c != (Coord{Epoch: ta.e1, File: "mysql-bin.000002", Pos: 4}) {
			t.Errorf("End with an open and a closed twin = %v", c)
		}
	}

	if _, _, ok := (&Archive{}).End(); ok {
		t.Error("an empty archive has an end")
	}
}

func TestContainingAndCloses(t *testing.T) {
	ta := newTestArchive()
	c := func(e, f string, p uint32) Coord { return Coord{Epoch: e, File: f, Pos: p} }

	for coord, want := range map[Coord]*Segment{
		c(ta.e1, "mysql-bin.000001", 4):    ta.s1,
		c(ta.e1, "mysql-bin.000001", 999):  ta.s1,
		c(ta.e1, "mysql-bin.000001", 1000): ta.s2,
		c(ta.e1, "mysql-bin.000001", 2000): nil,   // end is exclusive
		c(ta.e1, "mysql-bin.000002", 100):  ta.s3, // the longer of two
		c(ta.e2, "mysql-bin.000001", 900):  nil,
		c(ta.e2, "mysql-bin.000001", 1000): nil, // the same file name in another chain
		c(ta.e2, "mysql-bin.000001", 4):    ta.t1,
	} {
		if got := ta.containing(coord); got != want {
			t.Errorf("containing(%v %s) = %v, want %v", coord.Epoch, coord, got, want)
		}
	}

	if got := ta.closes(c(ta.e1, "mysql-bin.000001", 2000)); got != ta.s2 {
		t.Errorf("closes at the rotate = %v", got)
	}

	for _, coord := range []Coord{c(ta.e1, "mysql-bin.000002", 500), c(ta.e1, "mysql-bin.000001", 1000), c(ta.e2, "mysql-bin.000001", 2000)} {
		if got := ta.closes(coord); got != nil {
			t.Errorf("closes(%v) = %v, want none", coord, got.ID)
		}
	}
}

func TestWalk(t *testing.T) {
	ta := newTestArchive()
	never := func(*Segment) bool { return false }

	type want struct {
		segs  []*Segment
		skips []int64
		end   Coord
	}

	check := func(name string, steps []Step, end Coord, w want) {
		t.Helper()

		if len(steps) != len(w.segs) || end != w.end {
			t.Errorf("%s: %d steps ending at %v %v, want %d ending at %v", name, len(steps), end.Epoch, end, len(w.segs), w.end)
			return
		}

		for i, s := range steps {
			if s.Seg != w.segs[i] || s.Skip != w.skips[i] {
				t.Errorf("%s: step %d is %s:%d skip %d", name, i, s.Seg.File, s.Seg.Start, s.Skip)
			}
		}
	}

	steps, end := ta.walk(Coord{Epoch: ta.e1, File: "mysql-bin.000001", Pos: 4}, never)
	check("across the rotate", steps, end, want{[]*Segment{ta.s1, ta.s2, ta.s3}, []int64{0, 0, 0}, Coord{Epoch: ta.e1, File: "mysql-bin.000002", Pos: 500}})

	steps, end = ta.walk(Coord{Epoch: ta.e1, File: "mysql-bin.000001", Pos: 600}, func(s *Segment) bool { return s == ta.s2 })
	check("from inside a segment, stopped", steps, end, want{[]*Segment{ta.s1, ta.s2}, []int64{596, 0}, Coord{Epoch: ta.e1, File: "mysql-bin.000001", Pos: 2000}})

	holed := &Archive{Segments: []*Segment{ta.s1, ta.s3, ta.t1}}
	steps, end = holed.walk(Coord{Epoch: ta.e1, File: "mysql-bin.000001", Pos: 4}, never)
	check("a hole", steps, end, want{[]*Segment{ta.s1}, []int64{0}, Coord{Epoch: ta.e1, File: "mysql-bin.000001", Pos: 1000}})

	steps, end = ta.walk(Coord{Epoch: ta.e2, File: "mysql-bin.000001", Pos: 4}, never)
	check("the second chain", steps, end, want{[]*Segment{ta.t1}, []int64{0}, Coord{Epoch: ta.e2, File: "mysql-bin.000001", Pos: 800}})

	steps, end = ta.walk(Coord{Epoch: ta.e1, File: "mysql-bin.000007", Pos: 4}, never)
	check("nothing archived", steps, end, want{nil, nil, Coord{Epoch: ta.e1, File: "mysql-bin.000007", Pos: 4}})
}
