package binlog

import (
	"context"
	"testing"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/records"
)

// The streamer's progress record is throttled by the archiver's clock: once
// a second while the position moves, once every ten seconds while it stands.
func TestStateRecordFollowsTheClock(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fake := clock.NewFake(start)
	a := &Archiver{Server: Server{Source: "db"}, Repo: r, By: "stream", Clock: fake}

	covered := func() time.Time {
		t.Helper()

		st, ok, err := records.State[records.BinlogState](ctx, r, "db", stateKind)
		if err != nil || !ok {
			t.Fatalf("read the state record: ok %v, %v", ok, err)
		}

		return st.Covered
	}

	at := func(s int) time.Time { return start.Add(-time.Hour + time.Duration(s)*time.Second) }

	a.advance(ctx, "e", at(1), Coord{File: "b.1", Pos: 100})
	if got := covered(); !got.Equal(at(1)) {
		t.Fatalf("first record covers %s, want %s", got, at(1))
	}

	a.advance(ctx, "e", at(2), Coord{File: "b.1", Pos: 200})
	if got := covered(); !got.Equal(at(1)) {
		t.Fatalf("within the second the record moved to %s; want it left at %s", got, at(1))
	}

	fake.Advance(time.Second)
	a.advance(ctx, "e", at(3), Coord{File: "b.1", Pos: 300})

	if got := covered(); !got.Equal(at(3)) {
		t.Fatalf("a second later the record covers %s, want %s", got, at(3))
	}

	// Idle: heartbeats move the time, not the position.
	fake.Advance(time.Second)
	a.advance(ctx, "e", at(4), Coord{File: "b.1", Pos: 300})

	if got := covered(); !got.Equal(at(3)) {
		t.Fatalf("an idle second moved the record to %s; want it left at %s", got, at(3))
	}

	fake.Advance(10 * time.Second)
	a.advance(ctx, "e", at(14), Coord{File: "b.1", Pos: 300})

	if got := covered(); !got.Equal(at(14)) {
		t.Fatalf("ten idle seconds later the record covers %s, want %s", got, at(14))
	}
}
