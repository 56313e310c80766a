package cli

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"lifeboat/internal/plan"
)

// TestRecoverAndDrillFilesPlan runs a files plan with service commands, a
// command and an HTTP check against a server in the test: recover and drill
// both succeed and report per-step timings; a failing check stops the plan
// and --resume finishes it without redoing the steps before.
func TestRecoverAndDrillFilesPlan(t *testing.T) {
	var healthy atomic.Bool

	healthy.Store(true)

	var notices atomic.Value

	notices.Store("")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/hook" {
			b, _ := io.ReadAll(req.Body)
			notices.Store(notices.Load().(string) + string(b) + "\n")

			return
		}

		if !healthy.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}

		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	dir := t.TempDir()
	uploads := filepath.Join(dir, "uploads")
	makeUploads(t, uploads)

	log := filepath.Join(dir, "services.log")
	plans := `plans:
  files:
    tier: important
    steps:
      - stop: {command: "echo stop >> ` + log + `"}
      - restore: uploads
        mode: "0750"
      - run: "test -f covers/book-1.jpg && echo built >> ` + log + `"
        dir: ` + uploads + `
        drill: "test -f $LIFEBOAT_RESTORED_UPLOADS/covers/book-1.jpg"
      - start: {command: "echo start >> ` + log + `"}
      - check: {url: "` + srv.URL + `/health"}
        timeout: 3s
      - notify: "uploads recovered"
`
	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+uploads+"]\n    exclude: [\"*.tmp\"]\n")
	e.writeConfig(readFile(t, e.cfg) + plans + "notify:\n  webhook: {url: \"" + srv.URL + "/hook\"}\n")
	e.mustRun("config", "check")
	e.mustRun("init")
	e.mustRun("backup", "uploads")

	// A drill leaves the live folder and the services alone.
	os.Remove(filepath.Join(uploads, "docs", "rules.pdf"))

	out := e.mustRun("drill", "files", "--output", filepath.Join(dir, "report"))
	for _, want := range []string{"[1/6] stop: echo stop", "skipped (a drill leaves services alone)", "[2/6] restore uploads ... ok in", "[5/6] check " + srv.URL + "/health ... ok in", "PASSED within the objectives", "RTO measured"} {
		if !strings.Contains(out, want) {
			t.Fatalf("drill output lacks %q:\n%s", want, out)
		}
	}

	if _, err := os.Stat(filepath.Join(uploads, "docs", "rules.pdf")); err == nil {
		t.Fatal("the drill restored into the live folder")
	}

	// The notify step went out on the configured webhook, marked as a drill.
	if got := notices.Load().(string); !strings.Contains(got, `"message":"[drill] uploads recovered"`) || !strings.Contains(got, `"subject":"plan files"`) {
		t.Fatalf("webhook received: %q", got)
	}

	if _, err := os.Stat(log); err == nil {
		t.Fatalf("the drill ran the service commands: %s", readFile(t, log))
	}

	var rep plan.Run
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "report", "report.json"))), &rep); err != nil {
		t.Fatal(err)
	}

	if rep.Mode != "drill" || !rep.OK() || rep.RTOSeconds <= 0 || rep.RPOSeconds <= 0 || rep.RTOObjective != 24*3600 || len(rep.Steps) != 6 {
		t.Fatalf("drill report: %+v", rep)
	}

	for _, st := range rep.Steps {
		if st.Status == plan.StatusOK && st.Started.IsZero() {
			t.Fatalf("step without timing: %+v", st)
		}
	}

	md := readFile(t, filepath.Join(dir, "report", "report.md"))
	if !strings.Contains(md, "**RTO measured:") || !strings.Contains(md, "## Isolation") || !strings.Contains(md, "temporary folder") {
		t.Fatalf("markdown report:\n%s", md)
	}

	if html := readFile(t, filepath.Join(dir, "report", "report.html")); !strings.Contains(html, `<p id="verdict">PASSED`) {
		t.Fatalf("html report:\n%s", html)
	}

	// The report is in the repository too.
	if st := e.run("status"); !strings.Contains(st.out, "files  important  ") || !strings.Contains(st.out, "PASSED within the objectives") {
		t.Fatalf("status lacks the plan's drill:\n%s", st.out)
	}

	if shown := e.mustRun("drill", "--show", rep.ID, "--format", "json"); !strings.Contains(shown, `"id": "`+rep.ID+`"`) {
		t.Fatalf("drill --show: %s", shown)
	}

	// The dry run estimates from that drill.
	out = e.mustRun("recover", "files", "--dry-run")
	if !strings.Contains(out, "estimates from the drill "+rep.ID) || !strings.Contains(out, "restore uploads (about") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("dry run:\n%s", out)
	}

	// A real recovery whose check fails: it stops there.
	healthy.Store(false)

	r := e.expectFailure(1, []string{"recovery plan failed: step 5 (check " + srv.URL + "/health)", "no 2xx answer within the step's timeout of 3s", "503", "--resume"}, "recover", "files")
	if !strings.Contains(r.out, "saved") && !strings.Contains(r.out, "safety snapshot") {
		t.Fatalf("recover did not report the safety snapshot:\n%s", r.out)
	}

	if got := readFile(t, filepath.Join(uploads, "docs", "rules.pdf")); got != "rules v1" {
		t.Fatalf("the recovery did not restore the file: %q", got)
	}

	// What the source leaves out on purpose is not in the snapshot, and the
	// recovery does not delete it.
	if got := readFile(t, filepath.Join(uploads, "docs", "draft.tmp")); got != "excluded by glob" || !strings.Contains(r.out, "left in place") {
		t.Fatalf("an excluded file was touched (%q) or not reported:\n%s", got, r.out)
	}

	if fi, _ := os.Stat(filepath.Join(uploads, "docs")); fi.Mode().Perm() != 0o750 {
		t.Fatalf("mode not applied: %v", fi.Mode())
	}

	if fi, _ := os.Stat(filepath.Join(uploads, "covers", "book-1.jpg")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("files keep no execute bit under mode 0750: %v", fi.Mode())
	}

	if got := readFile(t, log); got != "stop\nbuilt\nstart\n" {
		t.Fatalf("service log: %q", got)
	}

	// The service comes up; --resume runs only the check and the notify.
	healthy.Store(true)

	out = e.mustRun("recover", "files", "--resume")
	if !strings.Contains(out, "from step 5 (4 steps done before)") || !strings.Contains(out, "[5/6] check") || strings.Contains(out, "[2/6]") || !strings.Contains(out, "PASSED") {
		t.Fatalf("resume:\n%s", out)
	}

	if got := readFile(t, log); got != "stop\nbuilt\nstart\n" {
		t.Fatalf("resume redid earlier steps: %q", got)
	}

	audit := readFile(t, filepath.Join(e.dir, "audit.jsonl"))
	for _, want := range []string{`"action":"recover step"`, `"action":"drill"`, `"action":"recover","outcome":"failed"`, `"action":"recover","outcome":"ok"`} {
		if !strings.Contains(audit, want) {
			t.Fatalf("audit lacks %s:\n%s", want, audit)
		}
	}

	incidents := e.records(plan.KindIncident)
	if len(incidents) != 2 {
		t.Fatalf("want 2 incident records (the failed run and its resumption), got %d", len(incidents))
	}

	// Bad input.
	e.expectFailure(2, []string{`unknown plan "nosuch"`, "defines files"}, "recover", "nosuch")
	e.expectFailure(2, []string{"no failed recovery to resume"}, "recover", "files", "--resume")
	e.expectFailure(2, []string{"--resume goes on with the failed run's own recovery point and time"}, "recover", "files", "--resume", "--to-time", "2026-11-01")

	// A check URL nobody answers: the timeout is named.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	e.writeConfig(strings.Replace(readFile(t, e.cfg), srv.URL, "http://"+dead, 1))
	e.expectFailure(1, []string{"check http://" + dead + "/health: no 2xx answer within the step's timeout of 3s", "connection refused"}, "drill", "files")
}

// TestPlanConfigErrors: unknown step kinds, unknown sources and plans, loops
// and bad options are caught by config check, before anything runs.
func TestPlanConfigErrors(t *testing.T) {
	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+t.TempDir()+"]\n")
	base := readFile(t, e.cfg)

	for _, c := range []struct {
		plans string
		want  []string
	}{
		{"plans:\n  p:\n    steps:\n      - reboot: now\n", []string{"plans.p.steps[0]: unknown step kind; expected one of: stop, start, restore, run, check, notify, plan"}},
		{"plans:\n  p:\n    steps:\n      - restore: database\n", []string{`plans.p.steps[0].restore: source "database" does not exist; expected one of: uploads`}},
		{"plans:\n  p:\n    steps:\n      - plan: q\n", []string{`plans.p.steps[0].plan: plan "q" does not exist`}},
		{"plans:\n  p:\n    steps:\n      - plan: q\n  q:\n    steps:\n      - plan: p\n", []string{"plans include each other in a loop: p → q → p"}},
		{"plans:\n  p:\n    steps:\n      - check: {url: \"ftp://x\"}\n", []string{"plans.p.steps[0].check.url: expected an http:// or https:// URL"}},
		{"plans:\n  p:\n    steps:\n      - check: {sql: \"SELECT 1\", source: uploads}\n", []string{`source "uploads" is not a database`}},
		{"plans:\n  p:\n    steps:\n      - restore: uploads\n        mode: rwx\n", []string{"plans.p.steps[0].mode: expected an octal mode"}},
		{"plans:\n  p:\n    steps:\n      - restore: uploads\n        to_time: '2026-01-01'\n", []string{"a point in time is for database sources"}},
		{"plans:\n  p:\n    tier: gold\n    steps:\n      - notify: hi\n", []string{`plans.p.tier: unknown tier "gold"`}},
		{"plans:\n  p:\n    steps: []\n", []string{"plans.p.steps: expected a list of steps"}},
		{"plans:\n  p:\n    steps:\n      - {stop: nginx, start: nginx}\n", []string{"a step has one kind"}},
	} {
		e.writeConfig(base + c.plans)

		before := e.repoFiles()
		e.expectFailure(2, append(c.want, "lifeboat.yaml:"), "config", "check")

		if !sameMap(before, e.repoFiles()) {
			t.Fatal("config check wrote to the repository")
		}
	}
}
