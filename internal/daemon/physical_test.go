package daemon

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/notify"
	"lifeboat/internal/repo"
	"lifeboat/internal/schedule"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
	"lifeboat/internal/testenv"
)

// TestScheduledPhysicalBesideLogical: a logical mysql source's
// physical_full job takes a physical backup, its full job a logical one.
func TestScheduledPhysicalBesideLogical(t *testing.T) {
	if _, err := exec.LookPath("mariadb-backup"); err != nil {
		t.Fatal("mariadb-backup is not installed: apt-get install -y mariadb-backup (scripts/install-deps.sh test installs it)")
	}

	ctx := context.Background()
	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1), (2)")

	path := filepath.Join(t.TempDir(), "repo")
	pw := repo.Password{Value: "daemon-physical", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	cfg := &config.Config{
		SourceNames: []string{"db"},
		Sources: map[string]*config.Source{"db": {Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
			Socket: m.Socket, User: "root", Databases: []string{"shop"}, Workers: 2, Mode: config.ModeLogical,
		}, Schedule: map[string]string{"full": "0 2 * * *", "physical_full": "0 3 * * 0"}}},
	}

	src, ok := sources.New(cfg.Sources["db"], func(string) string { return "" })
	if !ok {
		t.Fatal("no mysql source kind")
	}

	d := &Daemon{Cfg: cfg, Repo: r, Sources: map[string]source.Source{"db": src}, Log: slog.New(slog.DiscardHandler),
		Audit: &audit.Log{Path: filepath.Join(t.TempDir(), "audit.jsonl")}, Notify: notify.New(config.Notify{}, func(string) string { return "" }, nil),
		Clock: schedule.RealClock{}}

	for _, job := range []string{"physical_full", "full"} {
		if err := d.Backup(ctx, "db", job); err != nil {
			t.Fatalf("%s: %v", job, err)
		}
	}

	snaps, err := r.Snapshots(ctx, "db")
	if err != nil || len(snaps) != 2 {
		t.Fatalf("%d snapshots (%v), want 2", len(snaps), err)
	}

	physical := 0

	for _, s := range snaps {
		if s.Extra["physical"] != "" {
			physical++
		}

		if s.Type != repo.TypeFull {
			t.Errorf("snapshot %s is a %s", s.ID, s.Type)
		}
	}

	if physical != 1 {
		t.Errorf("%d physical snapshots, want 1", physical)
	}
}
