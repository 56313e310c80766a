package api

import (
	"testing"
	"time"

	"lifeboat/internal/binlog"
)

// TestRangesFollowEpochs: the binlog's restorable ranges are the spans of
// its unbroken chains, oldest first, whatever order the segments come in.
func TestRangesFollowEpochs(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

	got := ranges([]*binlog.Segment{
		{Epoch: "b", First: at(60), Last: at(70)},
		{Epoch: "a", First: at(10), Last: at(20)},
		{Epoch: "a", First: at(0), Last: at(9)},
		{Epoch: "b", First: at(71), Last: at(90)},
		// A new chain's opening marker has no time.
		{Epoch: "b"},
	})

	want := []Range{{Epoch: "a", From: at(0), To: at(20)}, {Epoch: "b", From: at(60), To: at(90)}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ranges %+v, want %+v", got, want)
	}

	if got := ranges(nil); got == nil || len(got) != 0 {
		t.Fatalf("no segments: %#v, want an empty list", got)
	}
}
