package binlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"lifeboat/internal/repo"
)

// Target is the instant a point-in-time recovery stops at. With none of
// Time, File or GTID set it replays everything archived.
type Target struct {
	// Time: every transaction committed at or before it.
	Time time.Time
	// File and Pos: every transaction that starts before this position.
	File string
	Pos  uint32
	// GTID: every transaction up to and including this one.
	GTID *GTID
	// Skip leaves these transactions out.
	Skip []GTID
}

func (t Target) String() string {
	switch {
	case !t.Time.IsZero():
		return t.Time.UTC().Format(time.RFC3339Nano)
	case t.File != "":
		return fmt.Sprintf("position %s:%d", t.File, t.Pos)
	case t.GTID != nil:
		return "GTID " + t.GTID.String()
	}

	return "the end of the archive"
}

// Plan is how a point-in-time recovery gets to its target.
type Plan struct {
	Full   Full
	Steps  []Step
	Target Target
	// Covered is the newest instant the chain from the full reaches: its
	// last event, or later if the streamer saw nothing newer until then.
	Covered time.Time
	// End is where the chain from the full runs out.
	End Coord
}

// Bytes is how much binlog the plan reads.
func (p *Plan) Bytes() int64 {
	var n int64
	for _, s := range p.Steps {
		n += s.Seg.BinlogBytes - s.Skip
	}

	return n
}

// PlanError is a target the archive cannot reach; Exit codes treat it as the
// user's input problem.
type PlanError struct{ Msg string }

func (e *PlanError) Error() string { return e.Msg }

func planErr(format string, args ...any) error { return &PlanError{Msg: fmt.Sprintf(format, args...)} }

// Plan chooses the full backup and the segments that reach target.
func (a *Archive) Plan(fulls []Full, t Target, now time.Time) (*Plan, error) {
	if len(fulls) == 0 {
		return nil, planErr("source %s has no full backup with binlog coordinates to start from: run `lifeboat backup %s`", a.Source, a.Source)
	}

	sort.SliceStable(fulls, func(i, j int) bool { return fulls[i].At.Before(fulls[j].At) })

	cands, err := a.candidates(fulls, t, now)
	if err != nil {
		return nil, err
	}

	f := cands[len(cands)-1]
	start := f.Coord
	start.Epoch = a.epochAt(f.At)

	stop := false
	steps, end := a.walk(start, func(s *Segment) bool { stop = t.reachedBy(s); return stop })
	p := &Plan{Full: f, Steps: steps, Target: t, End: end}

	last := f.At
	if len(steps) > 0 && steps[len(steps)-1].Seg.Last.After(last) {
		last = steps[len(steps)-1].Seg.Last
	}

	// Where the walk reached a mark, nothing happened between the last
	// event and the mark's time.
	for _, m := range a.Marks {
		if m.Coord.Epoch == start.Epoch && !end.Before(m.Coord) && m.At.After(last) {
			last = m.At
		}
	}

	p.Covered = last

	if stop || (t.Time.IsZero() && t.File == "" && t.GTID == nil) {
		return p, nil
	}

	if !t.Time.IsZero() {
		if !t.Time.After(last) {
			return p, nil
		}

		for _, g := range a.Gaps {
			if !t.Time.Before(g.From) && t.Time.Before(g.At) || (g.PrevEpoch == start.Epoch && t.Time.After(g.From)) {
				next := "the next full backup"
				for _, nf := range fulls {
					if nf.At.After(g.From) {
						next = nf.At.UTC().Format(stamp)
						break
					}
				}

				return nil, planErr("--to-time %s falls in a recorded gap in the binlog archive of source %s (%s): restorable instants are up to %s and from %s", t.Time.UTC().Format(stamp), a.Source, g.Reason, g.From.UTC().Format(stamp), next)
			}
		}

		return nil, planErr("--to-time %s is after the newest restorable instant of source %s, %s: the archive holds nothing newer (is `lifeboat binlog stream %s` running?)", t.Time.UTC().Format(stamp), a.Source, last.UTC().Format(time.RFC3339Nano), a.Source)
	}

	return nil, planErr("%s is beyond the binlog archive of source %s, which ends at %s", t, a.Source, end)
}

// candidates are the fulls, oldest first, a restore to t can start from: those
// before t in the archive chain that holds t.
func (a *Archive) candidates(fulls []Full, t Target, now time.Time) ([]Full, error) {
	oldest := fulls[0].At.UTC().Format(stamp)

	var cands []Full

	switch {
	case !t.Time.IsZero():
		if t.Time.After(now) {
			return nil, planErr("--to-time %s is in the future (now is %s)", t.Time.UTC().Format(stamp), now.UTC().Format(stamp))
		}

		for _, f := range fulls {
			if !f.At.After(t.Time) {
				cands = append(cands, f)
			}
		}

		if len(cands) == 0 {
			return nil, planErr("--to-time %s is before the oldest restorable instant of source %s, %s (its oldest full backup)", t.Time.UTC().Format(stamp), a.Source, oldest)
		}
	case t.File != "":
		epoch := a.epochOfPos(t.File, t.Pos)
		if epoch == "" {
			return nil, planErr("position %s:%d is not in the binlog archive of source %s: list what is archived with `lifeboat binlog list %s`", t.File, t.Pos, a.Source, a.Source)
		}

		for _, f := range fulls {
			if a.epochAt(f.At) == epoch && !(Coord{File: t.File, Pos: t.Pos}).Before(f.Coord) {
				cands = append(cands, f)
			}
		}

		if len(cands) == 0 {
			return nil, planErr("position %s:%d is before the oldest restorable instant of source %s, %s (its oldest full backup)", t.File, t.Pos, a.Source, oldest)
		}
	case t.GTID != nil:
		epoch := a.epochOfGTID(*t.GTID)
		if epoch == "" {
			return nil, planErr("GTID %s is not in the binlog archive of source %s: list what is archived with `lifeboat binlog list %s`", t.GTID, a.Source, a.Source)
		}

		for _, f := range fulls {
			if a.epochAt(f.At) == epoch && gtidBefore(f.GTID, *t.GTID) {
				cands = append(cands, f)
			}
		}

		if len(cands) == 0 {
			return nil, planErr("GTID %s is before the oldest restorable instant of source %s, %s (its oldest full backup)", t.GTID, a.Source, oldest)
		}
	default:
		cands = fulls
	}

	return cands, nil
}

// reachedBy reports whether segment s reaches t.
func (t Target) reachedBy(s *Segment) bool {
	switch {
	case !t.Time.IsZero():
		return s.Last.After(t.Time)
	case t.File != "":
		return s.File == t.File && s.End >= t.Pos
	case t.GTID != nil:
		r, ok := s.Domain(t.GTID.Domain)
		return ok && r.Last.Seq >= t.GTID.Seq
	}

	return false
}

func (a *Archive) epochOfPos(file string, pos uint32) string {
	best := ""

	for _, s := range a.Segments {
		if s.File == file && s.Start <= pos && pos <= s.End && s.Epoch > best {
			best = s.Epoch
		}
	}

	return best
}

func (a *Archive) epochOfGTID(g GTID) string {
	best := ""

	for _, s := range a.Segments {
		r, ok := s.Domain(g.Domain)
		if ok && r.First.Seq <= g.Seq && g.Seq <= r.Last.Seq && s.Epoch > best {
			best = s.Epoch
		}
	}

	return best
}

// gtidBefore reports whether a full whose GTID position is pos was taken
// before transaction g.
func gtidBefore(pos string, g GTID) bool {
	m, err := ParseGTIDList(pos)
	if err != nil {
		return false
	}

	cur, ok := m[g.Domain]

	return !ok || cur.Seq < g.Seq
}

// Result says what a replay did.
type Result struct {
	Transactions int
	Skipped      int
	Events       int
	Bytes        int64
	LastGTID     string
	// Last is the last GTID replayed in each replication domain: with
	// several domains, LastGTID (the last of all) says nothing of the
	// others, which a replica may apply in any order between domains.
	Last map[uint32]GTID
	// Reached is the commit time of the last transaction replayed.
	Reached time.Time
}

// Position is the GTID position the replay reached: the last GTID of every
// domain, ordered by domain and comma-separated as MASTER_GTID_WAIT and
// gtid_slave_pos take it; "" when no transaction carried a GTID.
func (r *Result) Position() string {
	domains := make([]uint32, 0, len(r.Last))
	for d, g := range r.Last {
		if !g.IsZero() {
			domains = append(domains, d)
		}
	}

	sort.Slice(domains, func(i, j int) bool { return domains[i] < domains[j] })

	parts := make([]string, len(domains))
	for i, d := range domains {
		parts[i] = r.Last[d].String()
	}

	return strings.Join(parts, ",")
}

// Replay feeds the plan's binlog, filtered to dbs and cut at the target, to w
// as one binlog stream (magic, format description, events) for mariadb-binlog.
// rename maps an original database name to the one restored into.
func (a *Archive) Replay(ctx context.Context, r *repo.Repository, p *Plan, dbs []string, rename map[string]string, w io.Writer) (*Result, error) {
	return a.ReplayCounted(ctx, r, p, dbs, rename, w, nil)
}

// ReplayCounted is Replay reporting to progress (nil: none) the plan's
// bytes of binlog as its total and the bytes read as it reads them.
func (a *Archive) ReplayCounted(ctx context.Context, r *repo.Repository, p *Plan, dbs []string, rename map[string]string, w io.Writer, progress repo.Progress) (*Result, error) {
	f := &filter{
		t: p.Target, dbs: map[string]bool{}, skip: map[GTID]bool{}, tables: map[uint64]bool{},
		out: bufio.NewWriterSize(w, 1<<20), res: &Result{}, rename: rename, progress: progress,
	}
	defer f.count(0, true)

	if progress != nil {
		progress.SetTotal(p.Bytes())
	}
	f.already, _ = ParseGTIDList(p.Full.GTID)

	for _, d := range dbs {
		f.dbs[d] = true
	}

	for _, g := range p.Target.Skip {
		f.skip[g] = true
	}

	if _, err := f.out.Write(magic); err != nil {
		return nil, err
	}

	file := ""

	for _, st := range p.Steps {
		if st.Seg.Events == 0 {
			continue
		}

		if st.Seg.File != file {
			file = st.Seg.File
			if _, err := f.out.Write(st.Seg.FDE); err != nil {
				return f.res, err
			}

			f.checksum = fdeChecksum(st.Seg.FDE)
		}

		done, err := f.segment(ctx, r, a, st)
		if err != nil {
			return f.res, err
		}

		if done {
			break
		}
	}

	return f.res, f.out.Flush()
}

var errStop = errors.New("target reached")

// countEvery is how many bytes of binlog a replay reads between two
// reports to its progress: one per event would be one per row change.
const countEvery = 256 << 10

// count adds n bytes read to the progress, reported once countEvery have
// gathered or when flush is set.
func (f *filter) count(n int, flush bool) {
	if f.progress == nil {
		return
	}

	f.uncounted += int64(n)
	if f.uncounted > 0 && (flush || f.uncounted >= countEvery) {
		f.progress.Add(f.uncounted)
		f.uncounted = 0
	}
}

// stamp prints instants in messages to the millisecond.
const stamp = "2006-01-02T15:04:05.000Z07:00"

type filter struct {
	t        Target
	dbs      map[string]bool
	skip     map[GTID]bool
	already  map[uint32]GTID
	checksum bool
	rename   map[string]string
	out      *bufio.Writer
	res      *Result
	// progress, if set, is told the bytes read; uncounted are those not
	// yet told.
	progress  repo.Progress
	uncounted int64

	arrivals *arrivalCursor
	file     string
	// reloaded is the archive read again after a compaction deleted a
	// segment the plan named.
	reloaded *Archive

	inGroup    bool
	keep       bool
	standalone bool
	payload    bool
	held       [][]byte
	gtid       GTID
	when       time.Time
	tables     map[uint64]bool
	stopAfter  bool
}

func (f *filter) segment(ctx context.Context, r *repo.Repository, a *Archive, st Step) (bool, error) {
	f.file = st.Seg.File

	src, err := f.open(ctx, r, a, st)
	if err != nil {
		return false, err
	}
	defer src.close()

	f.arrivals = src.arrivals

	er := newEventReader(src.binlog)

	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}

		e, err := er.next()
		if errors.Is(err, io.EOF) {
			break
		}

		if err != nil {
			return false, fmt.Errorf("binlog segment %s (%s:%d): %w", src.seg.ID, src.seg.File, src.seg.Start, err)
		}

		f.count(len(e.raw), false)

		if err := f.event(e); err != nil {
			if errors.Is(err, errStop) {
				return true, nil
			}

			return false, err
		}
	}

	// Read the rest so the stored checksum is verified.
	if src.rest != nil {
		if _, err := io.Copy(io.Discard, src.rest); err != nil {
			return false, fmt.Errorf("binlog segment %s: %w", src.seg.ID, err)
		}
	}

	return false, nil
}

// skipBySeek is how far into a segment a replay must start before it seeks
// there rather than reading (and checksumming) the whole segment: a full
// taken late in a day starts deep inside that day's compacted piece.
var skipBySeek int64 = 16 << 20

// stepData is where a step's binlog bytes are read from.
type stepData struct {
	seg *Segment
	// binlog yields the step's range of the file, [Start+Skip, End).
	binlog io.Reader
	// rest, when set, is read to its end afterwards to check the checksum.
	rest     io.Reader
	arrivals *arrivalCursor
	closers  []io.Closer
}

func (d *stepData) close() {
	for _, c := range d.closers {
		c.Close()
	}
}

// open opens a step's segment or, when a compaction merged and deleted it
// since the plan was made, the same bytes from the piece now holding them.
func (f *filter) open(ctx context.Context, r *repo.Repository, a *Archive, st Step) (*stepData, error) {
	d := &stepData{seg: st.Seg}

	var (
		rc  io.ReadCloser
		err error
	)

	if st.Skip >= skipBySeek {
		rc, err = r.OpenSegmentRange(ctx, st.Seg.Segment, st.Skip, st.Seg.BinlogBytes-st.Skip)
	} else {
		rc, err = r.OpenSegment(ctx, st.Seg.Segment)
	}

	if errors.Is(err, repo.ErrSnapshotNotFound) {
		return f.openMoved(ctx, r, a, st)
	}

	if err != nil {
		return nil, err
	}

	d.closers = append(d.closers, rc)

	if st.Skip >= skipBySeek {
		d.binlog = rc
	} else {
		if _, err := io.CopyN(io.Discard, rc, st.Skip); err != nil {
			d.close()
			return nil, fmt.Errorf("read binlog segment %s: %w", st.Seg.ID, err)
		}

		d.binlog, d.rest = io.LimitReader(rc, st.Seg.BinlogBytes-st.Skip), rc
	}

	if err := d.openArrivals(ctx, r, st.Seg); err != nil {
		d.close()
		return nil, err
	}

	return d, nil
}

func (f *filter) openMoved(ctx context.Context, r *repo.Repository, a *Archive, st Step) (*stepData, error) {
	lo, hi := st.Seg.Start+uint32(st.Skip), st.Seg.End

	holder := func(arch *Archive) *Segment {
		if arch == nil {
			return nil
		}

		for _, s := range arch.Segments {
			if s.ID != st.Seg.ID && s.Epoch == st.Seg.Epoch && s.File == st.Seg.File && s.Start <= lo && hi <= s.End {
				return s
			}
		}

		return nil
	}

	piece := holder(f.reloaded)
	if piece == nil {
		if err := r.Refresh(ctx); err != nil {
			return nil, err
		}

		arch, err := Load(ctx, r, a.Source)
		if err != nil {
			return nil, err
		}

		f.reloaded = arch
		piece = holder(arch)
	}

	if piece == nil {
		return nil, fmt.Errorf("binlog segment %s (%s:%d-%d) was deleted while the recovery read the archive, and no segment holds that range now: run the recovery again", st.Seg.ID, st.Seg.File, st.Seg.Start, st.Seg.End)
	}

	rc, err := r.OpenSegmentRange(ctx, piece.Segment, int64(lo-piece.Start), int64(hi-lo))
	if err != nil {
		return nil, err
	}

	d := &stepData{seg: piece, binlog: rc, closers: []io.Closer{rc}}

	if err := d.openArrivals(ctx, r, piece); err != nil {
		d.close()
		return nil, err
	}

	return d, nil
}

func (d *stepData) openArrivals(ctx context.Context, r *repo.Repository, seg *Segment) error {
	if !hasArrivals(seg) {
		return nil
	}

	rc, err := r.OpenSegmentRange(ctx, seg.Segment, seg.BinlogBytes, seg.Bytes-seg.BinlogBytes)
	if err != nil {
		return err
	}

	d.closers = append(d.closers, rc)
	d.arrivals = &arrivalCursor{sc: bufio.NewScanner(rc)}

	return nil
}

// arrivalCursor reads an arrival index ("position milliseconds" lines in
// position order) alongside the events, so a day's index is never held in
// memory.
type arrivalCursor struct {
	sc   *bufio.Scanner
	pos  uint32
	ms   int64
	done bool
	read bool
}

// at is the arrival time of the event starting at pos; positions are asked
// for in increasing order.
func (c *arrivalCursor) at(pos uint32) (int64, bool) {
	if c == nil {
		return 0, false
	}

	for !c.done && (!c.read || c.pos < pos) {
		if !c.sc.Scan() {
			c.done = true
			break
		}

		var p uint32
		var ms int64

		if _, err := fmt.Sscan(c.sc.Text(), &p, &ms); err == nil {
			c.pos, c.ms, c.read = p, ms, true
		}
	}

	if c.read && c.pos == pos {
		return c.ms, true
	}

	return 0, false
}

func (f *filter) write(raw []byte) error {
	f.res.Events++
	f.res.Bytes += int64(len(raw))
	_, err := f.out.Write(raw)

	return err
}

// flushHeld writes a kept transaction's opening events once it has
// something for the source's databases.
func (f *filter) flushHeld() error {
	for _, h := range f.held {
		if err := f.write(h); err != nil {
			return err
		}
	}

	f.held = nil
	f.payload = true

	return nil
}

func (f *filter) endGroup() error {
	if f.inGroup && f.keep && f.payload {
		f.res.Transactions++
		f.res.LastGTID = f.gtid.String()
		f.res.Reached = f.when

		if f.res.Last == nil {
			f.res.Last = map[uint32]GTID{}
		}

		f.res.Last[f.gtid.Domain] = f.gtid
	}

	f.inGroup, f.held, f.payload = false, nil, false

	if f.stopAfter {
		return errStop
	}

	return nil
}

// event writes e to the output when the replay keeps it, and returns
// errStop where the target is reached.
func (f *filter) event(e event) error {
	switch e.typ {
	case evFormat, evRotate, evStop, evHeartbeat, evHeartbeatV2, evGTIDList, evCheckpoint, 35:
		return nil
	}

	if e.artificial() {
		return nil
	}

	switch e.typ {
	case evMariaGTID:
		return f.beginTransaction(e)
	case evQuery:
		return f.statement(e)
	case evTableMap:
		id, db := tableMap(e, f.checksum)
		f.tables[id] = f.dbs[db] || len(f.dbs) == 0

		if f.keep && f.tables[id] {
			if err := f.flushHeld(); err != nil {
				return err
			}

			return f.write(e.raw)
		}

		return nil
	case evXID:
		if f.keep && f.payload {
			if err := f.write(e.raw); err != nil {
				return err
			}
		}

		return f.endGroup()
	}

	if isRows(e.typ) {
		if f.keep && f.tables[rowsTable(e)] {
			return f.write(e.raw)
		}

		return nil
	}

	// Annotations and statement context (user variables, insert ids) go
	// with the transaction, written only if it is kept.
	if f.keep && f.inGroup {
		if f.payload {
			return f.write(e.raw)
		}

		f.held = append(f.held, e.raw)
	}

	return nil
}

// beginTransaction opens the transaction a GTID event starts and decides
// whether it is kept, or stops the replay where it is past the target.
func (f *filter) beginTransaction(e event) error {
	g, standalone := mariaGTID(e, f.checksum)

	when := time.Unix(int64(e.when), 0)
	// The event's time has one-second resolution: without the
	// streamer's arrival time, the transaction may have committed
	// any time in that second, so count it at the second's end.
	cmp := when.Add(time.Second - time.Nanosecond)
	if ms, ok := f.arrivals.at(e.start()); ok {
		when = time.UnixMilli(ms)
		cmp = when
	}

	if !f.t.Time.IsZero() && cmp.After(f.t.Time) {
		return errStop
	}

	if f.t.File != "" && !(Coord{File: f.file, Pos: e.start()}).Before(Coord{File: f.t.File, Pos: f.t.Pos}) {
		return errStop
	}

	f.inGroup, f.standalone, f.gtid, f.when, f.payload = true, standalone, g, when, false
	f.keep = true
	f.stopAfter = f.t.GTID != nil && *f.t.GTID == g

	if f.t.GTID != nil && g.Domain == f.t.GTID.Domain && g.Seq > f.t.GTID.Seq {
		return errStop
	}

	if f.skip[g] {
		f.keep = false
		f.res.Skipped++
	}

	if cur, ok := f.already[g.Domain]; ok && g.Seq <= cur.Seq {
		f.keep = false // already in the full backup
	}

	f.held = [][]byte{e.raw}

	return nil
}

// statement handles a query event: a transaction's BEGIN or end, or DDL and
// statement-based changes, written when they touch the source's databases.
func (f *filter) statement(e event) error {
	db, q := queryInfo(e, f.checksum)

	switch {
	case f.inGroup && isBegin(q):
		if f.keep {
			f.held = append(f.held, e.raw)
		}

		return nil
	case f.inGroup && isTxnEnd(q):
		if f.keep && f.payload {
			if err := f.write(e.raw); err != nil {
				return err
			}
		}

		return f.endGroup()
	}

	if f.keep && f.relevant(db, q) {
		if err := f.flushHeld(); err != nil {
			return err
		}

		raw := e.raw
		if len(f.rename) > 0 {
			raw = renameQuery(e, f.checksum, f.rename)
		}

		if err := f.write(raw); err != nil {
			return err
		}
	}

	if f.standalone {
		return f.endGroup()
	}

	return nil
}

func (f *filter) relevant(db, q string) bool {
	if len(f.dbs) == 0 || f.dbs[db] {
		return true
	}

	for d := range f.dbs {
		if mentions(q, d) {
			return true
		}
	}

	return false
}

// CleanSQL drops the session GTID and server id settings from
// mariadb-binlog's output, so a replay is logged with the target server's own
// new GTIDs: replaying old ones would be refused under gtid_strict_mode, or
// move the server's GTID position backwards.
func CleanSQL(r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)

	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line (a big BINLOG statement): pass it through.
			if _, werr := bw.Write(line); werr != nil {
				return werr
			}

			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				if _, werr := bw.Write(line); werr != nil {
					return werr
				}
			}
		} else if !dropLine(line) {
			if _, werr := bw.Write(line); werr != nil {
				return werr
			}
		}

		if errors.Is(err, io.EOF) {
			return bw.Flush()
		}

		if err != nil {
			return err
		}
	}
}

// dropSettings are the session settings mariadb-binlog prints for each GTID,
// inside version comments such as /*M!100001 ... */.
var dropSettings = [][]byte{
	[]byte("SET @@session.gtid_domain_id="),
	[]byte("SET @@session.server_id="),
	[]byte("SET @@session.gtid_seq_no="),
}

func dropLine(line []byte) bool {
	if len(line) > 120 {
		return false
	}

	for _, p := range dropSettings {
		if bytes.HasPrefix(line, p) || bytes.HasPrefix(line, []byte("/*")) && bytes.Contains(line, p) {
			return true
		}
	}

	return false
}

// Summary is a one-line account of a plan for --dry-run.
func (p *Plan) Summary() string {
	var b strings.Builder

	pos := "binlog " + p.Full.Coord.String()
	if p.Full.Coord.File == "" {
		pos = "no binlog position: it restores its own instant only"
	}

	fmt.Fprintf(&b, "full backup %s taken at %s (%s)\n", shortID(p.Full.Snap.ID), p.Full.At.UTC().Format(time.RFC3339Nano), pos)

	// Counted as first stored, whatever compaction merged since.
	segs := 0
	for _, s := range p.Steps {
		if s.Seg.Events > 0 {
			segs += max(s.Seg.Merged, 1)
		}
	}

	if segs == 0 {
		b.WriteString("no binlog to replay\n")
	} else {
		first, last := p.Steps[0].Seg, p.Steps[len(p.Steps)-1].Seg
		fmt.Fprintf(&b, "replay %d binlog segments, %s, from %s:%d to %s:%d\n", segs, humanBytes(p.Bytes()), first.File, first.Start+uint32(p.Steps[0].Skip), last.File, last.End)
	}

	return b.String()
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 2, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}

	return strconv.FormatInt(n, 10) + " B"
}
