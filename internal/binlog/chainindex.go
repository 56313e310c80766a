package binlog

import "sort"

// chainIndex answers containing and closes by lookup: walking a chain of n
// segments scanned the whole archive at every step, n² in all, which at a
// day of segments (about 29,000) is seconds for every status and plan.
type chainIndex struct {
	// byFile holds each file's segments by start, with, at each position,
	// the one reaching furthest among those starting there or before.
	byFile  map[fileKey]*fileSegments
	closing map[closeKey]*Segment
}

type fileKey struct{ epoch, file string }

type closeKey struct {
	epoch, file string
	end         uint32
}

type fileSegments struct {
	segs     []*Segment // by Start
	furthest []*Segment // furthest[i]: the greatest End among segs[:i+1]
}

func (a *Archive) index() *chainIndex {
	x := &chainIndex{byFile: map[fileKey]*fileSegments{}, closing: map[closeKey]*Segment{}}
	order := map[*Segment]int{}

	for i, s := range a.Segments {
		order[s] = i
		k := fileKey{s.Epoch, s.File}

		if x.byFile[k] == nil {
			x.byFile[k] = &fileSegments{}
		}

		x.byFile[k].segs = append(x.byFile[k].segs, s)

		ck := closeKey{s.Epoch, s.File, s.End}
		if s.Next != "" && x.closing[ck] == nil {
			x.closing[ck] = s
		}
	}

	for _, f := range x.byFile {
		sort.SliceStable(f.segs, func(i, j int) bool { return f.segs[i].Start < f.segs[j].Start })
		f.furthest = make([]*Segment, len(f.segs))

		for i, s := range f.segs {
			best := s
			// Ties go to the segment listed first, as the scan chose.
			if i > 0 {
				if p := f.furthest[i-1]; p.End > s.End || p.End == s.End && order[p] < order[s] {
					best = p
				}
			}

			f.furthest[i] = best
		}
	}

	return x
}

// containing is Archive.containing by lookup.
func (x *chainIndex) containing(c Coord) *Segment {
	f := x.byFile[fileKey{c.Epoch, c.File}]
	if f == nil {
		return nil
	}

	// The last segment starting at or before c.Pos.
	i := sort.Search(len(f.segs), func(i int) bool { return f.segs[i].Start > c.Pos }) - 1
	if i < 0 || f.furthest[i].End <= c.Pos {
		return nil
	}

	return f.furthest[i]
}

// closes is Archive.closes by lookup.
func (x *chainIndex) closes(c Coord) *Segment {
	return x.closing[closeKey{c.Epoch, c.File, c.Pos}]
}
