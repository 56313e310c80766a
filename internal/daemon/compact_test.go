package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/notify"
	"lifeboat/internal/repo"
	"lifeboat/internal/schedule"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
)

// TestDaemonCompactsArchivedSources: the daemon compacts the database
// sources it archives (streamed or with scheduled incrementals), and records
// what it merged in the audit log.
func TestDaemonCompactsArchivedSources(t *testing.T) {
	ctx := context.Background()
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	path := filepath.Join(t.TempDir(), "repo")
	pw := repo.Password{Value: "daemon-compact", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	old := time.Now().Add(-2 * time.Hour)
	pos := 4

	for i := 0; i < 3; i++ {
		data := bytes.Repeat([]byte{'x'}, 100)
		labels := map[string]string{
			"kind": "segment", "epoch": "e1", "file": "bin.000001", "start": strconv.Itoa(pos), "end": strconv.Itoa(pos + 100),
			"t_first": strconv.FormatInt(old.Unix(), 10), "t_last": strconv.FormatInt(old.Unix(), 10), "binlog_bytes": "100", "events": "1", "by": "incremental",
		}

		if _, err := r.PutSegment(ctx, "db", labels, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}

		pos += 100
	}

	my := func(b config.Binlog, sched map[string]string) *config.Source {
		b.CompactAfter = binlog.DefaultCompactAfter
		return &config.Source{Type: config.KindMySQL, MySQL: config.MySQL{Binlog: b}, Schedule: sched}
	}

	cfg := &config.Config{
		SourceNames: []string{"db", "streamed", "dumped", "files"},
		Sources: map[string]*config.Source{
			"db":       my(config.Binlog{}, map[string]string{"incremental": "0 * * * *"}),
			"streamed": my(config.Binlog{Stream: true}, nil),
			"dumped":   my(config.Binlog{}, map[string]string{"full": "0 2 * * *"}),
			"files":    {Type: config.KindFiles},
		},
	}

	srcs := map[string]source.Source{}
	for _, name := range cfg.SourceNames {
		srcs[name], _ = sources.New(cfg.Sources[name], nil)
	}

	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	d := &Daemon{Cfg: cfg, Repo: r, Sources: srcs, Log: slog.New(slog.DiscardHandler), Audit: &audit.Log{Path: auditPath},
		Notify: notify.New(config.Notify{}, func(string) string { return "" }, nil), Clock: schedule.RealClock{}}

	if got := fmt.Sprint(d.compactedSources()); got != "[db streamed]" {
		t.Errorf("compacted sources %s, want [db streamed]", got)
	}

	if err := d.CompactBinlog(ctx, "db"); err != nil {
		t.Fatal(err)
	}

	a, err := binlog.Load(ctx, r, "db")
	if err != nil || len(a.Segments) != 1 || a.Segments[0].Merged != 3 {
		t.Fatalf("after the daemon's compaction: %d segments (%v)", len(a.Segments), err)
	}

	recs, err := audit.Read(auditPath)
	if err != nil || len(recs) != 1 || recs[0].Action != "binlog compact" || recs[0].Source != "db" || !strings.Contains(recs[0].Detail, "wrote 1 pieces") {
		t.Fatalf("audit: %+v %v", recs, err)
	}

	// Nothing left to merge: nothing is audited.
	if err := d.CompactBinlog(ctx, "db"); err != nil {
		t.Fatal(err)
	}

	if recs, _ := audit.Read(auditPath); len(recs) != 1 {
		t.Errorf("a run that merged nothing was audited: %+v", recs)
	}
}
