package binlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// storeSegments stores n contiguous segments of one file as the streamer
// does (binlog bytes, then "position milliseconds" lines), a minute apart,
// the last one ending the file; it returns the binlog bytes in order.
func storeSegments(t *testing.T, r *repo.Repository, from time.Time, n int) []byte {
	t.Helper()

	var all bytes.Buffer

	pos := uint32(4)

	for i := 0; i < n; i++ {
		data := bytes.Repeat([]byte{byte('a' + i)}, 300+i)
		at := from.Add(time.Duration(i) * time.Minute)
		index := fmt.Sprintf("%d %d\n%d %d\n", pos, at.UnixMilli(), pos+100, at.UnixMilli()+5)

		labels := map[string]string{
			"kind": "segment", "epoch": "e1", "file": "bin.000001",
			"start": strconv.Itoa(int(pos)), "end": strconv.Itoa(int(pos) + len(data)),
			"t_first": strconv.FormatInt(at.Unix(), 10), "t_last": strconv.FormatInt(at.Unix(), 10),
			"a_first": strconv.FormatInt(at.UnixMilli(), 10), "a_last": strconv.FormatInt(at.UnixMilli()+5, 10),
			"gtid_first": fmt.Sprintf("0-1-%d", 2*i+1), "gtid_last": fmt.Sprintf("0-1-%d", 2*i+2),
			"binlog_bytes": strconv.Itoa(len(data)), "events": "2", "by": "stream",
		}

		if i == n-1 {
			labels["next"] = "bin.000002"
		}

		if _, err := r.PutSegment(context.Background(), "db", labels, io.MultiReader(bytes.NewReader(data), strings.NewReader(index))); err != nil {
			t.Fatal(err)
		}

		all.Write(data)
		pos += uint32(len(data))
	}

	return all.Bytes()
}

func testRepo(t *testing.T) (*repo.Repository, string) {
	t.Helper()

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "repo")
	pw := repo.Password{Value: "compact-test", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(context.Background()) })

	return r, path
}

// TestCompactInRepository merges stored segments: the piece holds the same
// bytes, positions, GTID range, times and arrival index; the fault points
// come in order; a second compaction at the same time is refused; a second
// run does nothing.
func TestCompactInRepository(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	from := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	want := storeSegments(t, r, from, 5)
	now := from.Add(3 * time.Hour)

	var points []string

	res, err := Compact(ctx, r, "db", CompactOptions{Now: now, Fault: func(p string) {
		points = append(points, p)

		if p == "after-write" {
			// Another compaction meanwhile is refused, not run twice.
			if _, err := Compact(ctx, r, "db", CompactOptions{Now: now}); !errors.Is(err, repo.ErrBusy) || !strings.Contains(err.Error(), "binlog compaction of source db") {
				t.Errorf("a second compaction at once: %v", err)
			}

			// Between writing and deleting, readers see the piece only.
			if a, err := Load(ctx, r, "db"); err != nil || len(a.Segments) != 1 || len(a.Hidden) != 5 {
				t.Errorf("between the write and the deletes: %d visible, %d hidden (%v)", len(a.Segments), len(a.Hidden), err)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}

	if got := strings.Join(points, " "); got != "before-write mid-write after-write mid-delete after-delete" {
		t.Errorf("fault points %s", got)
	}

	if *res != (CompactResult{Before: 5, After: 1, Pieces: 1, Deleted: 5, Bytes: res.Bytes}) || res.Bytes <= int64(len(want)) {
		t.Errorf("result %+v", res)
	}

	a, err := Load(ctx, r, "db")
	if err != nil || len(a.Segments) != 1 || len(a.Hidden) != 0 {
		t.Fatalf("after: %+v %v", a, err)
	}

	p := a.Segments[0]
	if p.Start != 4 || p.End != 4+uint32(len(want)) || p.Next != "bin.000002" || p.GTIDFirst != "0-1-1" || p.GTIDLast != "0-1-10" ||
		p.Merged != 5 || p.Events != 10 || !p.First.Equal(from) || !p.Last.Equal(from.Add(4*time.Minute+5*time.Millisecond)) {
		t.Errorf("piece %+v", p)
	}

	rc, err := r.OpenSegment(ctx, p.Segment)
	if err != nil {
		t.Fatal(err)
	}

	data, err := io.ReadAll(rc)
	rc.Close()

	if err != nil || !bytes.Equal(data[:p.BinlogBytes], want) {
		t.Fatalf("the piece's binlog bytes differ (%v)", err)
	}

	// The arrival index: every part's lines, in position order.
	lines := strings.Split(strings.TrimSpace(string(data[p.BinlogBytes:])), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[0], "4 ") {
		t.Errorf("arrival index %q", lines)
	}

	cur := &arrivalCursor{sc: newScanner(data[p.BinlogBytes:])}
	if ms, ok := cur.at(104); !ok || ms != from.UnixMilli()+5 {
		t.Errorf("arrival at 104: %d %v", ms, ok)
	}

	if _, ok := cur.at(200); ok {
		t.Errorf("an arrival for a position without one")
	}

	if ms, ok := cur.at(4 + 300); !ok || ms != from.Add(time.Minute).UnixMilli() {
		t.Errorf("arrival at 304: %d %v", ms, ok)
	}

	if again, err := Compact(ctx, r, "db", CompactOptions{Now: now}); err != nil || again.Pieces+again.Deleted != 0 || again.Before != 1 {
		t.Errorf("a second run: %+v %v", again, err)
	}
}

// TestCompactReadFailureDeletesNothing: damaged stored data stops the
// compaction before anything is deleted.
func TestCompactReadFailureDeletesNothing(t *testing.T) {
	ctx := context.Background()
	r, path := testRepo(t)
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	from := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	storeSegments(t, r, from, 4)
	testenv.CorruptPacks(t, path)

	if _, err := Compact(ctx, r, "db", CompactOptions{Now: from.Add(3 * time.Hour)}); err == nil {
		t.Fatal("compaction of damaged segments succeeded")
	}

	a, err := Load(ctx, r, "db")
	if err != nil || len(a.Segments) != 4 || len(a.Hidden) != 0 {
		t.Fatalf("after the failure: %d segments, %d hidden, %v", len(a.Segments), len(a.Hidden), err)
	}
}

func newScanner(b []byte) *bufio.Scanner { return bufio.NewScanner(bytes.NewReader(b)) }
