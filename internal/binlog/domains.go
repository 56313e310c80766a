package binlog

import (
	"maps"
	"slices"
	"strings"
)

// domainsLabel holds a segment's first and last GTID in each replication
// domain: "first..last" per domain, comma-separated in domain order.
// Segments stored before it have only gtid_first and gtid_last, the first
// and last GTID of any domain; Domain reads those still.
const domainsLabel = "gtid_domains"

// GTIDRange is the first and last transaction of one domain in a segment.
type GTIDRange struct{ First, Last GTID }

// addGTID widens the range of g's domain in m (made when nil) to hold g.
func addGTID(m map[uint32]GTIDRange, g GTID) map[uint32]GTIDRange {
	if m == nil {
		m = map[uint32]GTIDRange{}
	}

	r, ok := m[g.Domain]
	if !ok {
		r.First = g
	}

	r.Last = g
	m[g.Domain] = r

	return m
}

// mergeDomains adds the ranges of a later segment, later, to m.
func mergeDomains(m, later map[uint32]GTIDRange) map[uint32]GTIDRange {
	for d, r := range later {
		if m == nil {
			m = map[uint32]GTIDRange{}
		}

		cur, ok := m[d]
		if !ok {
			cur.First = r.First
		}

		cur.Last = r.Last
		m[d] = cur
	}

	return m
}

func formatDomains(m map[uint32]GTIDRange) string {
	parts := make([]string, 0, len(m))
	for _, d := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, m[d].First.String()+".."+m[d].Last.String())
	}

	return strings.Join(parts, ",")
}

// parseDomains reads the label; nil when it is absent or unreadable.
func parseDomains(s string) map[uint32]GTIDRange {
	if s == "" {
		return nil
	}

	m := map[uint32]GTIDRange{}

	for _, part := range strings.Split(s, ",") {
		lo, hi, ok := strings.Cut(part, "..")
		first, e1 := ParseGTID(lo)
		last, e2 := ParseGTID(hi)

		if !ok || e1 != nil || e2 != nil || first.Domain != last.Domain {
			return nil
		}

		m[first.Domain] = GTIDRange{First: first, Last: last}
	}

	return m
}

// Domain is the segment's range of GTIDs in domain d; ok is false when it
// holds none there. A segment stored before per-domain ranges were kept
// knows only its first and last GTID: a domain holding only one of them
// is bounded on that side alone (the other side is that same GTID, which
// a target never passes wrongly: the plan reads on to the next segment).
func (s *Segment) Domain(d uint32) (GTIDRange, bool) {
	if s.Domains != nil {
		r, ok := s.Domains[d]
		return r, ok
	}

	first, e1 := ParseGTID(s.GTIDFirst)
	last, e2 := ParseGTID(s.GTIDLast)
	inFirst, inLast := e1 == nil && first.Domain == d, e2 == nil && last.Domain == d

	switch {
	case inFirst && inLast:
		return GTIDRange{First: first, Last: last}, true
	case inLast:
		return GTIDRange{First: GTID{Domain: d}, Last: last}, true
	case inFirst:
		return GTIDRange{First: first, Last: first}, true
	}

	return GTIDRange{}, false
}
