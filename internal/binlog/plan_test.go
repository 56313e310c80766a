package binlog

import (
	"errors"
	"testing"
	"time"
)

func TestTargetString(t *testing.T) {
	g := GTID{0, 1, 22}
	for target, want := range map[*Target]string{
		{Time: time.Date(2026, 1, 1, 3, 4, 5, 6000000, time.FixedZone("x", 3600))}: "2026-01-01T02:04:05.006Z",
		{File: "mysql-bin.000002", Pos: 300}:                                       "position mysql-bin.000002:300",
		{GTID: &g}:                                                                 "GTID 0-1-22",
		{Skip: []GTID{g}}:                                                          "the end of the archive",
	} {
		if got := target.String(); got != want {
			t.Errorf("String = %q, want %q", got, want)
		}
	}
}

func TestPlanReachesEachKindOfTarget(t *testing.T) {
	ta := newTestArchive()
	now := at(2, 0)
	gtid := func(s string) *GTID { g, _ := ParseGTID(s); return &g }

	cases := []struct {
		name    string
		target  Target
		full    Full
		segs    []*Segment
		skip    int64
		covered time.Time
		end     Coord
	}{
		{"a time inside the first chain", Target{Time: at(0, 12)}, ta.f2, []*Segment{ta.s2, ta.s3}, 0, at(0, 15), Coord{Epoch: ta.e1, File: "mysql-bin.000002", Pos: 500}},
		{"a time at a full", Target{Time: at(0, 7)}, ta.f2, []*Segment{ta.s2}, 0, at(0, 10), Coord{Epoch: ta.e1, File: "mysql-bin.000001", Pos: 2000}},
		// The chain's last event is at 01:10, but the streamer's mark says
		// nothing happened until 01:20.
		{"a time covered by a mark", Target{Time: at(1, 15)}, ta.f3, []*Segment{ta.t1}, 0, at(1, 20), Coord{Epoch: ta.e2, File: "mysql-bin.000001", Pos: 800}},
		{"a position after a rotate", Target{File: "mysql-bin.000002", Pos: 300}, ta.f2, []*Segment{ta.s2, ta.s3}, 0, at(0, 15), Coord{Epoch: ta.e1, File: "mysql-bin.000002", Pos: 500}},
		// The same file name is in both chains: the newer one is meant.
		{"a position in a reused file name", Target{File: "mysql-bin.000001", Pos: 700}, ta.f3, []*Segment{ta.t1}, 0, at(1, 20), Coord{Epoch: ta.e2, File: "mysql-bin.000001", Pos: 800}},
		{"a GTID", Target{GTID: gtid("0-1-22")}, ta.f2, []*Segment{ta.s2, ta.s3}, 0, at(0, 15), Coord{Epoch: ta.e1, File: "mysql-bin.000002", Pos: 500}},
		{"the end, skipping a GTID", Target{Skip: []GTID{*gtid("0-1-45")}}, ta.f3, []*Segment{ta.t1}, 0, at(1, 20), Coord{Epoch: ta.e2, File: "mysql-bin.000001", Pos: 800}},
	}

	for _, c := range cases {
		// Fulls in any order: the plan sorts them.
		p, err := ta.Plan([]Full{ta.f3, ta.f1, ta.f2}, c.target, now)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}

		if p.Full.Snap != c.full.Snap || p.Covered != c.covered || p.End != c.end || len(p.Steps) != len(c.segs) {
			t.Errorf("%s: full %s, %d steps, covered %s, end %v %v", c.name, p.Full.Snap.ID, len(p.Steps), p.Covered, p.End.Epoch, p.End)
			continue
		}

		for i, s := range p.Steps {
			if s.Seg != c.segs[i] || s.Skip != 0 {
				t.Errorf("%s: step %d is %s:%d skip %d", c.name, i, s.Seg.File, s.Seg.Start, s.Skip)
			}
		}
	}
}

func TestPlanStartsInsideASegment(t *testing.T) {
	ta := newTestArchive()
	mid := ta.f2
	mid.Coord.Pos = 1500

	p, err := ta.Plan([]Full{mid}, Target{}, at(2, 0))
	if err != nil {
		t.Fatal(err)
	}

	if len(p.Steps) != 2 || p.Steps[0].Seg != ta.s2 || p.Steps[0].Skip != 500 || p.Steps[1].Seg != ta.s3 {
		t.Fatalf("steps %+v", p.Steps)
	}

	// 500 of s2's 1,000 bytes, then all 496 of s3's.
	if p.Bytes() != 996 {
		t.Errorf("Bytes = %d", p.Bytes())
	}

	want := "full backup f2bbbbbbbbbb taken at 2026-01-01T00:07:00Z (binlog mysql-bin.000001:1500)\n" +
		"replay 2 binlog segments, 996 B, from mysql-bin.000001:1500 to mysql-bin.000002:500\n"
	if got := p.Summary(); got != want {
		t.Errorf("Summary:\n%s\nwant\n%s", got, want)
	}

	empty := &Plan{Full: Full{Snap: ta.f1.Snap, At: at(0, 0)}}
	if got := empty.Summary(); got != "full backup f1aaaaaaaaaa taken at 2026-01-01T00:00:00Z (no binlog position: it restores its own instant only)\nno binlog to replay\n" {
		t.Errorf("Summary with nothing to replay:\n%s", got)
	}

	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 29: "1.50 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPlanRefusesUnreachableTargets(t *testing.T) {
	ta := newTestArchive()
	now := at(2, 0)
	gtid := func(s string) *GTID { g, _ := ParseGTID(s); return &g }
	all := []Full{ta.f1, ta.f2, ta.f3}
	holed := &Archive{Source: "db", Segments: []*Segment{ta.s1, ta.s3}}

	cases := []struct {
		name  string
		a     *Archive
		fulls []Full
		t     Target
		want  string
	}{
		{"no full", ta.Archive, nil, Target{}, "source db has no full backup with binlog coordinates to start from: run `lifeboat backup db`"},
		{"the future", ta.Archive, all, Target{Time: at(2, 0).Add(time.Millisecond)}, "--to-time 2026-01-01T02:00:00.001Z is in the future (now is 2026-01-01T02:00:00.000Z)"},
		{"before the first full", ta.Archive, all, Target{Time: at(0, 0).Add(-time.Second)}, "--to-time 2025-12-31T23:59:59.000Z is before the oldest restorable instant of source db, 2026-01-01T00:00:00.000Z (its oldest full backup)"},
		{"inside the gap", ta.Archive, all, Target{Time: at(0, 30)}, "--to-time 2026-01-01T00:30:00.000Z falls in a recorded gap in the binlog archive of source db (the server purged mysql-bin.000003 before it was archived): restorable instants are up to 2026-01-01T00:15:00.000Z and from 2026-01-01T01:00:00.000Z"},
		{"inside the gap, no later full", ta.Archive, []Full{ta.f1, ta.f2}, Target{Time: at(0, 30)}, "--to-time 2026-01-01T00:30:00.000Z falls in a recorded gap in the binlog archive of source db (the server purged mysql-bin.000003 before it was archived): restorable instants are up to 2026-01-01T00:15:00.000Z and from the next full backup"},
		{"after the end", ta.Archive, all, Target{Time: at(1, 30)}, "--to-time 2026-01-01T01:30:00.000Z is after the newest restorable instant of source db, 2026-01-01T01:20:00Z: the archive holds nothing newer (is `lifeboat binlog stream db` running?)"},
		{"a position not archived", ta.Archive, all, Target{File: "mysql-bin.000002", Pos: 600}, "position mysql-bin.000002:600 is not in the binlog archive of source db: list what is archived with `lifeboat binlog list db`"},
		{"a position before the full", ta.Archive, []Full{ta.f2}, Target{File: "mysql-bin.000001", Pos: 500}, "position mysql-bin.000001:500 is before the oldest restorable instant of source db, 2026-01-01T00:07:00.000Z (its oldest full backup)"},
		{"a position past a hole", holed, []Full{ta.f1}, Target{File: "mysql-bin.000002", Pos: 300}, "position mysql-bin.000002:300 is beyond the binlog archive of source db, which ends at mysql-bin.000001:1000"},
		{"a GTID not archived", ta.Archive, all, Target{GTID: gtid("0-1-99")}, "GTID 0-1-99 is not in the binlog archive of source db: list what is archived with `lifeboat binlog list db`"},
		{"a GTID of another domain", ta.Archive, all, Target{GTID: gtid("1-1-22")}, "GTID 1-1-22 is not in the binlog archive of source db: list what is archived with `lifeboat binlog list db`"},
		{"a GTID the full already holds", ta.Archive, []Full{ta.f2}, Target{GTID: gtid("0-1-5")}, "GTID 0-1-5 is before the oldest restorable instant of source db, 2026-01-01T00:07:00.000Z (its oldest full backup)"},
		{"a GTID past a hole", holed, []Full{ta.f1}, Target{GTID: gtid("0-1-22")}, "GTID 0-1-22 is beyond the binlog archive of source db, which ends at mysql-bin.000001:1000"},
	}

	for _, c := range cases {
		p, err := c.a.Plan(c.fulls, c.t, now)

		var pe *PlanError
		if !errors.As(err, &pe) || err.Error() != c.want {
			t.Errorf("%s: plan %v, error %v\nwant %q", c.name, p, err, c.want)
		}
	}
}
