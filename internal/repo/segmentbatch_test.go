package repo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"
)

// TestPutSegmentsListsLikePutSegment stores a batch in one session next to a
// segment stored alone: all are listed in stored order with their labels,
// times and checksums, and read back byte for byte.
func TestPutSegmentsListsLikePutSegment(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t)

	alone, err := r.PutSegment(ctx, "db", map[string]string{"n": "alone"}, bytes.NewReader([]byte("alone")))
	if err != nil {
		t.Fatal(err)
	}

	base := alone.Stored.Add(-time.Hour)

	var puts []SegmentPut
	for i := 0; i < 3; i++ {
		puts = append(puts, SegmentPut{
			Labels: map[string]string{"n": fmt.Sprint(i)},
			Data:   bytes.Repeat([]byte{byte('a' + i)}, 1000+i),
			Stored: base.Add(time.Duration(i) * time.Minute),
		})
	}

	stored, err := r.PutSegments(ctx, "db", puts)
	if err != nil {
		t.Fatal(err)
	}

	if len(stored) != 3 {
		t.Fatalf("stored %d segments, want 3", len(stored))
	}

	got, err := r.Segments(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}

	// Like PutSegment's, each carries its stored time as a label, so a
	// listing never decodes a segment's manifest.
	ms, err := r.rep.FindManifests(ctx, map[string]string{"type": "snapshot", labelSegment: "1", labelSource: "db"})
	if err != nil {
		t.Fatal(err)
	}

	for _, m := range ms {
		if _, err := time.Parse(time.RFC3339Nano, m.Labels[labelStored]); err != nil {
			t.Fatalf("segment %s has no stored-time label (%q): %v", m.ID, m.Labels[labelStored], err)
		}
	}

	want := []string{"0", "1", "2", "alone"}
	if len(got) != len(want) {
		t.Fatalf("listed %d segments, want %d", len(got), len(want))
	}

	for i, s := range got {
		if s.Labels["n"] != want[i] {
			t.Fatalf("segment %d is %q, want %q (listed in stored order)", i, s.Labels["n"], want[i])
		}

		if i == 3 {
			continue
		}

		if !s.Stored.Equal(puts[i].Stored.UTC().Truncate(time.Nanosecond)) || s.ID != stored[i].ID || s.SHA256 != stored[i].SHA256 || s.Bytes != int64(len(puts[i].Data)) {
			t.Fatalf("segment %d listed as %+v, stored as %+v", i, s, stored[i])
		}

		rc, err := r.OpenSegment(ctx, s)
		if err != nil {
			t.Fatal(err)
		}

		data, err := io.ReadAll(rc)
		rc.Close()

		if err != nil || !bytes.Equal(data, puts[i].Data) {
			t.Fatalf("segment %d read back %d bytes (%v), want its %d bytes", i, len(data), err, len(puts[i].Data))
		}
	}
}
