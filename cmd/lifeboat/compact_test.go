package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

type compactResult struct {
	Before  int   `json:"segments_before"`
	After   int   `json:"segments_after"`
	Pieces  int   `json:"pieces"`
	Deleted int   `json:"deleted"`
	Bytes   int64 `json:"bytes"`
}

type listedSegment struct {
	ID    string `json:"id"`
	File  string `json:"file"`
	Start uint32 `json:"start"`
	End   uint32 `json:"end"`
	Next  string `json:"next"`
}

// TestBinlogCompactSurvivesKill kills `binlog compact` with SIGKILL at each
// of its five fault points, on a copy of the same archive each time. After
// each kill the archive lists complete (every position once, no hole, the
// same files and ends), a recovery gives the live data, and the next run
// finishes the job: the same segment count as an uninterrupted run, and
// nothing left to do after it.
func TestBinlogCompactSurvivesKill(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20))")

	in := newInstallation(t, "")
	in.setSource(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n    binlog: {segment_seconds: 1, compact_after: 1s}\n")
	in.mustRun("init")
	in.mustRun("backup", "db")

	// Each incremental stores a segment; two files of three.
	for i := 0; i < 6; i++ {
		db.Exec(t, fmt.Sprintf("INSERT INTO shop.orders (item) VALUES ('order %d'), ('order %d b')", i, i))
		in.mustRun("backup", "db", "--type", "incremental")

		if i == 2 {
			db.Exec(t, "FLUSH BINARY LOGS")
		}
	}

	var live string
	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM shop.orders").Scan(&live)

	// Segments merge once their last event is a second old.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(2 * time.Second))) // the binary reads the wall clock; not a wait

	pristine := filepath.Join(in.dir, "pristine")
	copyTree(t, in.repo, pristine)

	listed := in.segments()
	if len(listed) < 6 {
		t.Fatalf("%d segments archived, want at least 6", len(listed))
	}

	// A dry run says what would be done and changes nothing.
	out := in.mustRun("binlog", "compact", "db", "--dry-run")
	if !strings.Contains(out, "dry run: binlog of db: would write 2 pieces") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("dry run: %s", out)
	}

	if fmt.Sprint(in.segments()) != fmt.Sprint(listed) {
		t.Fatalf("the dry run changed the archive")
	}

	// An uninterrupted run, for what every interrupted one must end at.
	want := in.compact(t)
	if want.Pieces != 2 || want.After >= len(listed) {
		t.Fatalf("compaction: %+v of %d segments", want, len(listed))
	}

	if again := in.compact(t); again.Pieces != 0 || again.Deleted != 0 || again.Before != want.After {
		t.Fatalf("a second run: %+v, want nothing done", again)
	}

	coverage := cover(t, in.segments())

	for _, point := range []string{"before-write", "mid-write", "after-write", "mid-delete", "after-delete"} {
		os.RemoveAll(in.repo)
		copyTree(t, pristine, in.repo)

		cmd := in.command("binlog", "compact", "db")
		cmd.Env = append(cmd.Env, "LIFEBOAT_FAULT=compact:"+point)

		outb, err := cmd.CombinedOutput()

		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: the run was not killed: %v\n%s", point, err, outb)
		}

		if got := cover(t, in.segments()); got != coverage {
			t.Fatalf("killed %s: the archive covers\n%s\nwant\n%s", point, got, coverage)
		}

		target := "shop_" + strings.ReplaceAll(point, "-", "_")
		in.mustRun("restore", "db", "--target-database", target)

		var got string
		db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM " + target + ".orders").Scan(&got)

		if got != live {
			t.Errorf("killed %s: recovered %q, want %q", point, got, live)
		}

		res := in.compact(t)
		if res.After != want.After {
			t.Errorf("killed %s: the next run left %d segments, want %d (%+v)", point, res.After, want.After, res)
		}

		if again := in.compact(t); again.Pieces != 0 || again.Deleted != 0 || again.Before != want.After {
			t.Errorf("killed %s: the run after the next one still had work: %+v", point, again)
		}

		if got := cover(t, in.segments()); got != coverage {
			t.Errorf("killed %s, then finished: the archive covers\n%s\nwant\n%s", point, got, coverage)
		}
	}
}

func (in *installation) segments() []listedSegment {
	in.t.Helper()

	var l struct {
		Segments []listedSegment `json:"segments"`
	}

	if err := json.Unmarshal([]byte(in.mustRun("binlog", "list", "db", "--json")), &l); err != nil {
		in.t.Fatal(err)
	}

	return l.Segments
}

func (in *installation) compact(t *testing.T) compactResult {
	t.Helper()

	var res compactResult
	if err := json.Unmarshal([]byte(in.mustRun("binlog", "compact", "db", "--json")), &res); err != nil {
		t.Fatal(err)
	}

	return res
}

// cover describes what the listed segments hold, file by file: where it
// starts and ends and which file follows. It fails the test on a hole or an
// overlap, which would make a position unreadable or listed twice.
func cover(t *testing.T, segs []listedSegment) string {
	t.Helper()

	sort.SliceStable(segs, func(i, j int) bool {
		if segs[i].File != segs[j].File {
			return segs[i].File < segs[j].File
		}

		return segs[i].Start < segs[j].Start || segs[i].Start == segs[j].Start && segs[i].End < segs[j].End
	})

	var (
		b    strings.Builder
		prev *listedSegment
	)

	for i := range segs {
		s := &segs[i]

		if prev != nil && prev.File == s.File {
			if s.Start != prev.End || prev.Next != "" {
				t.Fatalf("%s: %d-%d (next %q) then %d-%d: a hole or an overlap", s.File, prev.Start, prev.End, prev.Next, s.Start, s.End)
			}
		} else {
			if prev != nil {
				fmt.Fprintf(&b, "-%d next %q\n", prev.End, prev.Next)
			}

			fmt.Fprintf(&b, "%s %d", s.File, s.Start)
		}

		prev = s
	}

	if prev != nil {
		fmt.Fprintf(&b, "-%d next %q\n", prev.End, prev.Next)
	}

	return b.String()
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()

	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", from, err, out)
	}
}
