package binlog

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"lifeboat/internal/repo"
)

// Compaction keeps the archive's segment count flat in its age: the streamer
// stores a segment every few seconds, and every command pays for each stored
// segment. Segments older than a few minutes are merged into one piece per
// UTC hour, and the hours of a day more than a day old into one piece per
// day. A piece is an ordinary segment (the same labels, the binlog bytes of
// its parts in order, then their arrival index), so planning and replay read
// it like any other.

// DefaultCompactAfter is how old a segment's last event must be before
// compaction merges it, when the configuration does not say.
const DefaultCompactAfter = 10 * time.Minute

// CompactOptions choose what Compact merges.
type CompactOptions struct {
	Now time.Time // ages are measured from here; zero is the repository's clock
	// After leaves as they are the segments whose last event is newer than
	// Now-After (DefaultCompactAfter when zero).
	After  time.Duration
	DryRun bool
	// Fault is called at named points ("before-write", "mid-write",
	// "after-write", "mid-delete", "after-delete"); nil in normal use.
	Fault func(point string)
}

// CompactResult says what Compact did (or, in a dry run, would do).
type CompactResult struct {
	// Before and After count the stored segments of the source.
	Before, After int
	// Pieces is how many merged segments were written, Deleted how many
	// stored segments went (the pieces' parts, and any left hidden by an
	// earlier interrupted run).
	Pieces, Deleted int
	// Bytes is how much was rewritten into pieces.
	Bytes int64
}

// deleteBatch is how many segments one write session deletes: one manifest
// blob per batch rather than one per segment.
const deleteBatch = 1000

// Compact merges the old segments of source's binlog archive. It writes each
// piece in one write session and only then deletes the segments it holds, so
// a run killed at any point leaves the archive complete: Load hides segments
// that a piece holds, and the next run deletes them. Segments newer than
// Now-After, which the streamer may still be adding to, are never touched.
func Compact(ctx context.Context, r *repo.Repository, source string, opt CompactOptions) (*CompactResult, error) {
	if opt.After <= 0 {
		opt.After = DefaultCompactAfter
	}

	if opt.Now.IsZero() {
		opt.Now = r.Clock().Now()
	}

	fault := func(point string) {
		if opt.Fault != nil {
			opt.Fault(point)
		}
	}

	if !opt.DryRun {
		locks, err := r.LockCompaction(source, "binlog compaction of "+source)
		if err != nil {
			return nil, err
		}
		defer locks.Release()
	}

	// What other processes (the streamer) stored since this one opened.
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}

	arch, err := Load(ctx, r, source)
	if err != nil {
		return nil, err
	}

	res := &CompactResult{Before: len(arch.Segments) + len(arch.Hidden)}
	pieces := planPieces(arch.Segments, opt.Now, opt.After)

	if opt.DryRun {
		res.Deleted = len(arch.Hidden)

		for _, p := range pieces {
			res.Pieces++
			res.Deleted += len(p)
			res.Bytes += pieceBytes(p)
		}

		res.After = res.Before - res.Deleted + res.Pieces

		return res, nil
	}

	if err := deleteSegments(ctx, r, arch.Hidden); err != nil {
		return res, fmt.Errorf("source %s: delete segments an earlier compaction merged: %w", source, err)
	}

	res.Deleted += len(arch.Hidden)

	for _, parts := range pieces {
		if err := ctx.Err(); err != nil {
			return res, err
		}

		fault("before-write")

		if _, err := writePiece(ctx, r, source, parts, fault); err != nil {
			return res, err
		}

		res.Pieces++
		res.Bytes += pieceBytes(parts)

		fault("after-write")

		// The first goes on its own: a crash between two batches leaves
		// some parts deleted and some not, and the "mid-delete" point
		// stops there so that state is tested.
		if err := deleteSegments(ctx, r, parts[:1]); err != nil {
			return res, fmt.Errorf("source %s: delete merged segments: %w", source, err)
		}

		res.Deleted++

		fault("mid-delete")

		if err := deleteSegments(ctx, r, parts[1:]); err != nil {
			return res, fmt.Errorf("source %s: delete merged segments: %w", source, err)
		}

		res.Deleted += len(parts) - 1

		fault("after-delete")
	}

	res.After = res.Before - res.Deleted + res.Pieces

	return res, nil
}

func deleteSegments(ctx context.Context, r *repo.Repository, segs []*Segment) error {
	for len(segs) > 0 {
		n := min(len(segs), deleteBatch)
		ids := make([]string, n)

		for i, s := range segs[:n] {
			ids[i] = s.ID
		}

		if err := r.DeleteSegments(ctx, ids); err != nil {
			return err
		}

		segs = segs[n:]
	}

	return nil
}

// hasArrivals says whether a segment's stored data ends with an arrival index
// worth reading: the streamer's (its arrival times are when each transaction
// reached it), never an incremental's (its times are when it was archived).
func hasArrivals(s *Segment) bool {
	return s.Labels["a_first"] != "" || s.Labels["arrivals"] == "1"
}

// indexBytes is the length of a segment's arrival index.
func indexBytes(s *Segment) int64 {
	if !hasArrivals(s) {
		return 0
	}

	return s.Bytes - s.BinlogBytes
}

func pieceBytes(parts []*Segment) int64 {
	var n int64
	for _, p := range parts {
		n += p.BinlogBytes + indexBytes(p)
	}

	return n
}

// isPiece tells a piece Compact wrote from a segment as the archiver stored it.
func isPiece(s *Segment) bool { return s.Labels["merged"] != "" }

// isEndMarker is the empty segment the streamer stores to say a file ended
// at its position and which file comes next.
func isEndMarker(s *Segment) bool { return s.Start == s.End && s.Next != "" }

type bucketKey struct {
	day  bool
	file bool // the whole of a closed file
	at   time.Time
}

// planPieces chooses which segments to merge: each returned list becomes one
// piece. Within one chain and one file, contiguous segments whose last event
// is older than now-after share a piece by the UTC hour of their first event;
// once a UTC day ended more than a day ago, its segments share one piece. An
// hour still open (it ends after now-after) gets pieces only from segments
// never merged, so each byte is rewritten once while the hour fills rather
// than at every run; the hour's pieces merge once it is over. A file the
// server rotated away from (its last segment names the next) becomes one
// piece once all its days are merged: a file spanning midnight would
// otherwise stay two pieces, and a year of daily files twice the segments
// every command reads.
func planPieces(segs []*Segment, now time.Time, after time.Duration) [][]*Segment {
	cutoff := now.Add(-after)

	groups := map[[2]string][]*Segment{}

	var keys [][2]string

	for _, s := range segs {
		if s.Start == s.End && s.Next == "" {
			continue // where a chain begins: nothing to merge
		}

		k := [2]string{s.Epoch, s.File}
		if groups[k] == nil {
			keys = append(keys, k)
		}

		groups[k] = append(groups[k], s)
	}

	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}

		return fileSeq(keys[i][1]) < fileSeq(keys[j][1])
	})

	var out [][]*Segment

	for _, k := range keys {
		g := groups[k]
		sort.SliceStable(g, func(i, j int) bool {
			if g[i].Start != g[j].Start {
				return g[i].Start < g[j].Start
			}

			return g[i].End < g[j].End
		})

		closed := g[len(g)-1].Next != ""

		var (
			run    []*Segment
			runKey bucketKey
		)

		flush := func() {
			out = append(out, runPieces(run, runKey, cutoff)...)
			run = nil
		}

		for _, s := range g {
			contiguous := len(run) > 0 && run[len(run)-1].End == s.Start && run[len(run)-1].Next == ""

			if isEndMarker(s) {
				// It folds into the piece that ends where it stands.
				if contiguous {
					run = append(run, s)
				}

				flush()

				continue
			}

			key, ok := bucketOf(s, now, cutoff)
			if ok && key.day && closed {
				key = bucketKey{file: true}
			}

			if !ok || !contiguous || key != runKey {
				flush()
			}

			if ok {
				run, runKey = append(run, s), key
			}
		}

		flush()
	}

	return out
}

// bucketOf is the hour or day a segment old enough to merge belongs to.
func bucketOf(s *Segment, now, cutoff time.Time) (bucketKey, bool) {
	if s.Last.IsZero() || !s.Last.Before(cutoff) {
		return bucketKey{}, false
	}

	t := s.First
	if t.IsZero() {
		t = s.Last
	}

	day := t.UTC().Truncate(24 * time.Hour)
	if !day.Add(48*time.Hour).After(now) && s.Last.Before(now.Add(-24*time.Hour)) {
		return bucketKey{day: true, at: day}, true
	}

	return bucketKey{at: t.UTC().Truncate(time.Hour)}, true
}

// runPieces splits one contiguous run of a bucket into the pieces to write.
func runPieces(run []*Segment, key bucketKey, cutoff time.Time) [][]*Segment {
	if len(run) < 2 {
		return nil
	}

	if key.day || key.file || !key.at.Add(time.Hour).After(cutoff) {
		return [][]*Segment{run}
	}

	// An open hour: merge only what was never merged.
	var (
		out [][]*Segment
		cur []*Segment
	)

	for _, s := range append(run, nil) {
		if s != nil && !isPiece(s) {
			cur = append(cur, s)
			continue
		}

		if len(cur) >= 2 {
			out = append(out, cur)
		}

		cur = nil
	}

	return out
}

// pieceLabels are the labels of the piece holding parts: an ordinary
// segment's, spanning them all.
func pieceLabels(parts []*Segment) map[string]string {
	first, last := parts[0], parts[0]

	var (
		bytes    int64
		events   int
		merged   int
		arrivals bool
		by       []string
		gFirst   string
		gLast    string
		domains  map[uint32]GTIDRange
		legacy   bool
	)

	for _, p := range parts {
		bytes += p.BinlogBytes
		events += p.Events
		arrivals = arrivals || hasArrivals(p)

		if p.Events > 0 {
			last = p
			merged += p.Merged
		}

		if gFirst == "" {
			gFirst = p.GTIDFirst
		}

		if p.GTIDLast != "" {
			gLast = p.GTIDLast
		}

		// A piece stored before per-domain ranges were kept leaves the
		// merged one without them too: Domain then reads its first and
		// last GTID, as it read the piece's.
		legacy = legacy || p.Domains == nil && p.GTIDLast != ""
		domains = mergeDomains(domains, p.Domains)

		for _, b := range strings.Split(p.By, "+") {
			if b != "" && !contains(by, b) {
				by = append(by, b)
			}
		}
	}

	end := parts[len(parts)-1]
	l := map[string]string{
		"kind":         "segment",
		"epoch":        first.Epoch,
		"file":         first.File,
		"start":        strconv.FormatUint(uint64(first.Start), 10),
		"end":          strconv.FormatUint(uint64(end.End), 10),
		"next":         end.Next,
		"t_first":      first.Labels["t_first"],
		"t_last":       last.Labels["t_last"],
		"gtid_first":   gFirst,
		"gtid_last":    gLast,
		"fde":          hex.EncodeToString(first.FDE),
		"binlog_bytes": strconv.FormatInt(bytes, 10),
		"events":       strconv.Itoa(events),
		"by":           strings.Join(by, "+"),
		"merged":       strconv.Itoa(merged),
	}

	if v := first.Labels["a_first"]; v != "" {
		l["a_first"] = v
	}

	if v := last.Labels["a_last"]; v != "" {
		l["a_last"] = v
	}

	// The index holds the streamed parts' arrival times only; the replay
	// falls back to the event's own time, event by event, for the rest.
	if arrivals {
		l["arrivals"] = "1"
	}

	if !legacy && domains != nil {
		l[domainsLabel] = formatDomains(domains)
	}

	return l
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}

	return false
}

// writePiece stores the piece holding parts, streaming their data: each
// part's binlog bytes in order (read through OpenSegment, which checks each
// part's checksum at its end), then the streamed parts' arrival indexes.
func writePiece(ctx context.Context, r *repo.Repository, source string, parts []*Segment, fault func(string)) (*repo.Segment, error) {
	first, last := parts[0], parts[len(parts)-1]

	var sum int64
	for i, p := range parts {
		if i > 0 && (p.Start != parts[i-1].End || p.File != first.File || p.Epoch != first.Epoch) {
			return nil, fmt.Errorf("source %s: segments %s and %s do not follow each other", source, parts[i-1].ID, p.ID)
		}

		sum += p.BinlogBytes
	}

	if sum != int64(last.End)-int64(first.Start) {
		return nil, fmt.Errorf("source %s: the segments of %s:%d-%d hold %d bytes of binlog, not the %d their positions span: nothing was merged", source, first.File, first.Start, last.End, sum, last.End-first.Start)
	}

	pr, pw := io.Pipe()

	go func() {
		pw.CloseWithError(copyPiece(ctx, r, parts, pw, fault))
	}()

	seg, err := r.PutSegment(ctx, source, pieceLabels(parts), pr)
	pr.CloseWithError(errors.New("piece not read to its end"))

	if err != nil {
		return nil, fmt.Errorf("merge binlog %s:%d-%d: %w", first.File, first.Start, last.End, err)
	}

	return seg, nil
}

func copyPiece(ctx context.Context, r *repo.Repository, parts []*Segment, w io.Writer, fault func(string)) error {
	for i, p := range parts {
		if err := copyBinlog(ctx, r, p, w); err != nil {
			return err
		}

		if i == 0 {
			fault("mid-write")
		}
	}

	for _, p := range parts {
		n := indexBytes(p)
		if n <= 0 {
			continue
		}

		rc, err := r.OpenSegmentRange(ctx, p.Segment, p.BinlogBytes, n)
		if err != nil {
			return err
		}

		_, err = io.Copy(w, rc)
		rc.Close()

		if err != nil {
			return fmt.Errorf("read the arrival index of segment %s: %w", p.ID, err)
		}
	}

	return nil
}

// copyBinlog writes a part's binlog bytes and reads the rest of it, so its
// checksum is checked before the piece can be saved.
func copyBinlog(ctx context.Context, r *repo.Repository, p *Segment, w io.Writer) error {
	rc, err := r.OpenSegment(ctx, p.Segment)
	if err != nil {
		return err
	}
	defer rc.Close()

	n, err := io.CopyN(w, rc, p.BinlogBytes)
	if err != nil {
		return fmt.Errorf("read segment %s (%s:%d-%d, %d of %d bytes): %w", p.ID, p.File, p.Start, p.End, n, p.BinlogBytes, err)
	}

	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("read segment %s: %w", p.ID, err)
	}

	return nil
}

// hideContained splits segs into those to read and those another segment
// holds whole (same chain and file, its range within the other's). Of equal
// ranges one stays: the one saying which file comes next, then the one
// merging more, then the lowest ID. An end-of-file marker is hidden only by
// a segment ending where it stands with the same next file. The visible ones
// come back in chain, file and position order.
func hideContained(segs []*Segment) (visible, hidden []*Segment) {
	sorted := append([]*Segment(nil), segs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]

		switch {
		case a.Epoch != b.Epoch:
			return a.Epoch < b.Epoch
		case a.File != b.File:
			if fa, fb := fileSeq(a.File), fileSeq(b.File); fa != fb {
				return fa < fb
			}

			return a.File < b.File
		case a.Start != b.Start:
			return a.Start < b.Start
		case a.End != b.End:
			return a.End > b.End // the wider first: it hides the narrower
		case (a.Next != "") != (b.Next != ""):
			return a.Next != ""
		case a.Merged != b.Merged:
			return a.Merged > b.Merged
		}

		return a.ID < b.ID
	})

	type endNext struct {
		end  uint32
		next string
	}

	var (
		group   [2]string
		maxEnd  uint32
		started bool
		ends    map[endNext]bool
	)

	for _, s := range sorted {
		if g := [2]string{s.Epoch, s.File}; !started || g != group {
			group, started, ends = g, true, map[endNext]bool{}

			visible = append(visible, s)
			maxEnd = s.End
			ends[endNext{s.End, s.Next}] = true

			continue
		}

		// Every segment before s in this group starts at or before it.
		covered := false

		switch {
		case s.Start == s.End && s.Next == "":
			// Where a chain begins: kept.
		case s.Next != "":
			covered = ends[endNext{s.End, s.Next}]
		default:
			covered = maxEnd >= s.End
		}

		if covered {
			hidden = append(hidden, s)
			continue
		}

		visible = append(visible, s)
		maxEnd = max(maxEnd, s.End)
		ends[endNext{s.End, s.Next}] = true
	}

	return visible, hidden
}
