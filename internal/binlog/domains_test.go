package binlog

import (
	"testing"
	"time"
)

// twoDomainArchive is one chain whose segments alternate between GTID
// domains 0 and 1: s1 starts in domain 0 and ends in 1, s2 the reverse.
func twoDomainArchive(perDomain bool) (*Archive, *Segment, *Segment, Full) {
	e := newEpoch(at(0, 0))
	s1 := seg(e, "mysql-bin.000001", 4, 1000, "", at(0, 1), at(0, 5), "0-1-1", "1-1-3")
	s2 := seg(e, "mysql-bin.000001", 1000, 2000, "", at(0, 6), at(0, 10), "1-1-4", "0-1-6")

	if perDomain {
		s1.Domains = parseDomains(formatDomains(map[uint32]GTIDRange{0: {GTID{0, 1, 1}, GTID{0, 1, 3}}, 1: {GTID{1, 1, 1}, GTID{1, 1, 3}}}))
		s2.Domains = parseDomains("1-1-4..1-1-6,0-1-4..0-1-6")
	}

	a := &Archive{Source: "db", Segments: []*Segment{s1, s2}}
	f := Full{Coord: Coord{File: "mysql-bin.000001", Pos: 4}, At: at(0, 0), GTID: "0-1-0"}

	return a, s1, s2, f
}

func TestPlanGTIDInEachDomain(t *testing.T) {
	a, s1, s2, f := twoDomainArchive(true)

	for target, want := range map[string][]*Segment{
		"0-1-2": {s1}, "1-1-2": {s1}, "1-1-3": {s1},
		// In s2, which starts with domain 1 and ends with domain 0.
		"0-1-5": {s1, s2}, "1-1-5": {s1, s2}, "1-1-4": {s1, s2},
	} {
		g, _ := ParseGTID(target)

		p, err := a.Plan([]Full{f}, Target{GTID: &g}, at(1, 0))
		if err != nil {
			t.Errorf("GTID %s: %v", target, err)
			continue
		}

		if len(p.Steps) != len(want) || p.Steps[len(p.Steps)-1].Seg != want[len(want)-1] {
			t.Errorf("GTID %s: %d steps, want %d", target, len(p.Steps), len(want))
		}
	}

	// Past the archive in either domain: refused.
	for _, target := range []string{"0-1-7", "1-1-9"} {
		g, _ := ParseGTID(target)
		if _, err := a.Plan([]Full{f}, Target{GTID: &g}, at(1, 0)); err == nil {
			t.Errorf("GTID %s beyond the archive was planned", target)
		}
	}
}

// TestPlanGTIDOldSegments: segments stored before per-domain ranges (only
// gtid_first and gtid_last) still plan a GTID named by either label.
func TestPlanGTIDOldSegments(t *testing.T) {
	a, s1, s2, f := twoDomainArchive(false)

	for target, want := range map[string]*Segment{"1-1-3": s1, "0-1-6": s2, "1-1-4": s2} {
		g, _ := ParseGTID(target)

		p, err := a.Plan([]Full{f}, Target{GTID: &g}, at(1, 0))
		if err != nil {
			t.Errorf("GTID %s: %v", target, err)
			continue
		}

		if p.Steps[len(p.Steps)-1].Seg != want {
			t.Errorf("GTID %s: planned to %s, want %s", target, p.Steps[len(p.Steps)-1].Seg.ID, want.ID)
		}
	}
}

func TestDomainsLabel(t *testing.T) {
	m := addGTID(nil, GTID{1, 1, 4})
	m = addGTID(m, GTID{0, 1, 4})
	m = addGTID(m, GTID{1, 1, 5})
	m = mergeDomains(m, map[uint32]GTIDRange{0: {GTID{0, 1, 5}, GTID{0, 1, 9}}, 2: {GTID{2, 7, 1}, GTID{2, 7, 1}}})

	l := formatDomains(m)
	if l != "0-1-4..0-1-9,1-1-4..1-1-5,2-7-1..2-7-1" {
		t.Fatalf("label %q", l)
	}

	if back := formatDomains(parseDomains(l)); back != l {
		t.Errorf("read back as %q", back)
	}

	for _, bad := range []string{"0-1-4", "0-1-4..1-1-5", "x..y"} {
		if parseDomains(bad) != nil {
			t.Errorf("label %q read as ranges", bad)
		}
	}
}

// TestPieceKeepsDomains: a compacted piece records the merged ranges, or
// none when a part predates them (its first and last GTID then serve).
func TestPieceKeepsDomains(t *testing.T) {
	a := cseg("a", "bin.000001", 4, 100, t0, t0.Add(time.Second), 0)
	a.GTIDFirst, a.GTIDLast, a.Domains = "0-1-1", "1-1-2", parseDomains("0-1-1..0-1-1,1-1-2..1-1-2")
	b := cseg("b", "bin.000001", 100, 200, t0.Add(2*time.Second), t0.Add(3*time.Second), 0)
	b.GTIDFirst, b.GTIDLast, b.Domains = "1-1-3", "0-1-2", parseDomains("1-1-3..1-1-3,0-1-2..0-1-2")

	if l := pieceLabels([]*Segment{a, b}); l[domainsLabel] != "0-1-1..0-1-2,1-1-2..1-1-3" {
		t.Errorf("piece of two parts: %q", l[domainsLabel])
	}

	b.Domains = nil
	if l := pieceLabels([]*Segment{a, b}); l[domainsLabel] != "" || l["gtid_last"] != "0-1-2" {
		t.Errorf("piece with an old part: %v", l)
	}
}
