package ops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/source/files"
)

var testPassword = repo.Password{Value: "ops-test-password", Origin: "test"}

// testExecutor is an executor over a fresh repository in a temporary folder
// holding one backup of a files source, with its audit log beside it, and
// the folder copies go to.
func testExecutor(t *testing.T) (*Executor, string) {
	t.Helper()

	ctx := t.Context()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "a.txt"), []byte("hello"), 0o644)

	yaml := "repository: {path: " + filepath.Join(dir, "repo") + "}\naudit: {path: " + filepath.Join(dir, "audit.jsonl") + "}\n" +
		"sources:\n  data:\n    type: files\n    paths: [" + data + "]\n" +
		"copies:\n  near:\n    path: " + filepath.Join(dir, "near") + "\n  vault:\n    path: " + filepath.Join(dir, "vault") + "\n    offline: true\n"

	cfg, err := config.Parse(filepath.Join(dir, "lifeboat.yaml"), []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}

	if err := repo.Create(ctx, cfg.Repository.Path, testPassword); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, cfg.Repository.Path, testPassword, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(context.Background()) })

	src := files.New(cfg.Sources["data"])
	if _, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	key, err := r.AuditKey()
	if err != nil {
		t.Fatal(err)
	}

	return &Executor{
		Cfg: cfg, Repo: r, Sources: map[string]source.Source{"data": src}, Version: "test",
		Audit: &audit.Log{Path: cfg.Audit.Path, Key: key}, Who: "ops test",
	}, dir
}

func auditRecords(t *testing.T, e *Executor) []audit.Record {
	t.Helper()

	recs, err := audit.Read(e.Cfg.Audit.Path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}

	return recs
}

// TestReplicate: an offline copy that is not attached is reported absent and
// neither run nor audited; an attached one is brought up to date, opens
// with every snapshot, and the run is recorded, audited and reported as
// events in order.
func TestReplicate(t *testing.T) {
	e, _ := testExecutor(t)
	ctx := t.Context()

	res, err := e.Replicate(ctx, Replicate{Copy: e.Cfg.Copies["vault"], Password: testPassword, Getenv: os.Getenv}, nil)
	if err != nil || !res.Absent || !res.LastAt.IsZero() {
		t.Fatalf("offline copy not attached: %+v %v", res, err)
	}

	if recs := auditRecords(t, e); len(recs) != 0 {
		t.Fatalf("an absent copy was audited: %+v", recs)
	}

	var kinds []string

	res, err = e.Replicate(ctx, Replicate{Copy: e.Cfg.Copies["near"], Password: testPassword, Getenv: os.Getenv}, func(ev Event) {
		if len(kinds) == 0 || kinds[len(kinds)-1] != string(ev.Kind) {
			kinds = append(kinds, string(ev.Kind))
		}
	})
	if err != nil || res.Absent || res.Stats.Blobs == 0 {
		t.Fatalf("replicate: %+v %v", res, err)
	}

	if got := strings.Join(kinds, " "); !strings.HasPrefix(got, "started step") || !strings.HasSuffix(got, "step finished") {
		t.Fatalf("events %q: want started, steps and byte counts, finished", got)
	}

	recs := auditRecords(t, e)
	if len(recs) != 1 || recs[0].Action != "replicate" || recs[0].Outcome != audit.OK || !strings.HasPrefix(recs[0].Detail, "copy near: ") {
		t.Fatalf("audit: %+v", recs)
	}

	cps, err := e.Repo.Records(ctx, copies.Kind)
	if err != nil || cps["near"]["ok"] != "true" || !strings.Contains(cps["near"]["restorable"], `"data"`) {
		t.Fatalf("copy record: %v %v", cps, err)
	}

	cp, err := copies.Open(ctx, e.Cfg, e.Cfg.Copies["near"], testPassword, os.Getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close(ctx)

	if snaps, err := cp.Snapshots(ctx, "data"); err != nil || len(snaps) != 1 {
		t.Fatalf("the copy holds %d snapshots (%v)", len(snaps), err)
	}
}

// TestCopyAudit: the local log's new records go into the repository as one
// increment each time; a log that no longer extends the stored copy is
// refused, recorded as refused, and the stored copy stays as it was.
func TestCopyAudit(t *testing.T) {
	e, dir := testExecutor(t)
	ctx := t.Context()
	log := e.Audit.(*audit.Log)

	var warn strings.Builder

	for i := range 3 {
		if _, err := log.Append(audit.Record{Action: "test", Outcome: audit.OK, Detail: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}

		e.CopyAudit(ctx, AuditCopy{Log: log, Warn: &warn})
	}

	e.CopyAudit(ctx, AuditCopy{Log: log, Warn: &warn}) // nothing new: nothing stored

	tip, err := TrailTip(ctx, e.Repo)
	if err != nil || tip.Pieces != 3 || tip.Seq != 3 || !tip.Started {
		t.Fatalf("trail: %+v %v", tip, err)
	}

	stored, err := ReadTrail(ctx, e.Repo, log.Key)
	if err != nil || len(stored) != 3 || stored[2].Detail != "c" {
		t.Fatalf("stored trail: %+v %v", stored, err)
	}

	// A log started afresh does not extend the copy.
	os.Rename(log.Path, filepath.Join(dir, "evidence.jsonl"))

	if _, err := log.Append(audit.Record{Action: "test", Outcome: audit.OK, Detail: "new"}); err != nil {
		t.Fatal(err)
	}

	e.CopyAudit(ctx, AuditCopy{Log: log, Warn: &warn})

	if !strings.Contains(warn.String(), "does not extend the repository's copy") {
		t.Fatalf("warning: %q", warn.String())
	}

	local := auditRecords(t, e)
	if last := local[len(local)-1]; last.Action != "audit copy" || last.Outcome != audit.Refused {
		t.Fatalf("the refusal is not recorded: %+v", last)
	}

	if after, err := ReadTrail(ctx, e.Repo, log.Key); err != nil || len(after) != 3 {
		t.Fatalf("the stored copy changed: %d records, %v", len(after), err)
	}
}
