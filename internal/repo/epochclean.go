package repo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
)

// kopia's index blob prefixes: uncompacted (xn<epoch>_), single-epoch
// compactions (xs<epoch>_) and range checkpoints (xr<first>_<last>_).
const (
	prefixUncompacted = "xn"
	prefixSingle      = "xs"
	prefixRange       = "xr"
)

// dropSupersededIndexes deletes the index blobs of epochs a range checkpoint
// holds: kopia (v0.23) never deletes single-epoch compactions, one per epoch,
// so with short epochs every open and every write would list a growing
// number of them (35,000 a year), and it keeps the uncompacted blobs of an
// epoch whose single compaction is gone. This is the rule kopia's own cleanup
// applies to uncompacted blobs, extended to the range (kopia/kopia#4919): a
// reader uses the longest chain of range checkpoints from epoch 0 and never
// reads what it covers, and a range written longer ago than the cleanup
// margin (over three refresh periods) is known to every reader.
func (r *Repository) dropSupersededIndexes(ctx context.Context, w repo.DirectRepositoryWriter) (int, error) {
	mp, err := w.FormatManager().GetMutableParameters(ctx)
	if err != nil {
		return 0, err
	}

	if !mp.EpochParameters.Enabled {
		return 0, nil
	}

	var all []blob.Metadata

	for _, prefix := range []blob.ID{prefixRange, prefixSingle, prefixUncompacted} {
		if err := w.BlobReader().ListBlobs(ctx, prefix, func(m blob.Metadata) error {
			all = append(all, m)
			return nil
		}); err != nil {
			return 0, fmt.Errorf("list index blobs: %w", err)
		}
	}

	drop := supersededIndexes(all, mp.EpochParameters.CleanupSafetyMargin)

	for _, id := range drop {
		if err := w.BlobStorage().DeleteBlob(ctx, id); err != nil {
			return 0, fmt.Errorf("delete superseded index blob %s: %w", id, err)
		}
	}

	return len(drop), nil
}

// supersededIndexes picks, among the index blobs listed, the single-epoch and
// uncompacted ones of the epochs covered by the longest chain from epoch 0 of
// complete range checkpoints written more than margin before the newest blob
// listed (the storage's clock, not this machine's).
func supersededIndexes(blobs []blob.Metadata, margin time.Duration) []blob.ID {
	var newest time.Time

	for _, b := range blobs {
		if b.Timestamp.After(newest) {
			newest = b.Timestamp
		}
	}

	cutoff := newest.Add(-margin)

	// Complete range sets: every shard of the set (-s<set>-c<count>) there.
	type rangeSet struct {
		first, last int
		count       int
		shards      map[blob.ID]time.Time
	}

	sets := map[string]*rangeSet{}

	for _, b := range blobs {
		id := string(b.BlobID)
		if !strings.HasPrefix(id, prefixRange) {
			continue
		}

		parts := strings.Split(strings.TrimPrefix(id, prefixRange), "_")
		first, err1 := strconv.Atoi(parts[0])
		last, err2 := strconv.Atoi(append(parts, "")[1])

		dash := strings.Split(id, "-")
		if err1 != nil || err2 != nil || len(parts) < 3 || len(dash) < 3 || !strings.HasPrefix(dash[1], "s") || !strings.HasPrefix(dash[2], "c") {
			continue // not a name kopia writes: never relied on
		}

		count, err := strconv.Atoi(dash[2][1:])
		if err != nil || count < 1 {
			continue
		}

		key := fmt.Sprintf("%d_%d_%s", first, last, dash[1])
		if sets[key] == nil {
			sets[key] = &rangeSet{first: first, last: last, count: count, shards: map[blob.ID]time.Time{}}
		}

		sets[key].shards[b.BlobID] = b.Timestamp
	}

	// Old enough complete ranges, by first epoch.
	byFirst := map[int][]int{}

	for _, s := range sets {
		if len(s.shards) != s.count || s.last < s.first {
			continue
		}

		old := true

		for _, ts := range s.shards {
			if !ts.Before(cutoff) {
				old = false
			}
		}

		if old {
			byFirst[s.first] = append(byFirst[s.first], s.last)
		}
	}

	covered := longestChain(0, byFirst, map[int]int{})
	if covered < 0 {
		return nil
	}

	var drop []blob.ID

	for _, b := range blobs {
		id := string(b.BlobID)

		var rest string

		switch {
		case strings.HasPrefix(id, prefixSingle):
			rest = strings.TrimPrefix(id, prefixSingle)
		case strings.HasPrefix(id, prefixUncompacted):
			rest = strings.TrimPrefix(id, prefixUncompacted)
		default:
			continue
		}

		num, _, ok := strings.Cut(rest, "_")
		if epoch, err := strconv.Atoi(num); ok && err == nil && epoch <= covered {
			drop = append(drop, b.BlobID)
		}
	}

	return drop
}

// longestChain is the last epoch a chain of ranges from epoch start reaches
// without a hole, or start-1 when no range starts there.
func longestChain(start int, byFirst map[int][]int, memo map[int]int) int {
	if v, ok := memo[start]; ok {
		return v
	}

	best := start - 1

	for _, last := range byFirst[start] {
		if end := longestChain(last+1, byFirst, memo); end > best {
			best = end
		}

		if last > best {
			best = last
		}
	}

	memo[start] = best

	return best
}
