package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// openRepo opens the installation's repository in this process, to read
// what the binary wrote.
func (in *installation) openRepo(t *testing.T) *repo.Repository {
	t.Helper()

	r, err := repo.Open(context.Background(), in.repo, repo.Password{Value: "kill-test-password"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	return r
}

// metricValue reads one sample from a /metrics page; ok is false when absent.
func metricValue(page, sample string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return 0, false
	}

	v, err := strconv.ParseFloat(m[1], 64)

	return v, err == nil
}

// TestDaemonArchiveSizeAndIndexMaintenance: a new repository has the short
// index epochs; the real daemon runs quick index maintenance (recorded in
// kopia's maintenance schedule) while it streams the binlog, /metrics shows
// the archive's size and segment count, and `binlog list` shows the same
// totals its segments add up to, in text and JSON.
func TestDaemonArchiveSizeAndIndexMaintenance(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20))")

	addr := freePort(t)
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\n")
	in.setSource(t, "  db:\n    type: mysql\n    tier: critical\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n    binlog: {stream: true, segment_seconds: 1}\n")
	in.mustRun("init")

	r := in.openRepo(t)
	ep, err := r.IndexEpochs(context.Background())
	r.Close(context.Background())

	if err != nil || !ep.Tuned || ep.MinDuration > time.Hour || ep.Refresh*3 > ep.MinDuration {
		t.Fatalf("index epochs of a new repository: %+v %v", ep, err)
	}

	d := in.startDaemon(t, addr)

	// Quick maintenance runs at start: wait until kopia's schedule has it.
	var last time.Time

	maintained := func() error {
		r := in.openRepo(t)
		defer r.Close(context.Background())

		if last, err = r.LastQuickMaintenance(context.Background()); err == nil && last.IsZero() {
			return errors.New("none recorded")
		}

		return err
	}
	if err := testenv.Poll(60*time.Second, maintained); err != nil {
		t.Fatalf("no quick maintenance recorded: %v\n%s", err, d.out)
	}

	// Commits while the streamer runs: the metrics count what it stores.
	var page string

	i := 0
	counted := func() error {
		db.Exec(t, fmt.Sprintf("INSERT INTO shop.orders (item) VALUES ('item %d')", i))
		i++

		page = get(t, "http://"+addr+"/metrics")
		segs, _ := metricValue(page, `lifeboat_binlog_archive_segments{source="db"}`)
		bytes, _ := metricValue(page, `lifeboat_binlog_archive_bytes{source="db"}`)
		stored, _ := metricValue(page, `lifeboat_binlog_archive_stored_segments{source="db"}`)

		if segs >= 2 && bytes > 0 && stored >= 2 {
			return nil
		}

		return fmt.Errorf("%v segments, %v bytes, %v stored", segs, bytes, stored)
	}
	if err := testenv.Poll(60*time.Second, counted); err != nil {
		t.Fatalf("/metrics never showed the archive's size: %v\n%s\ndaemon:\n%s", err, page, d.out)
	}

	d.stop(t)

	var list struct {
		Archive struct {
			Bytes    int64 `json:"bytes"`
			Segments int   `json:"segments"`
			Stored   int   `json:"stored_segments"`
		} `json:"archive"`
		Segments []struct {
			Bytes int64 `json:"bytes"`
		} `json:"segments"`
	}

	if err := json.Unmarshal([]byte(in.mustRun("binlog", "list", "db", "--json")), &list); err != nil {
		t.Fatal(err)
	}

	var sum int64
	for _, s := range list.Segments {
		sum += s.Bytes
	}

	if a := list.Archive; a.Segments != len(list.Segments) || a.Stored != len(list.Segments) || a.Bytes != sum || sum == 0 {
		t.Fatalf("binlog list --json: archive %+v, but %d segments of %d bytes listed", a, len(list.Segments), sum)
	}

	// What the daemon exported is what it had stored by then: no more.
	if segs, _ := metricValue(page, `lifeboat_binlog_archive_segments{source="db"}`); int(segs) > list.Archive.Segments {
		t.Fatalf("/metrics counted %v segments, the archive holds %d", segs, list.Archive.Segments)
	}

	out := in.mustRun("binlog", "list", "db")
	want := fmt.Sprintf("in %d segments (%d pieces stored)", list.Archive.Segments, list.Archive.Stored)

	if !strings.Contains(out, "archive of db: ") || !strings.Contains(out, want) {
		t.Fatalf("binlog list lacks %q:\n%s", want, out)
	}
}
