package repo

import (
	"bytes"
	"context"
	"testing"
)

// TestRevisionFollowsWrites: reads leave the revision alone; a write of
// this process moves it, and so does a refresh that finds another
// process's write (and only then).
func TestRevisionFollowsWrites(t *testing.T) {
	ctx := context.Background()
	r, path := newRepo(t)

	rev := func(what string) int64 {
		t.Helper()

		n, ok := r.Revision()
		if !ok {
			t.Fatalf("%s: the revision of a repository opened by Open cannot be told", what)
		}

		return n
	}

	start := rev("fresh")

	if _, err := r.Segments(ctx, "db"); err != nil {
		t.Fatal(err)
	}

	if _, err := r.Snapshots(ctx, ""); err != nil {
		t.Fatal(err)
	}

	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	if got := rev("after reads and a refresh with nothing new"); got != start {
		t.Fatalf("reads moved the revision from %d to %d", start, got)
	}

	if _, err := r.PutSegment(ctx, "db", map[string]string{"n": "1"}, bytes.NewReader([]byte("one"))); err != nil {
		t.Fatal(err)
	}

	mine := rev("after this process's write")
	if mine == start {
		t.Fatalf("a segment written by this process left the revision at %d", start)
	}

	// Another process (another open of the same repository) writes: seen
	// at the next refresh, which moves the revision.
	other, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)

	if _, err := other.PutSegment(ctx, "db", map[string]string{"n": "2"}, bytes.NewReader([]byte("two"))); err != nil {
		t.Fatal(err)
	}

	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	if got := rev("after a refresh that found another process's write"); got == mine {
		t.Fatalf("another process's segment, once refreshed, left the revision at %d", mine)
	}

	if segs, err := r.Segments(ctx, "db"); err != nil || len(segs) != 2 {
		t.Fatalf("after the refresh: %d segments (%v), want both", len(segs), err)
	}
}
