package health

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/schedule"
	"lifeboat/internal/source"
	"lifeboat/internal/source/files"
	"lifeboat/internal/verify"
)

// site is a repository with two files sources on a one-hour tier: uploads
// backed up once, empty never backed up; and one copy.
type site struct {
	cfg  *config.Config
	r    *repo.Repository
	snap *repo.Snapshot
}

func newSite(t *testing.T) *site {
	t.Helper()

	ctx := t.Context()
	dir := t.TempDir()

	uploads := filepath.Join(dir, "uploads")
	if err := os.MkdirAll(filepath.Join(uploads, "2026"), 0o755); err != nil {
		t.Fatal(err)
	}

	for name, body := range map[string]string{"a.txt": "first\n", "2026/b.txt": "second\n"} {
		if err := os.WriteFile(filepath.Join(uploads, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cfg, err := config.Parse("lifeboat.yaml", []byte("repository: {path: "+filepath.Join(dir, "repo")+"}\n"+
		"tiers:\n  hourly: {rto: 1h, rpo: 1h}\n"+
		"sources:\n  uploads: {type: files, paths: ["+uploads+"], tier: hourly}\n  empty: {type: files, paths: ["+filepath.Join(dir, "empty")+"], tier: hourly}\n"+
		"copies:\n  near:\n    path: "+filepath.Join(dir, "near")+"\n"))
	if err != nil {
		t.Fatal(err)
	}

	pw := repo.Password{Value: "p", Origin: "test"}
	if err := repo.Create(ctx, cfg.Repository.Path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, cfg.Repository.Path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(context.Background()) })

	snap, err := files.New(cfg.Sources["uploads"]).Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	return &site{cfg: cfg, r: r, snap: snap}
}

func (s *site) inputs(now time.Time) Inputs {
	return Inputs{Cfg: s.cfg, Repo: s.r, Now: now, Source: func(name string) (source.Source, error) {
		return files.New(s.cfg.Sources[name]), nil
	}}
}

func (s *site) health(t *testing.T, in Inputs) (uploads, empty Source) {
	t.Helper()

	h, err := Compute(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}

	if len(h.Sources) != 2 || h.Sources[0].Name != "uploads" || h.Sources[1].Name != "empty" {
		t.Fatalf("sources in configuration order: %+v", h.Sources)
	}

	return h.Sources[0], h.Sources[1]
}

// The RPO is judged at the clock's time against the tier's objective.
func TestRPONow(t *testing.T) {
	s := newSite(t)
	clk := clock.NewFake(s.snap.Time.Add(40 * time.Minute))

	up, _ := s.health(t, s.inputs(clk.Now()))
	if !up.Restorable.Equal(s.snap.Time) || !up.LastBackup.Equal(s.snap.Time) || up.LastType != repo.TypeFull {
		t.Fatalf("uploads restorable %s, last backup %s %s; want the backup's %s", up.Restorable, up.LastBackup, up.LastType, s.snap.Time)
	}

	if up.RPO != 40*time.Minute || up.Objective != time.Hour || up.OverObjective() || up.RestorableErr != nil {
		t.Fatalf("after 40 minutes: RPO %s of %s, over %v, err %v", up.RPO, up.Objective, up.OverObjective(), up.RestorableErr)
	}

	clk.Advance(30 * time.Minute)

	up, _ = s.health(t, s.inputs(clk.Now()))
	if up.RPO != 70*time.Minute || !up.OverObjective() {
		t.Fatalf("after 70 minutes: RPO %s, over the objective %v", up.RPO, up.OverObjective())
	}

	// Without a way to open sources, the instant is not asked for.
	in := s.inputs(clk.Now())
	in.Source = nil

	if up, _ = s.health(t, in); !up.Restorable.IsZero() || up.RPO != 0 || !up.LastBackup.Equal(s.snap.Time) {
		t.Fatalf("without sources: restorable %s, RPO %s, last backup %s", up.Restorable, up.RPO, up.LastBackup)
	}
}

// A source never backed up has nothing restorable, no RPO, no runs; the
// repository alone counts for its copies.
func TestNeverBackedUp(t *testing.T) {
	s := newSite(t)

	_, empty := s.health(t, s.inputs(s.snap.Time.Add(time.Hour)))
	if !empty.LastBackup.IsZero() || !empty.Restorable.IsZero() || empty.RPO != 0 || empty.OverObjective() ||
		empty.Verify != nil || empty.RestoreTest != nil || empty.RestorableErr != nil {
		t.Fatalf("a source never backed up: %+v", empty)
	}

	if empty.Copies.Copies != 1 || empty.Copies.Meets || len(empty.CopyRestorable) != 0 {
		t.Fatalf("copies of a source never backed up: %+v", empty.Copies)
	}
}

// The last verification and restore test are the ones recorded, with
// their outcome and duration; a copy counts once it restores the source.
func TestLastVerifyRestoreTestAndCopies(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	now := s.snap.Time.Add(time.Hour)

	up, _ := s.health(t, s.inputs(now))
	if up.Verify != nil || up.RestoreTest != nil {
		t.Fatalf("before any verification: %+v %+v", up.Verify, up.RestoreTest)
	}

	res, err := verify.Run(ctx, nil, s.r, "uploads", nil, nil)
	if err != nil || !res.OK() {
		t.Fatalf("verify: %v %+v", err, res)
	}

	rep, err := verify.RestoreTest(ctx, nil, s.r, files.New(s.cfg.Sources["uploads"]), s.snap, source.TestOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("restore test: %v %+v", err, rep)
	}

	replicated := s.snap.Time.Add(5 * time.Minute)
	if err := records.Put(ctx, s.r, records.KindCopy, "near", records.Copy{At: replicated, OK: true,
		Restorable: map[string]time.Time{"uploads": s.snap.Time}}); err != nil {
		t.Fatal(err)
	}

	up, empty := s.health(t, s.inputs(now))
	if up.Verify == nil || !up.Verify.OK || up.Verify.At.IsZero() || up.Verify.Snapshots != 1 {
		t.Fatalf("last verification: %+v", up.Verify)
	}

	if up.RestoreTest == nil || !up.RestoreTest.OK || up.RestoreTest.Snapshot != s.snap.ID || up.RestoreTest.Seconds <= 0 {
		t.Fatalf("last restore test: %+v", up.RestoreTest)
	}

	if up.Copies.Copies != 2 || !up.CopyRestorable["near"].Equal(s.snap.Time) || empty.Copies.Copies != 1 {
		t.Fatalf("copies: uploads %+v %v, empty %+v", up.Copies, up.CopyRestorable, empty.Copies)
	}

	// A failed restore test is what health says, until the next one.
	if err := records.Put(ctx, s.r, records.KindRestoreTest, "uploads", records.RestoreTest{At: now, Snapshot: s.snap.ID, Problems: "a.txt differs"}); err != nil {
		t.Fatal(err)
	}

	if up, _ = s.health(t, s.inputs(now)); up.RestoreTest.OK || up.RestoreTest.Problems != "a.txt differs" {
		t.Fatalf("a failed restore test: %+v", up.RestoreTest)
	}
}

// The next run is the earliest scheduled job on the source's lock.
func TestNextRun(t *testing.T) {
	s := newSite(t)
	now := time.Date(2026, 5, 4, 10, 10, 0, 0, time.Local)

	var jobs []*schedule.Job

	for _, j := range []struct{ name, lock, spec string }{
		{"backup uploads full", "uploads", "0 3 * * *"},
		{"backup uploads incremental", "uploads", "30 * * * *"},
		{"prune", "repository", "0 * * * *"},
	} {
		job, err := schedule.NewJob(j.name, j.lock, j.spec, nil)
		if err != nil {
			t.Fatal(err)
		}

		jobs = append(jobs, job)
	}

	in := s.inputs(now)
	in.Jobs = jobs

	up, empty := s.health(t, in)
	if want := time.Date(2026, 5, 4, 10, 30, 0, 0, time.Local); !up.NextRun.Equal(want) || !empty.NextRun.IsZero() {
		t.Fatalf("next runs: uploads %s (want %s), empty %s", up.NextRun, want, empty.NextRun)
	}
}
