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

	drop := supersededRanges(sets, chainRanges(byFirst, covered), covered, cutoff)

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

// rangeSet is one set of range checkpoint shards (-s<set>-c<count>);
// complete when every shard is there.
type rangeSet struct {
	first, last int
	count       int
	shards      map[blob.ID]time.Time
}

// chainRanges is the [first, last] pairs of the chain longestChain found
// reaching covered: at each step the range whose continuation reaches
// furthest, the longer range on a tie (as kopia's readers choose).
func chainRanges(byFirst map[int][]int, covered int) map[[2]int]bool {
	on := map[[2]int]bool{}
	memo := map[int]int{}

	for start := 0; start <= covered; {
		best := -1

		for _, last := range byFirst[start] {
			if max(longestChain(last+1, byFirst, memo), last) == covered && last > best {
				best = last
			}
		}

		if best < 0 {
			break
		}

		on[[2]int{start, best}] = true
		start = best + 1
	}

	return on
}

// supersededRanges picks the shards of range sets within the chain's reach
// that are not on it (a chain of shorter ranges that one longer range
// replaced, a set a crash left incomplete), once all their shards are older
// than cutoff: a reader that listed them before then has refreshed since.
func supersededRanges(sets map[string]*rangeSet, chain map[[2]int]bool, covered int, cutoff time.Time) []blob.ID {
	var drop []blob.ID

	for _, s := range sets {
		complete := len(s.shards) == s.count
		if (complete && chain[[2]int{s.first, s.last}]) || s.last > covered {
			continue
		}

		old := true

		for _, ts := range s.shards {
			if !ts.Before(cutoff) {
				old = false
			}
		}

		if old {
			for id := range s.shards {
				drop = append(drop, id)
			}
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
