package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/content"
	"github.com/kopia/kopia/repo/content/indexblob"
)

// ager dates the repository's files as if its writes had been spread over
// time: kopia ends an index epoch only when the timestamps of its blobs
// (the storage's, here file times) span the minimum epoch duration, so a
// test that writes a year in seconds must give them the time they stand for.
type ager struct {
	t    *testing.T
	root string
	at   time.Time
	seen map[string]bool
}

// step dates every file written since the last step at a.at, then moves
// a.at on by d.
func (a *ager) step(d time.Duration) {
	a.t.Helper()

	err := filepath.WalkDir(a.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || a.seen[p] {
			return err
		}

		a.seen[p] = true

		return os.Chtimes(p, a.at, a.at)
	})
	if err != nil {
		a.t.Fatal(err)
	}

	a.at = a.at.Add(d)
}

// activeIndex counts the entries of every index blob a reader loads, the
// deleted ones among them, and names the ranges.
func activeIndex(t *testing.T, r *Repository) (entries, deleted, deletedInRanges int, ranges []string) {
	t.Helper()

	ctx := context.Background()
	cr := r.rep.(repo.DirectRepository).ContentReader()

	blobs, err := cr.(interface {
		IndexBlobs(ctx context.Context, includeInactive bool) ([]indexblob.Metadata, error)
	}).IndexBlobs(ctx, false)
	if err != nil {
		t.Fatal(err)
	}

	for _, b := range blobs {
		if id := string(b.BlobID); strings.HasPrefix(id, prefixRange) {
			parts := strings.SplitN(id, "_", 3)
			ranges = append(ranges, parts[0]+"_"+parts[1])
		}

		infos, err := loadIndexBlob(ctx, cr, b.BlobID)
		if err != nil {
			t.Fatal(err)
		}

		for _, i := range infos {
			entries++

			if i.Deleted {
				deleted++

				if strings.HasPrefix(string(b.BlobID), prefixRange) {
					deletedInRanges++
				}
			}
		}
	}

	return entries, deleted, deletedInRanges, ranges
}

type keptSegment struct {
	seg  *Segment
	data []byte
}

// writeRounds writes rounds of 20 segments, deleting all but the first of
// each, as binlog compaction does; each round spans 12 minutes of storage
// time, so every round ends an index epoch under quick maintenance. With
// full, every fourth round also runs full maintenance.
func writeRounds(t *testing.T, r *Repository, age *ager, rounds int, full bool) []keptSegment {
	t.Helper()

	ctx := context.Background()

	var keep []keptSegment

	for round := 0; round < rounds; round++ {
		var drop []string

		for i := 0; i < 20; i++ {
			data := make([]byte, 700)
			rand.Read(data)

			seg, err := r.PutSegment(ctx, "db", map[string]string{"n": fmt.Sprintf("%d.%d", round, i)}, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}

			if i == 0 {
				keep = append(keep, keptSegment{seg, data})
			} else {
				drop = append(drop, seg.ID)
			}
		}

		for _, id := range drop {
			if err := r.DeleteSegment(ctx, id); err != nil {
				t.Fatal(err)
			}
		}

		age.step(6 * time.Minute)
		refreshEpochs(t, r)

		if err := r.QuickMaintain(ctx); err != nil {
			t.Fatal(err)
		}

		if full && round%4 == 3 {
			if err := r.Maintain(ctx, true); err != nil {
				t.Fatal(err)
			}
		}

		age.step(6 * time.Minute)
		refreshEpochs(t, r)
	}

	return keep
}

// contentView is every content a reader of the repository at path sees,
// deleted ones included, with where it is.
func contentView(t *testing.T, path string) map[content.ID]string {
	t.Helper()

	ctx := context.Background()

	r, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	view := map[content.ID]string{}

	err = r.rep.(repo.DirectRepository).ContentReader().IterateContents(ctx, content.IterateOptions{IncludeDeleted: true}, func(i content.Info) error {
		view[i.ContentID] = fmt.Sprintf("deleted=%v pack=%s at=%d", i.Deleted, i.PackBlobID, i.TimestampSeconds)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	return view
}

// TestIndexDropsTheMarkersOfDeletedContents writes 800 segments over 40
// rounds of simulated time and deletes all but one of each round, with
// quick maintenance every round and full maintenance every fourth: the
// index a reader loads ends up holding one range for the settled epochs and
// only the entries still live or recent, not one marker per deleted
// segment, and every kept segment reads back byte for byte. Then, after more
// rounds without full maintenance, one rewrite on its own drops markers and
// changes nothing a reader sees: every content, deleted or not, where it was.
func TestIndexDropsTheMarkersOfDeletedContents(t *testing.T) {
	ctx := context.Background()
	r, path := newRepo(t)
	age := &ager{t: t, root: path, at: time.Now().Add(-72 * time.Hour), seen: map[string]bool{}}

	keep := writeRounds(t, r, age, 40, true)

	next, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close(ctx)

	entries, deleted, inRanges, ranges := activeIndex(t, next)
	t.Logf("800 segments written, %d kept; the index a reader loads: %d entries, %d deleted (%d in ranges), ranges %v", len(keep), entries, deleted, inRanges, ranges)

	// Without the rewrite: 2,790 entries, 2,397 of them deleted, in two
	// ranges (xr0_8, xr9_16) and the epochs after.
	if len(ranges) != 1 || !strings.HasPrefix(ranges[0], "xr0_") {
		t.Fatalf("the index a reader loads has ranges %v, want one from epoch 0", ranges)
	}

	if inRanges != 0 || entries > 600 {
		t.Fatalf("the index a reader loads holds %d entries, %d of them markers of contents deleted before the range ended", entries, inRanges)
	}

	segs, err := next.Segments(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}

	if len(segs) != len(keep) {
		t.Fatalf("%d segments listed, want the %d kept", len(segs), len(keep))
	}

	for i, k := range keep {
		rd, err := next.OpenSegment(ctx, segs[i])
		if err != nil {
			t.Fatal(err)
		}

		got, err := io.ReadAll(rd)
		rd.Close()

		if err != nil || !bytes.Equal(got, k.data) || segs[i].ID != k.seg.ID {
			t.Fatalf("kept segment %d (%s) read back %d bytes, err %v", i, k.seg.ID, len(got), err)
		}
	}

	writeRounds(t, next, age, 6, false)

	before := contentView(t, path)

	var dropped int

	err = repo.DirectWriteSession(ctx, next.rep.(repo.DirectRepository), repo.WriteSessionOptions{Purpose: "test"}, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		dropped, err = next.rewriteRangeWithoutTombstones(ctx, w)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	after := contentView(t, path)

	if dropped == 0 {
		t.Fatal("the rewrite after six more rounds dropped no marker")
	}

	if len(before) != len(after) {
		t.Fatalf("a reader saw %d contents before the rewrite and %d after", len(before), len(after))
	}

	for id, was := range before {
		if after[id] != was {
			t.Fatalf("content %s: %s before the rewrite, %q after", id, was, after[id])
		}
	}

	t.Logf("the rewrite dropped %d markers; a reader sees the same %d contents", dropped, len(after))
}

func refreshEpochs(t *testing.T, r *Repository) {
	t.Helper()

	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}
