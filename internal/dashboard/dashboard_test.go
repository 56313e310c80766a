package dashboard_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lifeboat/internal/api"
	"lifeboat/internal/audit"
	"lifeboat/internal/copies"
	"lifeboat/internal/repo"
)

// when and dur print times and durations as the pages do.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}

	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

func dur(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.1fs", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
	case s < 48*3600:
		return fmt.Sprintf("%dh%02dm", int(s)/3600, int(s)%3600/60)
	}

	return fmt.Sprintf("%dd%dh", int(s)/86400, int(s)%86400/3600)
}

// TestDashboardInABrowser drives every screen in headless Chromium against
// the real API on a real repository: an admin logs in with a second
// factor, each screen shows the API's figures, a backup runs from the
// overview and its job streams, a restore runs through the wizard into a
// folder, a file downloads from the snapshot browser; then a viewer sees
// no restore, backup or prune controls, and the API refuses them anyway.
// Every screen is shot at 1280 px and at phone width, light and dark.
func TestDashboardInABrowser(t *testing.T) {
	s := newSite(t)
	s.compression(t)

	b := newBrowser(t, s.url)

	s.singleSignOn(t, b)
	s.login(t, b)
	s.overview(t, b)
	s.jobs(t, b)
	newest := s.timeline(t, b)
	s.restore(t, b, newest)
	s.restoreProduction(t, b)
	s.browse(t, b, newest)
	s.keepAndPrune(t, b, newest)
	s.audit(t, b)
	s.copiesAndDrills(t, b)
	s.viewer(t, b)
	s.account(t, b)
	s.weigh(t, b)
}

func (s *site) login(t *testing.T, b *browser) {
	// A page without a session sends the browser to the login.
	b.do("open /", chromedp.Navigate(s.url+"/"))
	b.wait(`location.pathname === "/login"`, "the redirect to the login")

	if got := b.location(); got != "/login?next=%2F" {
		t.Fatalf("without a session / went to %s, want /login?next=%%2F", got)
	}

	b.ready("login")
	b.shot("login")

	// A wrong code is refused with the server's reason, on the login page.
	b.do("log in with a wrong code", chromedp.SendKeys(chromedp.CSS("#user"), "admin"), chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.SendKeys(chromedp.CSS("#totp"), wrongCode(s.code(t, 0))), chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait(`!document.getElementById("error").hidden`, "the refusal shown")

	if msg := b.text(`document.getElementById("error").textContent`); !strings.Contains(msg, "login refused") {
		t.Fatalf("a wrong code shows %q, want the server's refusal", msg)
	}

	if got := b.location(); !strings.HasPrefix(got, "/login") {
		t.Fatalf("a refused login went to %s", got)
	}

	s.loginAt = time.Now()
	b.do("log in", chromedp.SendKeys(chromedp.CSS("#password"), adminPassword), chromedp.SendKeys(chromedp.CSS("#totp"), s.code(t, 0)),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait(`location.pathname === "/"`, "the overview after the login")
	b.ready("overview")

	if who := b.text(`document.getElementById("who").textContent`); who != "admin · admin" {
		t.Fatalf("the header says %q, want admin · admin", who)
	}
}

// wrongCode is a six-digit code that is not c.
func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}

	return "000000"
}

// cells is a table row's cells by class.
type cells map[string]string

const rowJS = `Object.fromEntries([...document.querySelector(%q).cells].map((c, i) => [c.className.startsWith("c-") ? c.className.split(" ")[0] : "col" + i, c.textContent]))`

func (s *site) overview(t *testing.T, b *browser) {
	var st api.Status
	s.get(t, "/api/v1/status", &st)

	src := st.Sources[0]

	var row cells
	b.eval(fmt.Sprintf(rowJS, `tr[data-source="data"]`), &row)

	want := cells{
		"c-name": "data" + "files", "c-tier": "critical",
		"c-last":       when(src.LastBackup) + " (full)",
		"c-restorable": when(src.Restorable),
		"c-verify":     "ok " + when(src.Verify.At),
		"c-test":       "never",
		"c-copies":     copiesText(src.Copies),
		"c-rto":        fmt.Sprintf("%s / %s%s", dur(src.Drill.RTOSeconds), dur(src.Drill.RTOObjective), src.Drill.Plan),
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("overview %s: %q, the API says %q", k, row[k], v)
		}
	}

	// The RPO moves on each second: its objective and its colour are fixed.
	if !strings.HasSuffix(row["c-rpo"], " / "+dur(src.Objective)) {
		t.Errorf("overview RPO %q, want the objective %s", row["c-rpo"], dur(src.Objective))
	}

	if cls := b.text(`document.querySelector('tr[data-source="data"] .c-rpo').className`); cls != "c-rpo green" {
		t.Errorf("the RPO %s of %s is shown as %q, want green", dur(src.RPO), dur(src.Objective), cls)
	}

	var days []string
	b.eval(`[...document.querySelectorAll('tr[data-source="data"] .day')].map((d) => d.className)`, &days)

	if len(days) != len(src.Days) || days[len(days)-1] != "day ok" {
		t.Errorf("the 30-day strip %v, the API's days %+v", days, src.Days)
	}

	alerts := b.text(`document.getElementById("alerts").textContent`)
	if !src.OK || alerts != "No alerts: every source is within its objective." {
		t.Errorf("alerts %q; the API says ok=%v problem=%q", alerts, src.OK, src.Problem)
	}

	b.shot("overview")
}

func copiesText(c copies.Summary) string {
	mark := "✗"
	if c.Meets {
		mark = "✓"
	}

	return fmt.Sprintf("%d copies, %d media, %d off site %s", c.Copies, c.Media, c.Offsite, mark)
}

// jobs starts a backup from the overview and follows it on the jobs page.
func (s *site) jobs(t *testing.T, b *browser) {
	b.do("back up from the overview", chromedp.Click(chromedp.CSS(`tr[data-source="data"] [data-action="backup"]`)))
	b.wait(`location.pathname === "/jobs"`, "the jobs page after the backup")
	b.ready("jobs")
	b.wait(`[...document.querySelectorAll(".c-state")].some((c) => c.textContent === "succeeded")`, "the backup job succeeded on the page")

	var jobs []api.Job
	s.get(t, "/api/v1/jobs", &jobs)

	id := strings.TrimPrefix(b.location(), "/jobs?job=")
	if len(jobs) != 1 || jobs[0].ID != id || jobs[0].State != "succeeded" || jobs[0].Action != "backup" {
		t.Fatalf("the page followed job %s; the API's jobs: %+v", id, jobs)
	}

	b.wait(`document.getElementById("job-log").textContent.includes("job succeeded")`, "the job's streamed log")
	b.shot("jobs")
}

// timeline checks the snapshots' ticks and opens the wizard at the newest
// by clicking the timeline's right end; it returns the newest backup.
func (s *site) timeline(t *testing.T, b *browser) *repo.Snapshot {
	var snaps []*repo.Snapshot
	s.get(t, "/api/v1/snapshots?source=data", &snaps)

	var backups []*repo.Snapshot

	for _, sn := range snaps {
		if sn.Role == repo.RoleBackup {
			backups = append(backups, sn)
		}
	}

	newest := backups[len(backups)-1]

	b.open("/timeline?source=data")

	var ticks int
	b.eval(`document.querySelectorAll("svg.tl .tick").length`, &ticks)

	if ticks != len(backups) {
		t.Fatalf("the timeline shows %d ticks, the API %d backups", ticks, len(backups))
	}

	if sum := b.text(`document.getElementById("tl-summary").textContent`); !strings.Contains(sum, "Latest: "+when(newest.Time)) {
		t.Fatalf("the timeline says %q, want the newest backup %s", sum, when(newest.Time))
	}

	b.shot("timeline")

	// A click just after the newest tick picks the newest backup.
	b.text(`(() => { const s = document.querySelector("svg.tl"), r = s.getBoundingClientRect();
		const x = Math.max(...[...s.querySelectorAll(".tick")].map((l) => l.getBoundingClientRect().right));
		s.dispatchEvent(new MouseEvent("click", {clientX: Math.min(x + 1, r.right - 1), clientY: r.top + r.height / 2, bubbles: true})); return "" })()`)
	b.wait(`location.pathname === "/restore" || document.getElementById("tl-pick").textContent || !document.getElementById("error").hidden`, "the timeline's answer to the click")
	b.wait(`location.pathname === "/restore"`, "the wizard opened from the timeline: "+b.text(`(document.getElementById("tl-pick") || {}).textContent + (document.getElementById("error") || {}).textContent`))

	if got, want := b.location(), "/restore?source=data&snapshot="+newest.ID; got != want {
		t.Fatalf("the timeline's newest instant opened %s, want %s", got, want)
	}

	return newest
}

func (s *site) restore(t *testing.T, b *browser, newest *repo.Snapshot) {
	b.ready("restore")

	if v := b.text(`document.getElementById("r-snapshot").value`); v != newest.ID {
		t.Fatalf("the wizard chose snapshot %q, want %s", v, newest.ID)
	}

	// A relative folder is refused before anything runs.
	b.do("a relative target", chromedp.SendKeys(chromedp.CSS("#r-target"), "restored"), chromedp.Click(chromedp.CSS("#r-plan")))

	if msg := b.text(`document.getElementById("error").textContent`); !strings.Contains(msg, "absolute path") {
		t.Fatalf("a relative target shows %q", msg)
	}

	if b.text(`String(document.getElementById("r-plan-box").hidden)`) != "true" {
		t.Fatal("a relative target still shows a plan")
	}

	target := filepath.Join(s.dir, "restored")
	b.do("plan the restore", chromedp.SetValue(chromedp.CSS("#r-target"), target), chromedp.Click(chromedp.CSS("#r-plan")))

	plan := b.text(`document.getElementById("r-plan-list").textContent`)
	for _, want := range []string{newest.ID[:12], "scratch folder " + target, "Last drill"} {
		if !strings.Contains(plan, want) {
			t.Fatalf("the plan %q lacks %q", plan, want)
		}
	}

	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("the plan alone touched %s: %v", target, err)
	}

	b.shot("restore-plan")
	b.do("run the restore", chromedp.Click(chromedp.CSS("#r-run")))
	b.wait(`document.getElementById("r-state")`, "the restore's result")

	if st := b.text(`document.getElementById("r-state").textContent`); st != "Restore succeeded" {
		t.Fatalf("the wizard says %q", st)
	}

	var checks []string
	b.eval(`[...document.querySelectorAll("#r-result li.green, #r-result li.red")].map((l) => l.textContent)`, &checks)

	want := []string{"Restore succeeded", fmt.Sprintf("✓ %d of the snapshot's %d files restored", newest.Files, newest.Files)}
	if len(checks) < 3 || !slices.Equal(checks[:2], want) || !strings.HasPrefix(checks[2], "✓ ") {
		t.Fatalf("the result's checks %q, want %q and the bytes", checks, want)
	}

	if got := readBelow(t, target, "readme.txt"); got != "the second version\n" {
		t.Fatalf("the restored readme.txt holds %q", got)
	}

	b.shot("restore-result")
}

// readBelow reads the one file named name below dir.
func readBelow(t *testing.T, dir, name string) string {
	t.Helper()

	var found []string

	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			found = append(found, p)
		}

		return nil
	})

	if len(found) != 1 {
		t.Fatalf("%s below %s: found %v", name, dir, found)
	}

	b, err := os.ReadFile(found[0])
	if err != nil {
		t.Fatal(err)
	}

	return string(b)
}

// browse walks the newest snapshot's tree down to readme.txt and
// downloads it.
func (s *site) browse(t *testing.T, b *browser, newest *repo.Snapshot) {
	var entries []repo.Entry
	s.get(t, "/api/v1/snapshots/"+newest.ID+"/tree", &entries)

	b.open("/browse?source=data&snapshot=" + newest.ID)

	for range 8 {
		var names []string
		b.eval(`[...document.querySelectorAll("#tree-table tbody td:first-child")].map((c) => c.textContent)`, &names)

		if slices.Contains(names, "readme.txt") {
			break
		}

		// The way down is the folders of readme.txt's path in the API's
		// tree.
		next := ""

		for _, e := range entries {
			if strings.HasSuffix(e.Path, "/docs/readme.txt") || e.Path == "docs/readme.txt" {
				for _, part := range strings.Split(strings.Trim(e.Path, "/"), "/") {
					if slices.Contains(names, part+"/") {
						next = part + "/"
					}
				}
			}
		}

		if next == "" {
			t.Fatalf("the browser lists %v, none on the way to readme.txt", names)
		}

		b.text(fmt.Sprintf(`[...document.querySelectorAll("#tree-table tbody button.link")].find((e) => e.textContent === %q).click() || ""`, next))
	}

	var size, mode string
	b.eval(`[...document.querySelectorAll("#tree-table tbody tr")].find((r) => r.cells[0].textContent === "readme.txt").cells[1].textContent`, &size)
	b.eval(`[...document.querySelectorAll("#tree-table tbody tr")].find((r) => r.cells[0].textContent === "readme.txt").cells[2].textContent`, &mode)

	for _, e := range entries {
		if strings.HasSuffix(e.Path, "readme.txt") {
			if size != fmt.Sprintf("%d B", e.Size) || mode != e.Mode.String() {
				t.Fatalf("readme.txt shows size %q mode %q; the API: %d %v", size, mode, e.Size, e.Mode)
			}
		}
	}

	b.shot("browse")

	got := b.text(`fetch(document.querySelector('a[aria-label="Download readme.txt"]').href).then((r) => r.text())`)
	if got != "the second version\n" {
		t.Fatalf("the download holds %q", got)
	}

	// Against the first backup, only readme.txt changed.
	var snaps []*repo.Snapshot
	s.get(t, "/api/v1/snapshots?source=data", &snaps)

	b.do("compare with the first backup", chromedp.SetValue(chromedp.CSS("#b-other"), snaps[0].ID), chromedp.Click(chromedp.CSS("#b-compare")))
	b.wait(`document.getElementById("cmp-summary").textContent`, "the comparison")

	var diff []string
	b.eval(`[...document.querySelectorAll("#cmp-table tbody tr")].map((r) => r.cells[0].textContent + " " + r.cells[1].textContent)`, &diff)

	if sum := b.text(`document.getElementById("cmp-summary").textContent`); len(diff) != 1 || !strings.HasPrefix(diff[0], "changed ") ||
		!strings.HasSuffix(diff[0], "docs/readme.txt") || !strings.HasPrefix(sum, "0 added, 0 removed, 1 changed") {
		t.Fatalf("the comparison with the first backup: %q %v", sum, diff)
	}

	b.shot("browse-compare")
}

func (s *site) audit(t *testing.T, b *browser) {
	b.open("/audit")
	b.wait(`document.getElementById("chain").textContent.startsWith("Chain intact")`, "the chain's state")

	var recs []audit.Record
	s.get(t, "/api/v1/audit", &recs)

	want := 0

	for _, r := range recs {
		if strings.Contains(r.Action, "download") {
			want++
		}
	}

	b.do("filter the audit trail", chromedp.SendKeys(chromedp.CSS("#a-action"), "download"))

	var rows int
	b.eval(`document.querySelectorAll("#audit-table tbody tr:not(:has(.empty))").length`, &rows)

	if want != 1 || rows != want {
		t.Fatalf("filtered by download, the audit page shows %d rows; the API has %d such records", rows, want)
	}

	// Sorted by its header, the list runs oldest first, then newest first.
	b.text(`(() => { const f = document.getElementById("a-action"); f.value = ""; f.dispatchEvent(new Event("input", {bubbles: true})); return "" })()`)

	for _, order := range []string{"ascending", "descending"} {
		b.do("sort by #", chromedp.Click(chromedp.CSS(`#audit-table th[data-key="seq"] button`)))

		var seqs []int
		b.eval(`[...document.querySelectorAll("#audit-table tbody tr")].map((r) => Number(r.cells[0].textContent))`, &seqs)

		sorted := slices.IsSorted(seqs)
		if order == "descending" {
			slices.Reverse(seqs)
			sorted = slices.IsSorted(seqs)
		}

		if len(seqs) < 10 || !sorted {
			t.Fatalf("sorted %s by #, the audit page shows %v", order, seqs)
		}
	}

	b.shot("audit")
}

func (s *site) copiesAndDrills(t *testing.T, b *browser) {
	var cps []*copies.Copy
	s.get(t, "/api/v1/copies", &cps)

	b.open("/copies")

	var row cells
	b.eval(fmt.Sprintf(rowJS, `#copies-table tbody tr`), &row)

	if row["col3"] != when(cps[0].Replicated) || row["col0"] != "near" {
		t.Fatalf("the copies page shows %v; the API %+v", row, cps[0])
	}

	b.shot("copies")

	var rep struct {
		Plans []struct {
			Plan       string  `json:"plan"`
			RTO        float64 `json:"rto_seconds"`
			RTOObj     float64 `json:"rto_objective_seconds"`
			LastDrill  string  `json:"last_drill"`
			LastDrillK bool    `json:"last_drill_ok"`
		} `json:"plans"`
	}
	s.get(t, "/api/v1/reports/compliance?since=30d", &rep)

	b.open("/drills")

	row = nil
	b.eval(fmt.Sprintf(rowJS, `#plans-table tbody tr`), &row)

	p := rep.Plans[0]
	if row["col0"] != p.Plan || row["col3"] != dur(p.RTO)+" / "+dur(p.RTOObj) || !strings.HasSuffix(row["col2"], " ok") {
		t.Fatalf("the drills page shows %v; the report %+v", row, p)
	}

	var runs []struct {
		ID   string  `json:"id"`
		RTO  float64 `json:"rto_seconds"`
		Obj  float64 `json:"rto_objective_seconds"`
		Step []struct {
			Title string `json:"title"`
		} `json:"steps"`
	}
	s.get(t, "/api/v1/drills", &runs)

	row = nil
	b.eval(fmt.Sprintf(rowJS, `#drills-table tbody tr`), &row)

	if len(runs) != 1 || row["col1"] != "recover-data" || row["col2"] != "ok" || row["col3"] != dur(runs[0].RTO)+" / "+dur(runs[0].Obj) ||
		!strings.HasPrefix(row["col5"], fmt.Sprintf("%d step", len(runs[0].Step))) {
		t.Fatalf("the drills list shows %v; the API %+v", row, runs)
	}

	for _, link := range []string{"d-md", "d-html"} {
		body := b.text(fmt.Sprintf(`fetch(document.getElementById(%q).href).then((r) => r.text())`, link))
		if !strings.Contains(body, "recover-data") {
			t.Fatalf("the %s evidence lacks the plan: %.200s", link, body)
		}
	}

	b.shot("drills")
	s.cancel(t, b)

	b.open("/account")

	if role := b.text(`document.getElementById("acc-role").textContent`); role != "admin" {
		t.Fatalf("the account page says role %q", role)
	}

	s.manageUsers(t, b)
	b.shot("account")
}

// viewer logs out, logs in as a viewer, finds no control to act with,
// and has the API refuse a restore and a prune it tries anyway.
func (s *site) viewer(t *testing.T, b *browser) {
	b.do("log out", chromedp.Click(chromedp.CSS("#logout")))
	b.wait(`location.pathname === "/login"`, "the login after logging out")
	b.ready("login")
	b.do("log in as viewer", chromedp.SendKeys(chromedp.CSS("#user"), "viewer"), chromedp.SendKeys(chromedp.CSS("#password"), viewerPassword),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait(`location.pathname === "/"`, "the viewer's overview")
	b.ready("overview")

	for _, page := range []string{"/", "/timeline?source=data", "/restore?source=data", "/jobs", "/copies", "/drills", "/browse?source=data"} {
		if page != "/" {
			b.open(page)
		}

		var controls []string
		b.eval(`[...document.querySelectorAll("[data-action], #r-run, #r-prod, a[download]:not([id^=d-]), a[href^='/restore']")].map((e) => e.outerHTML)`, &controls)

		if len(controls) > 0 {
			t.Errorf("a viewer sees controls on %s: %v", page, controls)
		}
	}

	b.open("/")
	b.shot("overview-viewer")

	var before []api.Job
	s.get(t, "/api/v1/jobs", &before)

	var snaps []*repo.Snapshot
	s.get(t, "/api/v1/snapshots?source=data", &snaps)

	var answers []string
	b.eval(`Promise.all([["/api/v1/restore", {source: "data", target: "/srv/scratch"}], ["/api/v1/prune", {dry_run: false}],
		["/api/v1/snapshots/`+snaps[0].ID+`/pin", {reason: "mine"}], ["/api/v1/snapshots/`+snaps[0].ID+`/unpin", {}]].map(([p, body]) =>
		fetch("/api/v1/session").then((r) => r.json()).then((sess) => fetch(p, {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": sess.csrf_token}, body: JSON.stringify(body)}))
		.then(async (r) => r.status + " " + (await r.json()).error)))`, &answers)

	for i, want := range []string{"restore-scratch", "prune", "prune", "prune"} {
		if !strings.HasPrefix(answers[i], "403 ") || !strings.Contains(answers[i], want) {
			t.Errorf("the viewer's POST was answered %q, want 403 naming %s", answers[i], want)
		}
	}

	var jobs []api.Job
	s.get(t, "/api/v1/jobs", &jobs)

	if len(jobs) != len(before) {
		t.Fatalf("the viewer's refused requests started jobs: %+v", jobs)
	}

	var pins map[string]api.PinInfo
	if s.get(t, "/api/v1/pins", &pins); len(pins) != 0 {
		t.Fatalf("the viewer's refused pin left pins: %+v", pins)
	}
}

// cancel starts the slow plan's drill from the drills page and cancels it
// from the jobs page while it runs.
func (s *site) cancel(t *testing.T, b *browser) {
	b.do("drill the slow plan", chromedp.Click(chromedp.CSS(`button[aria-label="Drill slow now"]`)))
	b.wait(`location.pathname === "/jobs"`, "the jobs page after the drill")
	b.ready("jobs")

	id := strings.TrimPrefix(b.location(), "/jobs?job=")
	b.wait(fmt.Sprintf(`document.querySelector('tr[data-job=%q] [data-action="cancel"]')`, id), "the running drill's cancel button")
	b.do("cancel the drill", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-job=%q] [data-action="cancel"]`, id))))
	b.wait(fmt.Sprintf(`document.querySelector('tr[data-job=%q] .c-state').textContent === "cancelled"`, id), "the drill cancelled on the page")

	var job api.Job
	s.get(t, "/api/v1/jobs/"+id, &job)

	if job.State != api.JobCancelled || job.Action != "drill" || job.End.Sub(job.Start) > 30*time.Second {
		t.Fatalf("the cancelled drill: %+v", job)
	}
}

// restoreProduction has the admin restore over the source's own folder:
// refused until the source's name is typed, then run after a safety
// snapshot of what it overwrites.
func (s *site) restoreProduction(t *testing.T, b *browser) {
	b.open("/restore?source=data")
	b.do("a production restore, the wrong name typed", chromedp.Click(chromedp.CSS("#r-prod")), chromedp.SetValue(chromedp.CSS("#r-target"), s.data),
		chromedp.SetValue(chromedp.CSS("#r-confirm"), "dat"), chromedp.Click(chromedp.CSS("#r-plan")))

	if msg := b.text(`document.getElementById("error").textContent`); !strings.Contains(msg, "type the source's name, data,") {
		t.Fatalf("a production restore without the name typed shows %q", msg)
	}

	b.do("type the name", chromedp.SetValue(chromedp.CSS("#r-confirm"), "data"), chromedp.Click(chromedp.CSS("#r-plan")))

	if plan := b.text(`document.getElementById("r-plan-list").textContent`); !strings.Contains(plan, "PRODUCTION: "+s.data+", after a safety snapshot") {
		t.Fatalf("the production plan says %q", plan)
	}

	b.do("run the production restore", chromedp.Click(chromedp.CSS("#r-run")))
	b.wait(`document.getElementById("r-state")`, "the production restore's result")

	if st := b.text(`document.getElementById("r-state").textContent`); st != "Restore succeeded" {
		t.Fatalf("the production restore: %q", st)
	}

	var snaps []*repo.Snapshot
	s.get(t, "/api/v1/snapshots?source=data", &snaps)

	safety := ""

	for _, sn := range snaps {
		if sn.Role == repo.RoleSafety {
			safety = sn.ID
		}
	}

	if note := b.text(`(document.getElementById("r-safety") || {}).textContent || ""`); safety == "" || !strings.Contains(note, safety[:12]) {
		t.Fatalf("the result says %q; the safety snapshot in the repository: %q", note, safety)
	}

	if got := readBelow(t, s.data, "readme.txt"); got != "the second version\n" {
		t.Fatalf("after the production restore readme.txt holds %q", got)
	}

	b.shot("restore-production")
}
