package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/report"
)

// TestReport: a period with two backups, one failed attempt, a restore, a
// restore test and a drill is reported with the success rate, the RPO
// attained, retention conformance and who restored what; the HTML page
// renders in a real browser.
func TestReport(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(data, "a.txt"), "alpha")

	docs := filepath.Join(t.TempDir(), "docs")
	write(t, filepath.Join(docs, "rules.pdf"), "rules")

	cfgText := "  uploads:\n    type: files\n    tier: important\n    paths: [" + data + "]\n    retention: {latest: 1}\n" +
		"  docs:\n    type: files\n    paths: [" + docs + "]\n    retention: {daily: 7}\n" +
		"plans:\n  files:\n    steps:\n      - restore: uploads\n"
	e := newEnv(t, cfgText)
	e.mustRun("init")
	e.mustRun("backup", "docs")
	e.mustRun("backup", "uploads")
	time.Sleep(1500 * time.Millisecond) // the second backup of uploads lands in a later second than the first; not a wait
	write(t, filepath.Join(data, "b.txt"), "beta")
	e.mustRun("backup", "uploads")

	// A failed attempt: the folder is gone for a moment.
	os.Rename(data, data+".away")
	e.expectFailure(1, []string{"does not exist"}, "backup", "uploads")
	os.Rename(data+".away", data)

	e.mustRun("restore", "uploads", "--target", filepath.Join(t.TempDir(), "r"))
	e.mustRun("verify", "uploads", "--restore-test")
	e.mustRun("drill", "files")

	var rep report.Report
	if err := json.Unmarshal([]byte(e.mustRun("report", "--since", "1d", "--format", "json")), &rep); err != nil {
		t.Fatal(err)
	}

	if len(rep.Sources) != 2 || rep.Sources[0].Source != "uploads" || len(rep.Plans) != 1 {
		t.Fatalf("report: %+v", rep)
	}

	s := rep.Sources[0]
	if s.Backups != 2 || s.Failed != 1 || s.SuccessRate < 66.6 || s.SuccessRate > 66.7 || s.RetentionOverdue != 1 || s.Retention != "latest 1" {
		t.Fatalf("source: %+v", s)
	}

	// The worst RPO is at least the gap between the backups (or the age of the
	// newest); it is within the 24 h objective.
	if s.RPOWorst < 1.5 || s.RPOP95 <= 0 || s.RPOP95 > s.RPOWorst || !s.RPOMet || s.RestoreTestOK == nil || !*s.RestoreTestOK {
		t.Fatalf("source RPO and tests: %+v", s)
	}

	p := rep.Plans[0]
	if p.Plan != "files" || p.Drills != 1 || !p.DrillOK || !p.Met || p.RTOSeconds <= 0 || p.RTOObjective != 86400 {
		t.Fatalf("plan: %+v", p)
	}

	var restores int

	for _, a := range rep.Activity {
		if a.Action == "restore" && a.Source == "uploads" && strings.Contains(a.Actor, "@") {
			restores++
		}
	}

	if restores != 1 {
		t.Fatalf("activity: %+v", rep.Activity)
	}

	// Seven dailies promise six days back; the first backup is seconds old.
	if d := rep.Sources[1]; d.PromisedSeconds != 6*86400 || d.ReachSeconds <= 0 || d.ReachSeconds > 600 || d.Pruned {
		t.Fatalf("docs reach: %+v", d)
	}

	if !strings.Contains(strings.Join(rep.Findings, "\n"), "docs: retention (daily 7) promises restores 6.0d back; backups began") ||
		strings.Contains(strings.Join(rep.Findings, "\n"), "uploads: retention") ||
		!strings.Contains(strings.Join(rep.Findings, "\n"), "uploads: 1 snapshots are past retention") ||
		!strings.Contains(strings.Join(rep.Findings, "\n"), "uploads: 1 of its backup attempts failed") {
		t.Fatalf("findings: %q", rep.Findings)
	}

	md := e.mustRun("report", "--since", "1d")
	if !strings.Contains(md, "| uploads | important | 2 | 66.7% |") || !strings.Contains(md, "| files | important | 1 |") {
		t.Fatalf("markdown:\n%s", md)
	}

	e.expectFailure(2, []string{`--since "soon"`}, "report", "--since", "soon")
	e.expectFailure(2, []string{`--format "pdf"`}, "report", "--format", "pdf")

	// The page in a real browser: its tables hold the same numbers.
	page := filepath.Join(t.TempDir(), "report.html")
	write(t, page, e.mustRun("report", "--since", "1d", "--format", "html"))

	dom := browserDOM(t, page)
	for _, want := range []string{"<td>uploads</td><td>important</td><td>2</td><td>66.7%</td>", "<li>uploads: 1 snapshots are past retention", "<td>files</td><td>important</td><td>1</td>"} {
		if !strings.Contains(dom, want) {
			t.Fatalf("the browser's DOM lacks %q:\n%s", want, dom)
		}
	}
}

// browserDOM loads a page in headless Chromium and returns the DOM it built.
func browserDOM(t *testing.T, path string) string {
	t.Helper()

	var bin string

	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}

	if bin == "" {
		t.Fatal("chromium is not installed: the HTML reports are checked in a real browser; install it with `apt-get install chromium` (make test does)")
	}

	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://"+path)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())

	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}

	return string(out)
}
