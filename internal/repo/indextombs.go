package repo

import (
	"context"
	"crypto/rand"
	"fmt"
	"reflect"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/content"
	"github.com/kopia/kopia/repo/content/index"
	"github.com/kopia/kopia/repo/content/indexblob"
)

// Index tombstones. kopia marks a deleted content with an index entry and
// never removes that entry: its epoch compactions (single and range) merge
// index blobs but keep every deletion marker, and readers only skip the
// markers older than the deletion watermark after loading them. Binlog
// compaction deletes every fine segment it merges, so the index every
// command loads grew by the markers of every segment ever written: about
// 150 bytes a segment, 150 MB and a quarter of a second more per command at
// a year of 30-second segments, for a few hundred live contents.
//
// rewriteRangeWithoutTombstones writes one range checkpoint over every
// settled epoch (what the longest chain of ranges covers, and the settled
// epochs after it) that leaves out the markers readers skip anyway: deleted
// before the watermark, and with no entry for the same content in a later
// epoch (so no older entry there can come back into view). A reader that
// loads the new range sees exactly what it saw through the blobs it
// replaces; kopia prefers it (it reaches as far or further, in fewer
// ranges), and dropSupersededIndexes deletes those once every reader has
// moved on.
// It runs at full maintenance, which holds kopia's maintenance lock, so no
// other process writes a range meanwhile. A crash leaves an incomplete set,
// which no reader uses.
func (r *Repository) rewriteRangeWithoutTombstones(ctx context.Context, w repo.DirectRepositoryWriter) (dropped int, err error) {
	em, ok, err := w.ContentManager().EpochManager(ctx)
	if err != nil || !ok {
		return 0, err
	}

	if err := em.Refresh(ctx); err != nil {
		return 0, fmt.Errorf("refresh index epochs: %w", err)
	}

	cs, err := em.Current(ctx)
	if err != nil {
		return 0, fmt.Errorf("index epochs: %w", err)
	}

	// No writer adds to an epoch two behind the one written now (kopia's
	// rule for the epochs it compacts).
	settled := cs.WriteEpoch - 2

	chain := cs.LongestRangeCheckpointSets
	if len(chain) > 0 {
		settled = max(settled, chain[len(chain)-1].MaxEpoch)
	}

	// One range already reaching every settled epoch is what this leaves
	// behind: writing it again would give a second set for the same epochs,
	// and readers would pick either.
	if settled < 0 || (len(chain) == 1 && chain[0].MaxEpoch == settled) {
		return 0, nil
	}

	input, watermark, err := em.GetCompleteIndexSet(ctx, settled)
	if err != nil {
		return 0, fmt.Errorf("index blobs up to epoch %d: %w", settled, err)
	}

	inInput := map[blob.ID]bool{}
	merged := index.Builder{}

	for _, b := range input {
		inInput[b.BlobID] = true

		if err := r.addIndexBlob(ctx, w, b.BlobID, merged.Add); err != nil {
			return 0, err
		}
	}

	later, err := r.laterContentIDs(ctx, w, inInput)
	if err != nil {
		return 0, err
	}

	for id, info := range merged {
		if info.Deleted && !info.Timestamp().After(watermark) && !later[id] {
			delete(merged, id)
			dropped++
		}
	}

	if err := r.writeRange(ctx, w, merged, 0, settled); err != nil {
		return 0, err
	}

	return dropped, nil
}

// laterContentIDs is every content ID with an entry in an active index blob
// not among those being merged (the epochs after them).
func (r *Repository) laterContentIDs(ctx context.Context, w repo.DirectRepositoryWriter, merging map[blob.ID]bool) (map[content.ID]bool, error) {
	active, err := w.ContentManager().IndexBlobs(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("list index blobs: %w", err)
	}

	ids := map[content.ID]bool{}

	for _, b := range active {
		if merging[b.BlobID] {
			continue
		}

		if err := r.addIndexBlob(ctx, w, b.BlobID, func(i index.Info) { ids[i.ContentID] = true }); err != nil {
			return nil, err
		}
	}

	return ids, nil
}

func (r *Repository) addIndexBlob(ctx context.Context, w repo.DirectRepositoryWriter, id blob.ID, add func(index.Info)) error {
	infos, err := loadIndexBlob(ctx, w.ContentManager(), id)
	if err != nil {
		return fmt.Errorf("read index blob %s: %w", id, err)
	}

	for _, i := range infos {
		add(i)
	}

	return nil
}

// loadIndexBlob reads one index blob's entries. kopia's LoadIndexBlob takes
// a buffer whose type lives in an internal package and cannot be named
// here, so reflection makes one.
func loadIndexBlob(ctx context.Context, cm any, id blob.ID) ([]content.Info, error) {
	fn := reflect.ValueOf(cm).MethodByName("LoadIndexBlob")
	if !fn.IsValid() {
		return nil, fmt.Errorf("this kopia version cannot read index blobs one by one (%T)", cm)
	}
	buf := reflect.New(fn.Type().In(2).Elem())

	if closeBuf := buf.MethodByName("Close"); closeBuf.IsValid() {
		defer closeBuf.Call(nil)
	}

	out := fn.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(id), buf})
	if err, _ := out[1].Interface().(error); err != nil {
		return nil, err
	}

	infos, _ := out[0].Interface().([]content.Info)

	return infos, nil
}

// writeRange writes entries as a complete range checkpoint set for epochs
// first to last, named as kopia names its own (xr<first>_<last>_<hash>-s<set>-c<shards>).
func (r *Repository) writeRange(ctx context.Context, w repo.DirectRepositoryWriter, entries index.Builder, first, last int) error {
	mp, err := w.FormatManager().GetMutableParameters(ctx)
	if err != nil {
		return fmt.Errorf("repository parameters: %w", err)
	}

	shards, cleanup, err := entries.BuildShards(mp.IndexVersion, true, indexblob.DefaultIndexShardSize)
	if err != nil {
		return fmt.Errorf("build index: %w", err)
	}
	defer cleanup()

	var set [8]byte
	if _, err := rand.Read(set[:]); err != nil {
		return fmt.Errorf("index set id: %w", err)
	}

	enc := indexblob.NewEncryptionManager(w.BlobStorage(), w.ContentManager().ContentFormat(), nil, nil)
	prefix := blob.ID(fmt.Sprintf("%s%d_%d_", prefixRange, first, last))
	suffix := blob.ID(fmt.Sprintf("s%x-c%d", set, len(shards)))

	for _, s := range shards {
		if _, err := enc.EncryptAndWriteBlob(ctx, s, prefix, suffix); err != nil {
			return fmt.Errorf("write index range: %w", err)
		}
	}

	return nil
}
