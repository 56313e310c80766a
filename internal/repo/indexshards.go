package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/kopia/kopia/repo"
)

// Empty index shard folders. On a filesystem, kopia keeps each blob in a
// folder named by the three characters after its prefix (x/n19/ holds the
// uncompacted index blobs of epochs 19 and 190 to 199) and never removes a
// folder it emptied. Every refresh of the index lists the single-epoch
// compactions (xs), which reads every x/s?? folder: after some hundred
// epochs (a few days of 15-minute epochs, or a year of the scale benchmark's)
// about 200 empty folders, a few milliseconds on every open and after every
// write, which a command at a year of archive pays three times.
//
// dropEmptyIndexShards removes the empty uncompacted and single-epoch
// folders no writer can add to now: kopia writes uncompacted blobs only into
// the current epoch or the next, and single-epoch compactions only for the
// epochs after the last range checkpoint, so every folder of those epochs
// (and a margin) stays. A folder a blob is written to later is made again
// by kopia. It runs at maintenance; a folder that is not empty is never
// removed (the operating system refuses).
func (r *Repository) dropEmptyIndexShards(ctx context.Context, w repo.DirectRepositoryWriter) (int, error) {
	if r.where.S3 != nil || r.where.Path == "" || !defaultSharding(r.where.Path) {
		return 0, nil
	}

	em, ok, err := w.ContentManager().EpochManager(ctx)
	if err != nil || !ok {
		return 0, err
	}

	cs, err := em.Current(ctx)
	if err != nil {
		return 0, fmt.Errorf("index epochs: %w", err)
	}

	first := cs.WriteEpoch - 3
	if chain := cs.LongestRangeCheckpointSets; len(chain) > 0 {
		first = min(first, chain[len(chain)-1].MaxEpoch)
	}

	keep := map[string]bool{}

	for e := max(first, 0); e <= cs.WriteEpoch+3; e++ {
		for _, p := range []string{prefixUncompacted, prefixSingle} {
			keep[indexShard(p, e)] = true
		}
	}

	dir := filepath.Join(r.where.Path, "x")

	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}

		return 0, fmt.Errorf("list index folders: %w", err)
	}

	n := 0

	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || len(name) != 3 || (name[0] != prefixUncompacted[1] && name[0] != prefixSingle[1]) || keep[name] {
			continue
		}

		if err := os.Remove(filepath.Join(dir, name)); err == nil {
			n++
		}
	}

	return n, nil
}

// indexShard is the folder an index blob of the prefix ("xn", "xs") and
// epoch lands in under kopia's default sharding: the three characters after
// the "x".
func indexShard(prefix string, epoch int) string {
	return (prefix[1:] + strconv.Itoa(epoch) + "_")[:3]
}

// defaultSharding is whether the repository keeps kopia's default layout
// (one folder of the first character, then one of the next three), the one
// indexShard names folders for.
func defaultSharding(path string) bool {
	b, err := os.ReadFile(filepath.Join(path, ".shards"))
	if err != nil {
		return false
	}

	var p struct {
		Default   []int             `json:"default"`
		Overrides []json.RawMessage `json:"overrides"`
	}

	return json.Unmarshal(b, &p) == nil && slices.Equal(p.Default, []int{1, 3}) && len(p.Overrides) == 0
}
