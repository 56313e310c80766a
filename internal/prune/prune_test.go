package prune

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	mysqlsrc "lifeboat/internal/source/mysql"
	"lifeboat/internal/testenv"
)

// TestDatabaseChainSurvivesPrune: with only the latest backup kept by the
// rules, prune keeps the full that latest incremental builds on and the
// binlog from that full on, drops the older full and the binlog before it,
// and recovery to the latest incremental still gives the live data.
func TestDatabaseChainSurvivesPrune(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMariaDB(t)
	srv.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20))")

	sc := &config.Source{Name: "db", Type: config.KindMySQL, Tier: "critical", Retention: config.Retention{Latest: 1}, MySQL: config.MySQL{
		Socket: srv.Socket, User: "root", Databases: []string{"shop"}, Workers: 2,
		Binlog: config.Binlog{ServerID: 4242, SegmentSeconds: 1, SegmentBytes: 16 << 20},
	}}
	cfg := &config.Config{Sources: map[string]*config.Source{"db": sc}, SourceNames: []string{"db"}, Tiers: config.DefaultTiers()}
	s := mysqlsrc.New(sc, func(string) string { return "" })

	path := filepath.Join(t.TempDir(), "repo")
	pw := repo.Password{Value: "p", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	var snaps []*repo.Snapshot

	for i, typ := range []string{repo.TypeFull, repo.TypeIncremental, repo.TypeFull, repo.TypeIncremental, repo.TypeIncremental} {
		srv.Exec(t, "INSERT INTO shop.orders (item) VALUES ('step "+string(rune('a'+i))+"')")

		snap, err := s.Backup(ctx, r, source.BackupOptions{Type: typ})
		if err != nil {
			t.Fatal(err)
		}

		snaps = append(snaps, snap)
		time.Sleep(20 * time.Millisecond) // distinct snapshot times, so the retention order is known; not a wait
	}

	plan, err := Make(ctx, r, cfg, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	keep := map[string]string{}
	for _, d := range plan.Sources[0].Decisions {
		keep[d.Snap.ID] = map[bool]string{true: "keep", false: "delete"}[d.Keep] + ": " + strings.Join(d.Reasons, "; ")
	}

	for i, want := range []string{"delete", "delete", "keep: kept incremental backup", "delete", "keep: latest 1 of 1"} {
		if !strings.HasPrefix(keep[snaps[i].ID], want) {
			t.Errorf("snapshot %d (%s): %q, want %q", i, snaps[i].Type, keep[snaps[i].ID], want)
		}
	}

	arch, _ := binlog.Load(ctx, r, "db")
	dropped := len(plan.Sources[0].Segments)

	if dropped == 0 || dropped >= len(arch.Segments) {
		t.Fatalf("drops %d of %d segments: want those before the kept full only (%s)", dropped, len(arch.Segments), plan.Sources[0].SegmentsWhy)
	}

	if err := plan.Execute(ctx, r, false); err != nil {
		t.Fatal(err)
	}

	var br mysqlsrc.BinlogRange
	json.Unmarshal([]byte(snaps[4].Extra["binlog"]), &br)

	if _, err := s.RestoreToPoint(ctx, r, mysqlsrc.PITROptions{DatabaseRestoreOptions: mysqlsrc.RestoreOptions{Database: "after_prune"}, Target: binlog.Target{File: br.ToFile, Pos: br.ToPos}}); err != nil {
		t.Fatalf("recover to the kept incremental: %v", err)
	}

	var items string
	srv.DB(t, "").QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM after_prune.orders").Scan(&items)

	if items != "step a,step b,step c,step d,step e" {
		t.Errorf("recovered %q", items)
	}

	_, err = s.RestoreToPoint(ctx, r, mysqlsrc.PITROptions{DatabaseRestoreOptions: mysqlsrc.RestoreOptions{Database: "x"}, Target: binlog.Target{Time: snaps[1].Time}})
	if err == nil || !strings.Contains(err.Error(), "before the oldest restorable instant") {
		t.Errorf("recovery to before the kept full: %v", err)
	}
}
