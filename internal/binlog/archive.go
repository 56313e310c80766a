package binlog

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// Segment is one archived range [Start, End) of one binlog file.
type Segment struct {
	*repo.Segment
	// Epoch names the unbroken chain the segment belongs to; a new one starts
	// after every gap, so files named alike on a reset server never mix.
	Epoch string
	File  string
	Start uint32
	End   uint32
	// Next is the file that follows when this segment closes its file.
	Next string
	// First and Last are the times of the first and last event: when it
	// arrived (millisecond precision) if the streamer saw it, else the
	// server's one-second event time.
	First, Last time.Time
	GTIDFirst   string
	GTIDLast    string
	// Domains are the first and last GTID of each replication domain
	// (nil for a segment stored before they were recorded: see Domain).
	Domains map[uint32]GTIDRange
	FDE     []byte
	// Bytes of binlog at the start of the stored data; an arrival index follows.
	BinlogBytes int64
	Events      int
	By          string
	// Merged is how many segments as first stored this one holds: 1 for
	// one stored by the archiver, more for a piece written by Compact.
	Merged int
}

// Gap is a recorded break in the archive: nothing between From and At can be
// restored, and a new chain (Epoch) starts after it.
type Gap struct {
	ID        string
	Epoch     string
	PrevEpoch string
	From      time.Time
	At        time.Time
	Reason    string
}

// Archive is everything archived for one source.
type Archive struct {
	Source   string
	Segments []*Segment
	// Hidden are segments whose range another segment holds whole (what a
	// compaction stopped between writing a piece and deleting its originals
	// leaves): never read, and deleted by the next compaction.
	Hidden []*Segment
	Gaps   []*Gap
	// Covered is when the streamer last knew the archive held every event
	// the server had written.
	Covered      time.Time
	CoveredEpoch string
	// Marks are instants at which the archive was known to hold every
	// event up to a position: the streamer's progress, an incremental's end.
	Marks []Mark
}

// Mark says the archive held everything the server had written at At, up to
// Coord.
type Mark struct {
	Coord Coord
	At    time.Time
}

const stateKind = records.StateBinlog

// Load reads the archive of source.
func Load(ctx context.Context, r *repo.Repository, source string) (*Archive, error) {
	segs, err := r.Segments(ctx, source)
	if err != nil {
		return nil, err
	}

	a := &Archive{Source: source}

	for _, s := range segs {
		l := s.Labels
		if l["kind"] == "gap" {
			g := &Gap{ID: s.ID, Epoch: l["epoch"], PrevEpoch: l["prev_epoch"], Reason: l["reason"]}
			g.From, _ = time.Parse(time.RFC3339Nano, l["from"])
			g.At, _ = time.Parse(time.RFC3339Nano, l["at"])
			a.Gaps = append(a.Gaps, g)

			continue
		}

		seg := &Segment{Segment: s, Epoch: l["epoch"], File: l["file"], Next: l["next"], GTIDFirst: l["gtid_first"], GTIDLast: l["gtid_last"], By: l["by"]}
		seg.Domains = parseDomains(l[domainsLabel])
		seg.Start = atou32(l["start"])
		seg.End = atou32(l["end"])
		seg.First = labelTime(l["a_first"], l["t_first"])
		seg.Last = labelTime(l["a_last"], l["t_last"])
		seg.FDE, _ = hex.DecodeString(l["fde"])
		seg.BinlogBytes, _ = strconv.ParseInt(l["binlog_bytes"], 10, 64)
		seg.Events, _ = strconv.Atoi(l["events"])

		seg.Merged = 1
		if n, err := strconv.Atoi(l["merged"]); err == nil && n >= 0 {
			seg.Merged = n
		}

		a.Segments = append(a.Segments, seg)
	}

	a.Segments, a.Hidden = hideContained(a.Segments)

	st, ok, err := records.State[records.BinlogState](ctx, r, source, stateKind)
	if err != nil {
		return nil, err
	}

	if ok {
		a.Covered, a.CoveredEpoch = st.Covered, st.Epoch
		a.Marks = append(a.Marks, Mark{Coord: Coord{Epoch: st.Epoch, File: st.File, Pos: st.Pos}, At: a.Covered})
	}

	return a, nil
}

func atou32(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

// labelTime prefers the millisecond arrival time over the event's second.
func labelTime(ms, sec string) time.Time {
	if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n > 0 {
		return time.UnixMilli(n).UTC()
	}

	if n, err := strconv.ParseInt(sec, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC()
	}

	return time.Time{}
}

// fileSeq is the number a binlog file name ends with.
func fileSeq(name string) int {
	i := strings.LastIndexByte(name, '.')
	n, _ := strconv.Atoi(name[i+1:])

	return n
}

// successor is the file the server writes after name.
func successor(name string) string {
	i := strings.LastIndexByte(name, '.')
	digits := len(name) - i - 1

	return fmt.Sprintf("%s.%0*d", name[:i], digits, fileSeq(name)+1)
}

// Coord is a place in a binlog chain.
type Coord struct {
	Epoch string
	File  string
	Pos   uint32
}

func (c Coord) String() string { return fmt.Sprintf("%s:%d", c.File, c.Pos) }

// before orders two coordinates of one chain.
func (c Coord) Before(o Coord) bool {
	if c.File != o.File {
		return fileSeq(c.File) < fileSeq(o.File)
	}

	return c.Pos < o.Pos
}

// Epochs lists the chains, oldest first, with the time each began.
func (a *Archive) epochs() []string {
	seen := map[string]bool{}

	var out []string

	for _, s := range a.Segments {
		if !seen[s.Epoch] {
			seen[s.Epoch] = true
			out = append(out, s.Epoch)
		}
	}

	sort.Strings(out)

	return out
}

// epochAt is the chain that was being archived at t: the newest begun by then.
func (a *Archive) epochAt(t time.Time) string {
	best := ""

	for _, e := range a.epochs() {
		if et, err := time.Parse(epochLayout, e); err == nil && !et.After(t) {
			best = e
		}
	}

	if best == "" {
		if es := a.epochs(); len(es) > 0 {
			return es[0]
		}
	}

	return best
}

const epochLayout = "20060102T150405.000000000Z"

func newEpoch(now time.Time) string { return now.UTC().Format(epochLayout) }

// End is where the newest chain's archive ends: the place to resume.
func (a *Archive) End() (Coord, *Segment, bool) {
	es := a.epochs()
	if len(es) == 0 {
		return Coord{}, nil, false
	}

	// A gap recorded after the newest segments means that chain is closed.
	epoch := es[len(es)-1]

	var last *Segment

	for _, s := range a.Segments {
		if s.Epoch != epoch {
			continue
		}

		if last == nil || (Coord{File: last.File, Pos: last.End}).Before(Coord{File: s.File, Pos: s.End}) ||
			(last.File == s.File && last.End == s.End && s.Next != "") {
			last = s
		}
	}

	c := Coord{Epoch: epoch, File: last.File, Pos: last.End}
	if last.Next != "" {
		c.File, c.Pos = last.Next, 4
	}

	return c, last, true
}

// containing finds a segment of epoch holding the event that starts at c.
func (a *Archive) containing(c Coord) *Segment {
	var best *Segment

	for _, s := range a.Segments {
		if s.Epoch != c.Epoch || s.File != c.File || s.Start > c.Pos || c.Pos >= s.End {
			continue
		}

		// Prefer the one reaching furthest: fewer segments to read.
		if best == nil || s.End > best.End {
			best = s
		}
	}

	return best
}

// closes finds a segment of epoch that ends file at pos with a successor.
func (a *Archive) closes(c Coord) *Segment {
	for _, s := range a.Segments {
		if s.Epoch == c.Epoch && s.File == c.File && s.End == c.Pos && s.Next != "" {
			return s
		}
	}

	return nil
}

// Step is one segment to replay, from Skip bytes into its binlog.
type Step struct {
	Seg  *Segment
	Skip int64
}

// walk follows the chain from c for as long as it is unbroken, calling stop
// before each segment; it returns the steps and where the archive ran out.
func (a *Archive) walk(c Coord, stop func(*Segment) bool) ([]Step, Coord) {
	var steps []Step

	idx := a.index()

	for {
		if s := idx.containing(c); s != nil {
			steps = append(steps, Step{Seg: s, Skip: int64(c.Pos - s.Start)})
			if stop(s) {
				return steps, Coord{Epoch: c.Epoch, File: s.File, Pos: s.End}
			}

			c.File, c.Pos = s.File, s.End

			continue
		}

		if s := idx.closes(c); s != nil {
			c.File, c.Pos = s.Next, 4
			continue
		}

		return steps, c
	}
}

// EpochFor is the chain a full backup taken at t continues: the one being
// archived then, or a new one starting at t.
func (a *Archive) EpochFor(t time.Time) string {
	if e := a.epochAt(t); e != "" {
		return e
	}

	return newEpoch(t)
}
