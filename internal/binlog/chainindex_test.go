package binlog

import (
	"fmt"
	"math/rand"
	"testing"

	"lifeboat/internal/repo"
)

// TestChainIndexMatchesScan: on archives with overlapping, duplicated and
// rotating segments in two chains, the index finds exactly the segment the
// scan of the whole archive finds, for every position.
func TestChainIndexMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewSource(7))

	for round := 0; round < 50; round++ {
		a := &Archive{}

		for i := 0; i < 200; i++ {
			start := uint32(4 + rng.Intn(400))
			s := &Segment{
				Segment: &repo.Segment{ID: fmt.Sprint(i)},
				Epoch:   []string{"e1", "e2"}[rng.Intn(2)],
				File:    fmt.Sprintf("mysql-bin.%06d", 1+rng.Intn(3)),
				Start:   start,
				End:     start + uint32(rng.Intn(60)),
			}

			if rng.Intn(10) == 0 {
				s.Next = "mysql-bin.000009"
			}

			a.Segments = append(a.Segments, s)
		}

		idx := a.index()

		for _, epoch := range []string{"e1", "e2", "e3"} {
			for f := 1; f <= 4; f++ {
				for pos := uint32(0); pos < 480; pos++ {
					c := Coord{Epoch: epoch, File: fmt.Sprintf("mysql-bin.%06d", f), Pos: pos}

					if got, want := idx.containing(c), a.containing(c); got != want {
						t.Fatalf("round %d: containing(%v) = %v, the scan finds %v", round, c, got, want)
					}

					if got, want := idx.closes(c), a.closes(c); got != want {
						t.Fatalf("round %d: closes(%v) = %v, the scan finds %v", round, c, got, want)
					}
				}
			}
		}
	}
}

// TestStats: a merged piece counts the segments it holds; gaps are not
// segments.
func TestStats(t *testing.T) {
	a := &Archive{Segments: []*Segment{
		{Segment: &repo.Segment{Labels: map[string]string{"merged": "120"}}, BinlogBytes: 1000},
		{Segment: &repo.Segment{Labels: map[string]string{}}, BinlogBytes: 20},
		{Segment: &repo.Segment{Labels: map[string]string{"merged": "junk"}}, BinlogBytes: 3},
	}}

	if got := a.Stats(); got != (Stats{Bytes: 1023, Segments: 122, Stored: 3}) {
		t.Fatalf("stats: %+v", got)
	}
}
