package ops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/metrics"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/source/files"
)

// fixture is an executor over a fresh filesystem repository with one files
// source, "data", on a folder of the test's.
type fixture struct {
	e     *Executor
	data  string
	trail string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()

	ctx := context.Background()
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	dir := t.TempDir()
	path := filepath.Join(dir, "repo")
	pw := repo.Password{Value: "ops-test", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(ctx) })

	data := filepath.Join(dir, "data")
	for i := range 3 {
		writeFile(t, filepath.Join(data, fmt.Sprintf("f%d.txt", i)), strings.Repeat("lifeboat ", 1000+i))
	}

	sc := &config.Source{Name: "data", Type: config.KindFiles, Tier: "critical", Paths: []string{data}}
	cfg := &config.Config{
		Sources:     map[string]*config.Source{"data": sc},
		SourceNames: []string{"data"},
		Tiers:       map[string]config.Tier{"critical": {RPO: time.Hour}},
	}

	trail := filepath.Join(dir, "audit.jsonl")

	return &fixture{
		e: &Executor{
			Cfg: cfg, Repo: r, Sources: map[string]source.Source{"data": files.New(sc)},
			Audit: &audit.Log{Path: trail}, Version: "test", Who: "lifeboat test",
		},
		data: data, trail: trail,
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// records reads the audit trail, checking its hash chain.
func (f *fixture) records(t *testing.T) []audit.Record {
	t.Helper()

	recs, err := audit.Read(f.trail)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := audit.Verify(recs, nil); err != nil {
		t.Fatalf("the audit trail does not verify: %v", err)
	}

	return recs
}

// events collects an operation's events; safe for the upload goroutines.
type events struct {
	mu   sync.Mutex
	list []Event
}

func (ev *events) observe(e Event) {
	ev.mu.Lock()
	defer ev.mu.Unlock()

	ev.list = append(ev.list, e)
}

func (ev *events) kinds() []EventKind {
	ev.mu.Lock()
	defer ev.mu.Unlock()

	var out []EventKind

	for _, e := range ev.list {
		if len(out) == 0 || out[len(out)-1] != e.Kind {
			out = append(out, e.Kind)
		}
	}

	return out
}

// TestBackupEventsAuditAndMetrics: a backup sends Started, its byte counts
// and Finished in that order, writes one audit record with the snapshot,
// what it holds and how long it took, and the backup's metrics.
func TestBackupEventsAuditAndMetrics(t *testing.T) {
	f := newFixture(t)
	f.e.Metrics = metrics.New("test")

	var ev events

	snap, err := f.e.Backup(context.Background(), Backup{Source: "data", Type: repo.TypeFull}, ev.observe)
	if err != nil {
		t.Fatal(err)
	}

	if got := fmt.Sprint(ev.kinds()); got != "[started bytes finished]" {
		t.Errorf("events %s, want [started bytes finished]", got)
	}

	last := ev.list[len(ev.list)-1]
	if last.Op != "backup" || last.Source != "data" || !strings.Contains(last.Step, snap.ID) {
		t.Errorf("the Finished event %+v does not name the run and its snapshot %s", last, snap.ID)
	}

	var files int64

	for _, e := range ev.list {
		if e.Kind == Bytes && (e.Done > e.Total && e.Total > 0 || e.Done < 0) {
			t.Errorf("byte count %d of %d", e.Done, e.Total)
		}

		if e.Kind == Bytes {
			files = e.Files
		}
	}

	// Every front door draws the files from the events.
	if files != 3 {
		t.Errorf("the last Bytes event counts %d files, want the 3 backed up", files)
	}

	recs := f.records(t)
	if len(recs) != 1 {
		t.Fatalf("%d audit records, want 1: %+v", len(recs), recs)
	}

	r := recs[0]
	if r.Action != "backup" || r.Source != "data" || r.Outcome != audit.OK || r.Snapshot != snap.ID ||
		r.Detail != fmt.Sprintf("full: 3 files, %d bytes", snap.Bytes) || r.Seconds <= 0 {
		t.Errorf("audit record %+v", r)
	}

	prom := filepath.Join(t.TempDir(), "m.prom")
	if err := f.e.Metrics.WriteTextfile(prom); err != nil {
		t.Fatal(err)
	}

	b, _ := os.ReadFile(prom)
	for _, want := range []string{
		fmt.Sprintf(`lifeboat_backup_logical_bytes{source="data",type="full"} %d`, snap.Bytes),
		`lifeboat_backup_last_success_timestamp_seconds{source="data",type="full"}`,
		`lifeboat_rpo_objective_seconds{source="data"} 3600`,
		`lifeboat_rpo_seconds{source="data"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s:\n%s", want, b)
		}
	}
}

// TestSecondRunOfASourceRefused: while a backup of a source runs, a second
// one (from any front door) is refused with a message naming the first, and
// audited as refused; from a schedule it is a skipped job, counted.
func TestSecondRunOfASourceRefused(t *testing.T) {
	f := newFixture(t)
	f.e.Metrics = metrics.New("test")
	ctx := context.Background()

	// The first backup stops at its first byte count, holding its lock,
	// until the second has been refused.
	inFirst, release := make(chan struct{}), make(chan struct{})

	var once sync.Once

	first := make(chan error, 1)

	go func() {
		_, err := f.e.Backup(ctx, Backup{Source: "data", Type: repo.TypeFull}, func(e Event) {
			if e.Kind == Bytes {
				once.Do(func() {
					close(inFirst)
					<-release
				})
			}
		})
		first <- err
	}()

	<-inFirst

	var ev events

	_, err := f.e.Backup(ctx, Backup{Source: "data", Type: repo.TypeIncremental}, ev.observe)
	if !errors.Is(err, repo.ErrBusy) || !strings.Contains(err.Error(), "`lifeboat test: backup data full`") || !strings.Contains(err.Error(), "holds source data") {
		t.Errorf("second backup: %v, want refused naming the running one", err)
	}

	if got := fmt.Sprint(ev.kinds()); got != "[started failed]" || ev.list[1].Err != err {
		t.Errorf("events of the refused run %s, want [started failed] with the error", got)
	}

	_, err = f.e.Backup(ctx, Backup{Source: "data", Type: repo.TypeFull, Job: "backup data full"}, nil)
	if !errors.Is(err, repo.ErrBusy) {
		t.Errorf("scheduled second backup: %v, want refused", err)
	}

	close(release)

	if err := <-first; err != nil {
		t.Fatalf("the first backup failed: %v", err)
	}

	recs := f.records(t)
	if len(recs) != 3 {
		t.Fatalf("%d audit records, want 3: %+v", len(recs), recs)
	}

	if r := recs[0]; r.Action != "backup" || r.Outcome != audit.Refused || !strings.Contains(r.Detail, "holds source data") {
		t.Errorf("the refused backup's record: %+v", r)
	}

	if r := recs[1]; r.Action != "job skipped" || r.Source != "data" || r.Outcome != audit.Refused || !strings.HasPrefix(r.Detail, "backup data full: ") {
		t.Errorf("the skipped job's record: %+v", r)
	}

	if r := recs[2]; r.Action != "backup" || r.Outcome != audit.OK {
		t.Errorf("the first backup's record: %+v", r)
	}

	prom := filepath.Join(t.TempDir(), "m.prom")
	if err := f.e.Metrics.WriteTextfile(prom); err != nil {
		t.Fatal(err)
	}

	if b, _ := os.ReadFile(prom); !strings.Contains(string(b), `lifeboat_jobs_skipped_total{job="backup data full"} 1`) {
		t.Errorf("the skipped job is not counted:\n%s", b)
	}
}

// TestFailedBackup: a backup that fails sends Failed with the error, audits
// the failure with its type and cause, and returns the error.
func TestFailedBackup(t *testing.T) {
	f := newFixture(t)

	if err := os.RemoveAll(f.data); err != nil {
		t.Fatal(err)
	}

	var ev events

	_, err := f.e.Backup(context.Background(), Backup{Source: "data", Type: repo.TypeFull}, ev.observe)
	if err == nil {
		t.Fatal("a backup of a missing folder succeeded")
	}

	kinds := ev.kinds()
	if kinds[0] != Started || kinds[len(kinds)-1] != Failed || ev.list[len(ev.list)-1].Err != err {
		t.Errorf("events %v, want started ... failed with the error", kinds)
	}

	recs := f.records(t)
	if len(recs) != 1 || recs[0].Action != "backup" || recs[0].Outcome != audit.Failed || recs[0].Detail != "full: "+err.Error() {
		t.Errorf("audit records %+v, want one failed backup with %q", recs, err)
	}
}

// TestVerifyPruneAndPin: verify, prune and pin/unpin each write their one
// audit record, and a verification that finds nothing wrong says so.
func TestVerifyPruneAndPin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	snap, err := f.e.Backup(ctx, Backup{Source: "data", Type: repo.TypeFull}, nil)
	if err != nil {
		t.Fatal(err)
	}

	var ev events

	res, err := f.e.Verify(ctx, Verify{Fraction: 1}, ev.observe)
	if err != nil || !res.OK() || res.Snapshots != 1 || fmt.Sprint(res.Sources) != "[data]" {
		t.Fatalf("verify: %+v, %v", res, err)
	}

	if got := fmt.Sprint(ev.kinds()); got != "[started bytes finished]" {
		t.Errorf("verify events %s", got)
	}

	if err := f.e.Pin(ctx, Pin{Source: "data", Snapshot: snap.ID, Reason: "legal hold", By: "test"}, nil); err != nil {
		t.Fatal(err)
	}

	pr, err := f.e.Prune(ctx, Prune{DryRun: true}, nil)
	if err != nil || pr.Plan == nil {
		t.Fatalf("prune --dry-run: %v", err)
	}

	if err := f.e.Unpin(ctx, Pin{Source: "data", Snapshot: snap.ID}, nil); err != nil {
		t.Fatal(err)
	}

	if _, err := f.e.Prune(ctx, Prune{}, nil); err != nil {
		t.Fatal(err)
	}

	want := []string{
		`backup data ok full: 3 files, \d+ bytes`,
		`verify data ok 1 snapshots, 3 files`,
		`pin data ok legal hold`,
		`prune  ok dry run: would delete 0 snapshots and 0 binlog segments`,
		`unpin data ok `,
		`prune  ok deleted 0 snapshots and 0 binlog segments`,
	}

	recs := f.records(t)
	if len(recs) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(recs), len(want), recs)
	}

	for i, r := range recs {
		line := strings.Join([]string{r.Action, r.Source, r.Outcome, r.Detail}, " ")
		if !regexp.MustCompile("^" + want[i] + "$").MatchString(line) {
			t.Errorf("audit record %d: %q, want %q", i, line, want[i])
		}
	}

	if recs[2].Snapshot != snap.ID || recs[4].Snapshot != snap.ID {
		t.Errorf("pin and unpin records name %q and %q, want the snapshot %s", recs[2].Snapshot, recs[4].Snapshot, snap.ID)
	}
}

// addSource configures a second files source, name, on a folder of its own.
func (f *fixture) addSource(t *testing.T, name string) string {
	t.Helper()

	dir := filepath.Join(t.TempDir(), name)
	writeFile(t, filepath.Join(dir, "app.conf"), "x=1")

	sc := &config.Source{Name: name, Type: config.KindFiles, Tier: "critical", Paths: []string{dir}}
	f.e.Cfg.Sources[name] = sc
	f.e.Cfg.SourceNames = append(f.e.Cfg.SourceNames, name)
	f.e.Sources[name] = files.New(sc)

	return dir
}

// TestPointBackup: a backup of every source records them as one recovery
// point once all were backed up; when one fails the others still are, and
// no point is recorded.
func TestPointBackup(t *testing.T) {
	f := newFixture(t)
	etc := f.addSource(t, "etc")
	ctx := context.Background()

	var each []string

	req := Backups{
		Sources: []string{"data", "etc"}, Type: repo.TypeFull, Point: true,
		Each: func(name string, snap *repo.Snapshot, err error) {
			each = append(each, fmt.Sprintf("%s %v %v", name, snap != nil, err))
		},
	}

	res, err := f.e.Backups(ctx, req, nil)
	if err != nil || res.Point == nil || len(res.Taken) != 2 || len(res.Failed) != 0 {
		t.Fatalf("point backup: %+v, %v", res, err)
	}

	if got := fmt.Sprint(res.Point.Sources()); got != "[data etc]" {
		t.Errorf("the point holds %s, want [data etc]", got)
	}

	if err := os.RemoveAll(etc); err != nil {
		t.Fatal(err)
	}

	res, err = f.e.Backups(ctx, req, nil)
	if err != nil || res.Point != nil || len(res.Taken) != 1 || fmt.Sprint(res.Failed) != "[etc]" {
		t.Fatalf("point backup with a failing source: %+v, %v", res, err)
	}

	if len(each) != 4 || each[0] != "data true <nil>" || each[1] != "etc true <nil>" || each[2] != "data true <nil>" || !strings.HasPrefix(each[3], "etc false ") {
		t.Errorf("per-source reports: %q", each)
	}

	var actions []string
	for _, r := range f.records(t) {
		actions = append(actions, r.Action+" "+r.Source+" "+r.Outcome)
	}

	if got := strings.Join(actions, ", "); got != "backup data ok, backup etc ok, point  ok, backup data ok, backup etc failed" {
		t.Errorf("audit records: %s", got)
	}
}
