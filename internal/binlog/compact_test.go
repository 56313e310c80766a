package binlog

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/repo"
)

var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// seg is a stored segment of file from start to end whose events span first
// to last; merged > 0 makes it a piece.
func cseg(id, file string, start, end uint32, first, last time.Time, merged int) *Segment {
	s := &Segment{Segment: &repo.Segment{ID: id, Labels: map[string]string{}}, Epoch: "e1", File: file, Start: start, End: end,
		First: first, Last: last, Events: 1, Merged: 1, BinlogBytes: int64(end - start)}
	if merged > 0 {
		s.Merged, s.Labels["merged"] = merged, fmt.Sprint(merged)
	}

	return s
}

func marker(id, file string, at uint32, next string) *Segment {
	return &Segment{Segment: &repo.Segment{ID: id, Labels: map[string]string{}}, Epoch: "e1", File: file, Start: at, End: at, Next: next, Merged: 1}
}

// every returns segments of file, one per step from from to to, each
// 100 bytes on from pos.
func every(prefix, file string, pos uint32, from, to time.Time, step time.Duration) []*Segment {
	var out []*Segment

	for t, i := from, 0; t.Before(to); t, i = t.Add(step), i+1 {
		out = append(out, cseg(fmt.Sprintf("%s%03d", prefix, i), file, pos, pos+100, t, t.Add(step/2), 0))
		pos += 100
	}

	return out
}

func describePieces(pieces [][]*Segment) string {
	var b []string

	for _, p := range pieces {
		b = append(b, fmt.Sprintf("%s..%s(%d)", p[0].ID, p[len(p)-1].ID, len(p)))
	}

	return strings.Join(b, " ")
}

func TestPlanPiecesTiers(t *testing.T) {
	// Two hours of segments every 10 minutes in one file, then its end.
	segs := every("a", "bin.000001", 4, t0, t0.Add(2*time.Hour), 10*time.Minute)
	segs = append(segs, marker("m1", "bin.000001", segs[len(segs)-1].End, "bin.000002"))
	segs = append(segs, every("b", "bin.000002", 4, t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10*time.Minute)...)

	// Nothing is old enough: nothing merges.
	if p := planPieces(segs, t0.Add(5*time.Minute), 10*time.Minute); len(p) != 0 {
		t.Fatalf("all fresh: %s", describePieces(p))
	}

	// At 10:35 with 10 minutes: the 9:00 hour is over and merges whole;
	// the open 10:00 hour merges what is older than 10:25 (10:00, 10:10:
	// 10:20 ends at 10:25, not before it).
	p := planPieces(segs, t0.Add(95*time.Minute), 10*time.Minute)
	if got := describePieces(p); got != "a000..a005(6) a006..a007(2)" {
		t.Fatalf("at 10:35: %s", got)
	}

	// Merge those, as Compact would, then plan again: nothing more.
	merged := applyPieces(segs, p)
	if p2 := planPieces(merged, t0.Add(95*time.Minute), 10*time.Minute); len(p2) != 0 {
		t.Fatalf("second run at 10:35 merges again: %s", describePieces(p2))
	}

	// Ten minutes later the open hour's new segments merge on their own,
	// leaving the earlier piece as it is.
	p = planPieces(merged, t0.Add(105*time.Minute), 10*time.Minute)
	if got := describePieces(p); got != "a008..a008(1)" && len(p) != 0 {
		t.Fatalf("at 10:45: %s", got)
	}

	// At 11:30 the 10:00 hour is over: its pieces, its last segments and
	// the file's end marker become one piece carrying the next file.
	p = planPieces(merged, t0.Add(150*time.Minute), 10*time.Minute)
	if got := describePieces(p); got != "piece1..m1(6) b000..b001(2)" {
		t.Fatalf("at 11:30: %s", got)
	}

	merged = applyPieces(merged, p)
	for _, s := range merged {
		if s.File == "bin.000001" && s.End == 1204 && s.Next != "bin.000002" {
			t.Fatalf("the file's last piece does not say what comes next: %+v", s)
		}
	}

	// Three days later: every hour of the day merges into one piece per
	// file (the day ended more than a day ago).
	p = planPieces(merged, t0.Add(72*time.Hour), 10*time.Minute)
	if got := describePieces(p); got != "piece0..piece2(2) piece3..b005(5)" {
		t.Fatalf("days later: %s", got)
	}

	merged = applyPieces(merged, p)
	if len(merged) != 2 || planPieces(merged, t0.Add(72*time.Hour), 10*time.Minute) != nil {
		t.Fatalf("after the day tier: %d segments, want one per file", len(merged))
	}
}

// TestPlanPiecesClosedFileTier: a file the server rotated away from that
// spans midnight becomes one piece once both its days are merged; a file
// still being written keeps a piece per day.
func TestPlanPiecesClosedFileTier(t *testing.T) {
	night := time.Date(2026, 3, 10, 22, 0, 0, 0, time.UTC)
	segs := every("a", "bin.000001", 4, night, night.Add(4*time.Hour), 30*time.Minute)
	segs = append(segs, marker("m1", "bin.000001", segs[len(segs)-1].End, "bin.000002"))
	segs = append(segs, every("b", "bin.000002", 4, night.Add(4*time.Hour), night.Add(28*time.Hour), time.Hour)...)

	// A day after the file ended its second day is still in hours: nothing
	// spans the file yet.
	soon := night.Add(30 * time.Hour)
	merged := applyPieces(segs, planPieces(segs, soon, 10*time.Minute))

	for _, s := range merged {
		if s.File == "bin.000001" && s.Start == 4 && s.Next != "" {
			t.Fatalf("a day after it ended, the file is one piece already: %+v", s)
		}
	}

	// Days later: the closed file is one piece from its start to the
	// marker, carrying the next file; the open one keeps one per day.
	later := night.Add(96 * time.Hour)
	merged = applyPieces(merged, planPieces(merged, later, 10*time.Minute))
	merged = applyPieces(merged, planPieces(merged, later, 10*time.Minute))

	var first, second []*Segment

	for _, s := range merged {
		if s.File == "bin.000001" {
			first = append(first, s)
		} else {
			second = append(second, s)
		}
	}

	if len(first) != 1 || first[0].Start != 4 || first[0].End != segs[8].End || first[0].Next != "bin.000002" {
		t.Fatalf("the closed file: %d pieces, want one spanning it: %s", len(first), describePieces([][]*Segment{first}))
	}

	if len(second) != 2 {
		t.Fatalf("the open file: %d pieces, want one per day", len(second))
	}

	if p := planPieces(merged, later, 10*time.Minute); len(p) != 0 {
		t.Fatalf("planned again: %s", describePieces(p))
	}
}

// applyPieces replaces each piece's parts with one segment spanning them.
func applyPieces(segs []*Segment, pieces [][]*Segment) []*Segment {
	gone := map[string]bool{}
	out := []*Segment{}

	for i, p := range pieces {
		last := p[len(p)-1]
		for _, s := range p {
			gone[s.ID] = true
			if s.Events > 0 {
				last = s
			}
		}

		n := cseg(fmt.Sprintf("piece%d", i+pieceSeq), p[0].File, p[0].Start, p[len(p)-1].End, p[0].First, last.Last, len(p))
		n.Next = p[len(p)-1].Next
		out = append(out, n)
	}

	pieceSeq += len(pieces)

	for _, s := range segs {
		if !gone[s.ID] {
			out = append(out, s)
		}
	}

	out, _ = hideContained(out)

	return out
}

var pieceSeq int

func TestPlanPiecesNeverCrossesFilesChainsOrHoles(t *testing.T) {
	old := t0.Add(-72 * time.Hour)
	a := cseg("a", "bin.000001", 4, 100, old, old.Add(time.Second), 0)
	b := cseg("b", "bin.000001", 100, 200, old.Add(2*time.Second), old.Add(3*time.Second), 0)
	// A hole: 200 to 300 is missing.
	c := cseg("c", "bin.000001", 300, 400, old.Add(4*time.Second), old.Add(5*time.Second), 0)
	d := cseg("d", "bin.000001", 400, 500, old.Add(6*time.Second), old.Add(7*time.Second), 0)
	// Another file, and another chain with the same file name.
	e := cseg("e", "bin.000002", 4, 100, old.Add(8*time.Second), old.Add(9*time.Second), 0)
	f := cseg("f", "bin.000002", 100, 200, old.Add(10*time.Second), old.Add(11*time.Second), 0)
	g := cseg("g", "bin.000002", 200, 300, old.Add(12*time.Second), old.Add(13*time.Second), 0)
	g.Epoch = "e2"
	// A chain's start marker never merges.
	start := &Segment{Segment: &repo.Segment{ID: "s", Labels: map[string]string{}}, Epoch: "e2", File: "bin.000002", Start: 200, End: 200, Merged: 1}

	p := planPieces([]*Segment{g, f, e, d, c, b, a, start}, t0, 10*time.Minute)
	if got := describePieces(p); got != "a..b(2) c..d(2) e..f(2)" {
		t.Fatalf("pieces: %s", got)
	}
}

func TestHideContained(t *testing.T) {
	old := t0
	a := cseg("a", "bin.000001", 4, 100, old, old, 0)
	b := cseg("b", "bin.000001", 100, 200, old, old, 0)
	m := marker("m", "bin.000001", 200, "bin.000002")
	piece := cseg("p", "bin.000001", 4, 200, old, old, 2)
	piece.Next = "bin.000002"
	// The same piece written twice (two compactions at once): one stays,
	// the one merging more, else the lowest ID.
	twin := cseg("o", "bin.000001", 4, 200, old, old, 2)
	twin.Next = "bin.000002"
	later := cseg("c", "bin.000002", 4, 100, old, old, 0)

	vis, hid := hideContained([]*Segment{later, m, b, a, twin, piece})
	if ids(vis) != "o c" || ids(hid) != "p a b m" {
		t.Fatalf("visible %s, hidden %s", ids(vis), ids(hid))
	}

	// A piece ending at the file's end without saying what comes next
	// (a compaction before the marker arrived) leaves the marker visible.
	short := cseg("q", "bin.000001", 4, 200, old, old, 2)

	vis, hid = hideContained([]*Segment{m, b, a, short})
	if ids(vis) != "q m" || ids(hid) != "a b" {
		t.Fatalf("visible %s, hidden %s", ids(vis), ids(hid))
	}

	// A marker inside a piece's range but not at its end stays; so does a
	// chain's start marker.
	inside := marker("i", "bin.000001", 100, "bin.000009")
	begin := &Segment{Segment: &repo.Segment{ID: "s", Labels: map[string]string{}}, Epoch: "e1", File: "bin.000001", Start: 4, End: 4, Merged: 1}

	vis, hid = hideContained([]*Segment{inside, begin, piece})
	if ids(vis) != "p s i" || len(hid) != 0 {
		t.Fatalf("visible %s, hidden %s", ids(vis), ids(hid))
	}

	// Equal ranges of originals (archived twice): one stays.
	dup := cseg("z", "bin.000001", 4, 100, old, old, 0)

	vis, hid = hideContained([]*Segment{dup, a})
	if ids(vis) != "a" || ids(hid) != "z" {
		t.Fatalf("visible %s, hidden %s", ids(vis), ids(hid))
	}

	// A partial overlap hides nothing.
	over := cseg("v", "bin.000001", 50, 150, old, old, 0)

	vis, hid = hideContained([]*Segment{over, a, b})
	if ids(vis) != "a v b" || len(hid) != 0 {
		t.Fatalf("visible %s, hidden %s", ids(vis), ids(hid))
	}
}

func ids(segs []*Segment) string {
	var out []string
	for _, s := range segs {
		out = append(out, s.ID)
	}

	return strings.Join(out, " ")
}

func TestPieceLabelsMixArrivals(t *testing.T) {
	inc := cseg("a", "bin.000001", 4, 100, t0, t0.Add(time.Second), 0)
	inc.By, inc.GTIDFirst, inc.GTIDLast = "incremental", "0-1-1", "0-1-3"
	inc.Labels["t_first"], inc.Labels["t_last"] = "100", "101"

	st := cseg("b", "bin.000001", 100, 200, t0.Add(2*time.Second), t0.Add(3*time.Second), 0)
	st.By, st.GTIDFirst, st.GTIDLast = "stream", "0-1-4", "0-1-9"
	st.Labels["t_first"], st.Labels["t_last"], st.Labels["a_first"], st.Labels["a_last"] = "102", "103", "102500", "103700"

	m := marker("m", "bin.000001", 200, "bin.000002")

	l := pieceLabels([]*Segment{inc, st, m})
	want := map[string]string{
		"start": "4", "end": "200", "next": "bin.000002", "t_first": "100", "t_last": "103", "a_last": "103700",
		"gtid_first": "0-1-1", "gtid_last": "0-1-9", "binlog_bytes": "196", "events": "2", "merged": "2",
		"by": "incremental+stream", "arrivals": "1",
	}

	for k, v := range want {
		if l[k] != v {
			t.Errorf("label %s = %q, want %q", k, l[k], v)
		}
	}

	// The first part has no arrival time: the piece's first time is its
	// event time, not an archiving time.
	if _, ok := l["a_first"]; ok {
		t.Errorf("a_first set from a part without arrivals: %v", l)
	}
}
