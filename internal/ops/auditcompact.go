package ops

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"

	"lifeboat/internal/audit"
	"lifeboat/internal/repo"
)

// TrailFanout is how many pieces of one level the repository's copy of the
// audit trail holds before they are merged into one piece of the next level.
// Every command that writes the repository adds an increment (level 0), so
// without merging a daemon's year of jobs would add tens of thousands of
// pieces, each a manifest every command loads. With merging the copy holds
// fewer than TrailFanout pieces per level, about 40 after a million
// increments, and each record is rewritten once per level.
const TrailFanout = 8

// trailPiece is one stored piece with the range of records it holds.
type trailPiece struct {
	seg         *repo.Segment
	first, last int64
	level       int
}

func pieceOf(s *repo.Segment) (trailPiece, bool) {
	p := trailPiece{seg: s}

	var err error
	if p.first, err = strconv.ParseInt(s.Labels["first"], 10, 64); err != nil {
		return p, false // a whole copy stored by an older version: left as it is
	}

	if p.last, err = strconv.ParseInt(s.Labels["last"], 10, 64); err != nil || p.last < p.first {
		return p, false
	}

	p.level, _ = strconv.Atoi(s.Labels["level"])

	return p, true
}

// compactTrail keeps the repository's copy of the trail to a few pieces:
// first it deletes the pieces a merged piece already holds (left by a merge
// that was stopped before its deletes), then, while TrailFanout pieces of one
// level follow each other, it writes them as one piece of the next level and
// deletes them. The merged piece holds their bytes unchanged and is durable
// before anything is deleted, so a kill at any point leaves every record
// stored at least once; readers join overlapping pieces (audit.Join).
func compactTrail(ctx context.Context, r *repo.Repository, segs []*repo.Segment) error {
	pieces := make([]trailPiece, 0, len(segs))

	for _, s := range segs {
		if p, ok := pieceOf(s); ok {
			pieces = append(pieces, p)
		}
	}

	pieces, err := dropCovered(ctx, r, pieces)
	if err != nil {
		return err
	}

	for {
		group := mergeable(pieces)
		if group == nil {
			return nil
		}

		merged, err := writeMerged(ctx, r, group)
		if err != nil {
			return err
		}

		if pieces, err = dropCovered(ctx, r, append(pieces, merged)); err != nil {
			return err
		}
	}
}

// mergeable finds TrailFanout pieces of the lowest level that follow each
// other record for record, or nil.
func mergeable(pieces []trailPiece) []trailPiece {
	byLevel := map[int][]trailPiece{}
	for _, p := range pieces {
		byLevel[p.level] = append(byLevel[p.level], p)
	}

	levels := make([]int, 0, len(byLevel))
	for l := range byLevel {
		levels = append(levels, l)
	}

	sort.Ints(levels)

	for _, l := range levels {
		ps := byLevel[l]
		sort.Slice(ps, func(i, j int) bool { return ps[i].first < ps[j].first })

		for i := 0; i+TrailFanout <= len(ps); i++ {
			run := ps[i : i+TrailFanout]
			if contiguous(run) {
				return run
			}
		}
	}

	return nil
}

func contiguous(run []trailPiece) bool {
	for i := 1; i < len(run); i++ {
		if run[i].first != run[i-1].last+1 {
			return false
		}
	}

	return true
}

// MergeTrail stores the pieces segs (level 0, following each other record
// for record) as one piece of level 1 and deletes nothing: the first half of
// a merge, as a merge stopped before its deletes leaves the trail.
func MergeTrail(ctx context.Context, r *repo.Repository, segs []*repo.Segment) (*repo.Segment, error) {
	group := make([]trailPiece, 0, len(segs))

	for _, s := range segs {
		p, ok := pieceOf(s)
		if !ok || p.level != 0 {
			return nil, fmt.Errorf("piece %s is not an increment: %v", short(s.ID), s.Labels)
		}

		group = append(group, p)
	}

	merged, err := writeMerged(ctx, r, group)

	return merged.seg, err
}

// writeMerged stores the group's records, read back and checked to chain
// without a gap, as one piece of the next level.
func writeMerged(ctx context.Context, r *repo.Repository, group []trailPiece) (trailPiece, error) {
	var (
		buf  bytes.Buffer
		prev *audit.Record
	)

	for _, p := range group {
		b, err := readPieceBytes(ctx, r, p.seg)
		if err != nil {
			return trailPiece{}, fmt.Errorf("merge the audit log's pieces: piece %s: %w", short(p.seg.ID), err)
		}

		recs, err := audit.Parse(bytes.NewReader(b))
		if err != nil || len(recs) == 0 || recs[0].Seq != p.first || recs[len(recs)-1].Seq != p.last {
			return trailPiece{}, fmt.Errorf("merge the audit log's pieces: piece %s does not hold records %d to %d (%v)", short(p.seg.ID), p.first, p.last, err)
		}

		for i := range recs {
			if prev != nil && (recs[i].Seq != prev.Seq+1 || recs[i].Prev != prev.Hash) {
				return trailPiece{}, fmt.Errorf("merge the audit log's pieces: record %d does not follow record %d", recs[i].Seq, prev.Seq)
			}

			prev = &recs[i]
		}

		buf.Write(b)
	}

	level := group[0].level + 1
	labels := map[string]string{
		"kind": "audit", "first": strconv.FormatInt(group[0].first, 10), "last": strconv.FormatInt(prev.Seq, 10),
		"last_hash": prev.Hash, "level": strconv.Itoa(level),
	}

	seg, err := r.PutSegment(ctx, AuditSource, labels, &buf)
	if err != nil {
		return trailPiece{}, fmt.Errorf("merge the audit log's pieces: %w", err)
	}

	return trailPiece{seg: seg, first: group[0].first, last: prev.Seq, level: level}, nil
}

func readPieceBytes(ctx context.Context, r *repo.Repository, s *repo.Segment) ([]byte, error) {
	rc, err := r.OpenSegment(ctx, s)
	if err != nil {
		return nil, err
	}
	defer rc.Close()

	return io.ReadAll(rc)
}

// dropCovered deletes every piece whose records a piece of a higher level
// holds, and returns the others.
func dropCovered(ctx context.Context, r *repo.Repository, pieces []trailPiece) ([]trailPiece, error) {
	var (
		keep []trailPiece
		drop []string
	)

	for _, p := range pieces {
		covered := false

		for _, q := range pieces {
			if q.level > p.level && q.first <= p.first && p.last <= q.last {
				covered = true
				break
			}
		}

		if covered {
			drop = append(drop, p.seg.ID)
		} else {
			keep = append(keep, p)
		}
	}

	if err := r.DeleteSegments(ctx, drop); err != nil {
		return nil, fmt.Errorf("delete the merged pieces of the audit log: %w", err)
	}

	return keep, nil
}
