package plan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// t0 is the first instant the test clock gives.
var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// stepClock moves one second each time it is read, so every step of a run
// takes exactly one second and every instant of the run is known.
type stepClock struct {
	mu sync.Mutex
	n  int
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()

	t := t0.Add(time.Duration(c.n) * time.Second)
	c.n++

	return t
}

// After fires at once: a run never waits on its clock.
func (c *stepClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Now()

	return ch
}

// testRepo is a fresh repository in a temporary folder: runs, points and
// records are stored where the commands keep them.
func testRepo(t *testing.T) *repo.Repository {
	t.Helper()

	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "repo")
	pw := repo.Password{Value: "p", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(context.Background()) })

	return r
}

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()

	cfg, err := config.Parse("lifeboat.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}

	return cfg
}

// appConfig is a plan with every step kind that needs no server: services,
// commands (one with a drill stand-in), a nested plan that notifies, and an
// HTTP check against url.
func appConfig(url string) string {
	return `repository: {path: /backups/lifeboat}
tiers:
  gold: {rto: 5s, rpo: 1h}
sources:
  uploads: {type: files, tier: gold, paths: [/srv/uploads]}
plans:
  app:
    tier: gold
    steps:
      - stop: web
      - run: "./migrate.sh"
      - run: "echo warming the cache"
        drill: "echo stand-in"
      - plan: tell
      - check: {url: "` + url + `"}
  tell:
    tier: gold
    steps:
      - notify: "the site is back"
`
}

func newRunner(t *testing.T, cfg *config.Config, r *repo.Repository) (*Runner, *bytes.Buffer) {
	var out bytes.Buffer

	clock := &stepClock{}

	return &Runner{Cfg: cfg, Repo: r, Out: &out, Actor: "ops", Clock: clock}, &out
}

func TestFlatten(t *testing.T) {
	cfg := parseConfig(t, appConfig("http://127.0.0.1:1/health"))

	steps, err := Flatten(cfg, "app")
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, f := range steps {
		got = append(got, f.plan+": "+f.step.Title())
	}

	want := "app: stop web|app: run: ./migrate.sh|app: run: echo warming the cache|tell: notify|app: check http://127.0.0.1:1/health"
	if strings.Join(got, "|") != want {
		t.Errorf("Flatten = %s", strings.Join(got, "|"))
	}

	rn := &Runner{Cfg: cfg}
	if got := strings.Join(rn.relatedPlans("app"), ","); got != "tell,app" {
		t.Errorf("relatedPlans = %s", got)
	}

	if _, err := Flatten(cfg, "nope"); err == nil || err.Error() != `unknown plan "nope": lifeboat.yaml defines app, tell` {
		t.Errorf("unknown plan: %v", err)
	}

	bare := parseConfig(t, "repository: {path: /backups/lifeboat}\nsources:\n  uploads: {type: files, paths: [/srv/uploads]}\n")
	if _, err := Flatten(bare, "app"); err == nil || err.Error() != "unknown plan \"app\": lifeboat.yaml defines no plans; add them under plans: (`lifeboat config example --sml-library` shows some)" {
		t.Errorf("no plans: %v", err)
	}
}

func TestDrillRunsStandInsAndMeasures(t *testing.T) {
	var hits sync.Map

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Store(r.URL.Path, true) }))
	defer srv.Close()

	r := testRepo(t)
	rn, out := newRunner(t, parseConfig(t, appConfig(srv.URL+"/health")), r)

	run, err := rn.Execute(t.Context(), "app", ModeDrill, Options{})
	if err != nil {
		t.Fatal(err)
	}

	want := "[1/5] stop web ... skipped (a drill leaves services alone)\n" +
		"[2/5] run: ./migrate.sh ... skipped (commands do not run in a drill unless the step gives a drill: command)\n" +
		"[3/5] run: echo warming the cache ... ok in 1.0s (ran the drill's command: echo stand-in)\n" +
		"[4/5] notify ... \n    notice: [drill] the site is back\n    ok in 1.0s (no notify channel is configured: printed only)\n" +
		"[5/5] check " + srv.URL + "/health ... ok in 1.0s (" + srv.URL + "/health answered 200)\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant\n%s", out, want)
	}

	if _, ok := hits.Load("/health"); !ok {
		t.Error("the check never reached the server")
	}

	// Read once for the ID, once for the start, twice per step, once
	// for the end: the check ended at t0+11s, 10s after the start.
	if run.ID[:16] != "20260504T100000Z" || !run.Started.Equal(t0.Add(time.Second)) || !run.Finished.Equal(t0.Add(12*time.Second)) {
		t.Errorf("run %s from %s to %s", run.ID, run.Started, run.Finished)
	}

	if run.Status != StatusOK || run.RTOSeconds != 10 || run.RTOObjective != 5 || run.RPOObjective != 3600 || run.RPOSeconds != 0 || run.Tier != "gold" || run.Actor != "ops" {
		t.Errorf("run %+v", run)
	}

	if v := run.Verdict(); v != "PASSED, but the measured RTO 10.0s is above the objective 5.0s" || run.WithinObjectives() {
		t.Errorf("verdict %q, within %v", v, run.WithinObjectives())
	}

	wantIso := []string{
		"stop web: a drill leaves services alone",
		"run: ./migrate.sh: commands do not run in a drill unless the step gives a drill: command",
		"run: echo warming the cache: ran the drill's command instead",
		"check " + srv.URL + "/health: checked the URL as configured (no drill_url)",
	}
	if strings.Join(run.Isolation, "\n") != strings.Join(wantIso, "\n") {
		t.Errorf("isolation:\n%s", strings.Join(run.Isolation, "\n"))
	}

	var statuses []string
	for _, st := range run.Steps {
		statuses = append(statuses, st.Plan+"/"+st.Status)
	}

	if got := strings.Join(statuses, " "); got != "app/skipped app/skipped app/ok tell/ok app/ok" {
		t.Errorf("steps: %s", got)
	}

	// The run is recorded as a drill and reads back the same.
	latest, err := Latest(t.Context(), r, KindDrill, "app")
	if err != nil || latest == nil || latest.ID != run.ID || len(latest.Steps) != 5 || latest.RTOSeconds != 10 {
		t.Fatalf("recorded drill: %+v %v", latest, err)
	}

	if inc, err := Latest(t.Context(), r, KindIncident, "app"); inc != nil || err != nil {
		t.Errorf("a drill recorded as an incident: %v %v", inc, err)
	}
}

func TestDryRunEstimatesFromTheLastDrill(t *testing.T) {
	url := "http://ops:secret@127.0.0.1:9/health"
	r := testRepo(t)
	cfg := parseConfig(t, appConfig(url))
	rn, out := newRunner(t, cfg, r)

	if err := rn.DryRun(t.Context(), "app", ModeRecover, Options{}); err != nil {
		t.Fatal(err)
	}

	want := "recover plan app (tier gold: RTO objective 5s, RPO objective 1h0m0s); never drilled: no estimates\n" +
		"[1/5] stop web (no estimate): systemctl stop web\n" +
		"[2/5] run: ./migrate.sh (no estimate): runs ./migrate.sh\n" +
		"[3/5] run: echo warming the cache (no estimate): runs echo warming the cache\n" +
		"[4/5] notify (no estimate): sends: the site is back\n" +
		"[5/5] check http://ops:xxxxx@127.0.0.1:9/health (no estimate): GET http://ops:xxxxx@127.0.0.1:9/health must answer 2xx within 30s\n" +
		"estimated total: 0.0s plus 5 steps without an estimate (run `lifeboat drill app`); nothing was changed\n"
	if out.String() != want {
		t.Errorf("dry run:\n%s\nwant\n%s", out, want)
	}

	// A drill's timings: the steps that ran (not the skipped ones).
	drill := &Run{ID: "d1", Plan: "app", Mode: ModeDrill, Started: t0, Steps: []StepResult{
		{Plan: "app", Title: "stop web", Status: StatusSkipped, Seconds: 9},
		{Plan: "app", Title: "run: echo warming the cache", Status: StatusOK, Seconds: 2.5},
		{Plan: "app", Title: "check http://ops:xxxxx@127.0.0.1:9/health", Status: StatusOK, Seconds: 0.5},
	}}
	tell := &Run{ID: "t1", Plan: "tell", Mode: ModeDrill, Started: t0, Steps: []StepResult{{Plan: "tell", Title: "notify", Status: StatusOK, Seconds: 1}}}

	for _, run := range []*Run{drill, tell} {
		if err := Save(t.Context(), r, run); err != nil {
			t.Fatal(err)
		}
	}

	out.Reset()

	if err := rn.DryRun(t.Context(), "app", ModeDrill, Options{}); err != nil {
		t.Fatal(err)
	}

	want = "drill plan app (tier gold: RTO objective 5s, RPO objective 1h0m0s); estimates from the drill d1 of " + t0.Local().Format(time.DateTime) + "\n" +
		"[1/5] stop web (no estimate): skipped in a drill\n" +
		"[2/5] run: ./migrate.sh (no estimate): skipped in a drill\n" +
		"[3/5] run: echo warming the cache (about 2.5s): runs echo stand-in\n" +
		"[4/5] notify (about 1.0s): sends: the site is back\n" +
		"[5/5] check http://ops:xxxxx@127.0.0.1:9/health (about 0.5s): GET http://ops:xxxxx@127.0.0.1:9/health must answer 2xx within 30s\n" +
		"estimated total: 4.0s plus 2 steps without an estimate (run `lifeboat drill app`); nothing was changed\n"
	if out.String() != want {
		t.Errorf("dry run after a drill:\n%s\nwant\n%s", out, want)
	}

	if err := rn.DryRun(t.Context(), "nope", ModeDrill, Options{}); err == nil || !strings.HasPrefix(err.Error(), `unknown plan "nope"`) {
		t.Errorf("dry run of an unknown plan: %v", err)
	}
}

// fixConfig is a plan whose second step fails until marker exists.
func fixConfig(marker string, extra string) string {
	return `repository: {path: /backups/lifeboat}
tiers:
  gold: {rto: 1m, rpo: 1h}
sources:
  uploads: {type: files, tier: gold, paths: [/srv/uploads]}
plans:
  fix:
    tier: gold
    steps:
      - run: "echo one"
      - run: "test -f ` + marker + ` || { echo no marker >&2; exit 3; }"
      - run: "echo three"
` + extra
}

func TestFailedRecoveryResumesFromTheFailedStep(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "marker")
	r := testRepo(t)
	cfg := parseConfig(t, fixConfig(marker, ""))
	rn, out := newRunner(t, cfg, r)

	var audited []string

	rn.OnStep = func(run *Run, st *StepResult) { audited = append(audited, run.ID+" "+st.Title+" "+st.Status) }

	first, err := rn.Execute(t.Context(), "fix", ModeRecover, Options{})

	step2 := "run: test -f " + marker + " || { echo no marker >&2; exit 3; }"
	wantErr := "recovery plan failed: step 2 (" + step2 + "): sh -c test -f " + marker + " || { echo no marker >&2; exit 3; }: exit status 3: no marker"

	if !errors.Is(err, ErrFailed) || err.Error() != wantErr || first == nil {
		t.Fatalf("failed run: %v\nwant %s", err, wantErr)
	}

	var statuses []string
	for _, st := range first.Steps {
		statuses = append(statuses, st.Status)
	}

	if strings.Join(statuses, ",") != "ok,failed,pending" || first.Status != StatusFailed || first.RTOSeconds != 2 {
		t.Errorf("failed run: steps %v, status %s, RTO %v", statuses, first.Status, first.RTOSeconds)
	}

	if len(audited) != 2 || audited[1] != first.ID+" "+step2+" failed" {
		t.Errorf("OnStep saw %q", audited)
	}

	if v := first.Verdict(); v != "FAILED: step 2 ("+step2+"): sh -c test -f "+marker+" || { echo no marker >&2; exit 3; }: exit status 3: no marker" {
		t.Errorf("verdict %q", v)
	}

	// Refusals, before anything runs.
	done := *first
	done.Status = StatusOK
	changed := parseConfig(t, fixConfig(marker, "      - run: \"echo four\"\n"))
	retitled := parseConfig(t, strings.Replace(fixConfig(marker, ""), "echo three", "echo 3", 1))

	for _, c := range []struct {
		cfg  *config.Config
		opt  Options
		want string
	}{
		{cfg, Options{Resume: &done}, "run " + first.ID + " is not a failed recovery of plan fix; nothing to resume"},
		{cfg, Options{Resume: first, ToTime: t0}, "--resume goes on with run " + first.ID + "'s own recovery point and time; give neither --point nor --to-time"},
		{changed, Options{Resume: first}, "plan fix changed since run " + first.ID + " (3 steps then, 4 now): run `lifeboat recover fix` afresh"},
		{retitled, Options{Resume: first}, "plan fix changed since run " + first.ID + `: step 3 was "run: echo three", now "run: echo 3": run ` + "`lifeboat recover fix`" + " afresh"},
	} {
		rn2, _ := newRunner(t, c.cfg, r)
		if run, err := rn2.Execute(t.Context(), "fix", ModeRecover, c.opt); run != nil || err == nil || err.Error() != c.want {
			t.Errorf("resume: %v %v\nwant %s", run, err, c.want)
		}
	}

	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	out.Reset()

	second, err := rn.Execute(t.Context(), "fix", ModeRecover, Options{Resume: first})
	if err != nil {
		t.Fatal(err)
	}

	want := "resuming " + first.ID + " of plan fix from step 2 (1 steps done before)\n" +
		"[2/3] " + step2 + " ... ok in 1.0s\n" +
		"[3/3] run: echo three ... ok in 1.0s\n"
	if out.String() != want {
		t.Errorf("resumed output:\n%s\nwant\n%s", out, want)
	}

	if second.ResumedFrom != first.ID || !second.Started.Equal(first.Started) || second.Steps[0].EarlierRun != first.ID || second.Steps[1].EarlierRun != "" || !second.OK() {
		t.Errorf("resumed run %+v", second)
	}

	// The outage counts from the first attempt: from its start (t0+1s) to
	// the end of the resumed run's last step (t0+12s: the first run read
	// the clock 7 times, the resumed one 5 more by then).
	if second.RTOSeconds != 11 {
		t.Errorf("resumed RTO %v", second.RTOSeconds)
	}

	runs, err := Runs(t.Context(), r, KindIncident, "fix")
	if err != nil || len(runs) != 2 || runs[0].ID != first.ID || runs[1].ID != second.ID {
		t.Errorf("recorded incidents: %v %v", runs, err)
	}
}

func TestMeasure(t *testing.T) {
	start := t0
	st := func(kind, status string, at, secs, rpo float64) StepResult {
		return StepResult{Kind: kind, Status: status, Started: start.Add(time.Duration(at * float64(time.Second))), Seconds: secs, RPOSeconds: rpo}
	}

	cases := []struct {
		name     string
		steps    []StepResult
		rto, rpo float64
	}{
		{"to the last check that passed", []StepResult{st("restore", StatusOK, 1, 10, 120), st("check", StatusOK, 11, 2, 0), st("notify", StatusOK, 13, 5, 0)}, 13, 120},
		{"to the last step without checks", []StepResult{st("restore", StatusOK, 1, 10, 30), st("run", StatusOK, 11, 4.5, 0)}, 15.5, 30},
		{"failed steps do not count", []StepResult{st("restore", StatusOK, 1, 10, 30), st("check", StatusFailed, 11, 2, 0), st("restore", StatusFailed, 13, 2, 900)}, 11, 30},
		{"the oldest data", []StepResult{st("restore", StatusOK, 0, 1, 30), st("restore", StatusOK, 1, 1, 600)}, 2, 600},
		{"nothing ran", []StepResult{st("run", StatusSkipped, 0, 1, 0)}, 0, 0},
	}

	for _, c := range cases {
		run := &Run{Started: start, Steps: c.steps}
		measure(run)

		if run.RTOSeconds != c.rto || run.RPOSeconds != c.rpo {
			t.Errorf("%s: RTO %v RPO %v, want %v %v", c.name, run.RTOSeconds, run.RPOSeconds, c.rto, c.rpo)
		}
	}
}

func TestParseTime(t *testing.T) {
	for s, want := range map[string]time.Time{
		"2026-11-25T14:03:27Z":          time.Date(2026, 11, 25, 14, 3, 27, 0, time.UTC),
		"2026-11-25T14:03:27.25+01:00":  time.Date(2026, 11, 25, 13, 3, 27, 250e6, time.UTC),
		"2026-11-25 14:03:27":           time.Date(2026, 11, 25, 14, 3, 27, 0, time.Local),
		"2026-11-25 14:03:27.250":       time.Date(2026, 11, 25, 14, 3, 27, 250e6, time.Local),
		"2026-11-25T14:03:27.000000001": time.Date(2026, 11, 25, 14, 3, 27, 1, time.Local),
		"2026-11-25 14:03":              time.Date(2026, 11, 25, 14, 3, 0, 0, time.Local),
		"2026-11-25":                    time.Date(2026, 11, 25, 0, 0, 0, 0, time.Local),
	} {
		if got, err := ParseTime(s); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %s, %v; want %s", s, got, err, want)
		}
	}

	for _, s := range []string{"", "yesterday", "25.11.2026 14:03", "2026-13-01"} {
		want := fmt.Sprintf("time %q: expected a time such as '2026-11-25 14:03:27' (local time), '2026-11-25 14:03:27.250' or RFC 3339 '2026-11-25T14:03:27Z'", s)
		if _, err := ParseTime(s); err == nil || err.Error() != want {
			t.Errorf("ParseTime(%q): %v", s, err)
		}
	}
}

func TestSmallHelpers(t *testing.T) {
	for in, want := range map[string]string{"uploads": "UPLOADS", "sml-library.db": "SML_LIBRARY_DB", "Code2": "CODE2", "bücher": "B_CHER"} {
		if got := envName(in); got != want {
			t.Errorf("envName(%q) = %q", in, got)
		}
	}

	if short("0123456789abcdef") != "0123456789ab" || short("abc") != "abc" {
		t.Error("short")
	}

	if orDash("") != "-" || orDash("0755") != "0755" {
		t.Error("orDash")
	}

	files := &config.Source{Type: config.KindFiles}
	git := &config.Source{Type: config.KindGit, Path: "/opt/app"}

	for _, c := range []struct {
		sc    *config.Source
		snap  *repo.Snapshot
		where string
		roots string
	}{
		{files, &repo.Snapshot{Layout: repo.LayoutDir, Paths: []string{"/srv/uploads"}}, "/srv/uploads", "/restore"},
		{files, &repo.Snapshot{Paths: []string{"/etc/nginx", "/etc/app.conf"}}, "/", "/restore/etc/nginx,/restore/etc/app.conf"},
		{git, &repo.Snapshot{Layout: repo.LayoutDir, Paths: []string{"/x"}}, "/opt/app", "/restore"},
	} {
		if got := originalTarget(c.sc, c.snap); got != c.where {
			t.Errorf("originalTarget(%s %v) = %q", c.sc.Type, c.snap.Paths, got)
		}

		if got := strings.Join(restoredRoots("/restore", c.snap), ","); got != c.roots {
			t.Errorf("restoredRoots(%v) = %q", c.snap.Paths, got)
		}
	}

	x := &execution{dbs: map[string]string{}, dirs: map[string]string{}}
	x.remember(StepResult{Source: "db", Target: "database lifeboat_drill_shop, lifeboat_drill_lib"})
	x.remember(StepResult{Source: "uploads", Target: "/tmp/drill/uploads"})

	if x.dbs["db"] != "lifeboat_drill_shop" || x.dirs["uploads"] != "/tmp/drill/uploads" || len(x.dbs) != 1 || len(x.dirs) != 1 {
		t.Errorf("remember: %v %v", x.dbs, x.dirs)
	}
}

func TestDescribeSteps(t *testing.T) {
	r := testRepo(t)
	cfg := parseConfig(t, `repository: {path: /backups/lifeboat}
sources:
  uploads: {type: files, paths: [/srv/uploads]}
  db: {type: mysql, socket: /run/mysqld/mysqld.sock, user: root, databases: [shop]}
plans:
  p:
    steps:
      - stop: {command: "pkill -f worker"}
      - start: web
        drill: "echo pretend"
      - run: "./x"
        drill: skip
      - check: {sql: "SELECT COUNT(*) > 0 FROM users", source: db}
      - restore: uploads
        owner: www-data:www-data
`)
	rn, _ := newRunner(t, cfg, r)
	steps := cfg.Plans["p"].Steps

	_, findErr := r.Find(t.Context(), "uploads", "latest")
	if findErr == nil {
		t.Fatal("a fresh repository found a snapshot")
	}

	for _, c := range []struct {
		mode string
		want []string
	}{
		{ModeRecover, []string{"runs pkill -f worker", "systemctl start web", "runs ./x", `"SELECT COUNT(*) > 0 FROM users" must be true in db`, "FAILS: " + findErr.Error()}},
		{ModeDrill, []string{"skipped in a drill", "runs echo pretend", "skipped in a drill", `"SELECT COUNT(*) > 0 FROM users" must be true in db`, "FAILS: " + findErr.Error()}},
	} {
		for i, st := range steps {
			if got := rn.describe(t.Context(), st, c.mode, Options{}); got != c.want[i] {
				t.Errorf("%s step %d (%s): %q, want %q", c.mode, i+1, st.Title(), got, c.want[i])
			}
		}
	}

	// A recovery point without a snapshot of the source cannot restore it.
	pt := &Point{ID: "20260504T100000Z-aaaaaa", Snapshots: map[string]string{"db": "s1"}}
	if got := rn.describe(t.Context(), steps[4], ModeRecover, Options{Point: pt}); got != "FAILS: recovery point 20260504T100000Z-aaaaaa holds no snapshot of uploads" {
		t.Errorf("restore from a point without the source: %q", got)
	}
}

func TestStepTimeoutSaysHowToRaiseIt(t *testing.T) {
	cfg := parseConfig(t, `repository: {path: /backups/lifeboat}
sources:
  uploads: {type: files, paths: [/srv/uploads]}
plans:
  slow:
    steps:
      - run: "exec sleep 30"
        timeout: 200ms
      - notify: "never sent"
`)
	rn, out := newRunner(t, cfg, testRepo(t))

	run, err := rn.Execute(t.Context(), "slow", ModeRecover, Options{})

	want := "recovery plan failed: step 1 (run: exec sleep 30): timed out after 200ms (the step's timeout; raise it with timeout: in the plan): sh -c exec sleep 30: signal: killed"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}

	if run.Steps[0].Status != StatusFailed || run.Steps[1].Status != StatusPending || strings.Contains(out.String(), "never sent") {
		t.Errorf("steps %+v\n%s", run.Steps, out)
	}
}
