package binlog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// TestReplayAcrossCompaction replays a real binlog file archived in
// segments, from inside the first one: the same bytes come out when the
// replay seeks to its start, when the segments are merged into a piece, and
// when a plan made before the merge is replayed after it (its segments gone).
func TestReplayAcrossCompaction(t *testing.T) {
	ctx := context.Background()
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	srv := testenv.StartMariaDB(t)
	srv.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20))")

	for i := 0; i < 30; i++ {
		srv.Exec(t, fmt.Sprintf("INSERT INTO shop.t VALUES (%d, 'row %d')", i, i))
	}

	srv.Exec(t, "FLUSH BINARY LOGS")

	disk, err := os.ReadFile(filepath.Join(srv.BinlogDir(), "mysql-bin.000001"))
	if err != nil {
		t.Fatal(err)
	}

	// Cut the file into segments at every eighth transaction.
	er := newEventReader(bytes.NewReader(disk[4:]))

	var (
		fde   []byte
		cuts  = []uint32{4}
		gtids []uint32
	)

	for {
		e, err := er.next()
		if err != nil {
			break
		}

		if e.typ == evFormat {
			fde = e.raw
		}

		if e.typ == evMariaGTID {
			gtids = append(gtids, e.start())
			if len(gtids)%8 == 0 {
				cuts = append(cuts, e.start())
			}
		}
	}

	cuts = append(cuts, uint32(len(disk)))
	r, _ := testRepo(t)
	old := time.Now().Add(-72 * time.Hour)

	for i := 0; i+1 < len(cuts); i++ {
		labels := map[string]string{
			"kind": "segment", "epoch": "e1", "file": "mysql-bin.000001",
			"start": strconv.Itoa(int(cuts[i])), "end": strconv.Itoa(int(cuts[i+1])),
			"t_first": strconv.FormatInt(old.Unix(), 10), "t_last": strconv.FormatInt(old.Unix(), 10),
			"fde": fmt.Sprintf("%x", fde), "binlog_bytes": strconv.Itoa(int(cuts[i+1] - cuts[i])), "events": "1", "by": "incremental",
		}

		if i+2 == len(cuts) {
			labels["next"] = "mysql-bin.000002"
		}

		if _, err := r.PutSegment(ctx, "db", labels, bytes.NewReader(disk[cuts[i]:cuts[i+1]])); err != nil {
			t.Fatal(err)
		}
	}

	from := Coord{Epoch: "e1", File: "mysql-bin.000001", Pos: gtids[4]}
	replayPlan := func(t *testing.T, a *Archive, p *Plan, what string) string {
		t.Helper()

		var out bytes.Buffer

		res, err := a.Replay(ctx, r, p, nil, nil, &out)
		if err != nil || res.Transactions != len(gtids)-4 {
			t.Fatalf("%s: %+v %v, want %d transactions", what, res, err, len(gtids)-4)
		}

		return out.String()
	}

	replay := func(what string) (*Plan, string) {
		t.Helper()

		a, err := Load(ctx, r, "db")
		if err != nil {
			t.Fatal(err)
		}

		steps, _ := a.walk(from, func(*Segment) bool { return false })
		p := &Plan{Steps: steps}

		return p, replayPlan(t, a, p, what)
	}

	plan, want := replay("segments read whole")
	if len(plan.Steps) < 3 || plan.Steps[0].Skip == 0 {
		t.Fatalf("plan %+v", plan.Steps)
	}

	defer func(v int64) { skipBySeek = v }(skipBySeek)
	skipBySeek = 1

	if _, got := replay("segments read from a seek"); got != want {
		t.Errorf("seeking to the start changed the replay")
	}

	a, _ := Load(ctx, r, "db")

	if _, err := Compact(ctx, r, "db", CompactOptions{Now: time.Now()}); err != nil {
		t.Fatal(err)
	}

	if got := replayPlan(t, a, plan, "a plan made before the merge"); got != want {
		t.Errorf("the plan made before the merge replayed differently")
	}

	p2, got := replay("the piece, from a seek")
	if len(p2.Steps) != 1 || got != want {
		t.Errorf("the piece (%d steps) replayed differently", len(p2.Steps))
	}

	skipBySeek = 1 << 40

	if _, got := replay("the piece read whole"); got != want {
		t.Errorf("the piece read whole replayed differently")
	}
}
