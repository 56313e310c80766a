package plan

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

func TestDur(t *testing.T) {
	for s, want := range map[float64]string{
		0:          "0.0s",
		0.25:       "0.2s",
		59.94:      "59.9s",
		60:         "1m0s",
		3599.6:     "1h0m0s",
		86400:      "24h0m0s",
		172799:     "47h59m59s",
		172800:     "2.0d",
		30 * 86400: "30.0d",
	} {
		if got := Dur(s); got != want {
			t.Errorf("Dur(%v) = %q, want %q", s, got, want)
		}
	}
}

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		run    Run
		want   string
		within bool
	}{
		{Run{Status: StatusOK, RTOSeconds: 30, RTOObjective: 60, RPOSeconds: 10, RPOObjective: 10}, "PASSED within the objectives", true},
		{Run{Status: StatusOK, RTOSeconds: 90, RTOObjective: 60, RPOSeconds: 20, RPOObjective: 10}, "PASSED, but the measured RTO 1m30s is above the objective 1m0s", false},
		{Run{Status: StatusOK, RTOSeconds: 30, RTOObjective: 60, RPOSeconds: 7200, RPOObjective: 3600}, "PASSED, but the RPO 2h0m0s is above the objective 1h0m0s", false},
		{Run{Status: StatusFailed, Error: "step 2 (restore db): no backup", RTOSeconds: 1, RTOObjective: 60}, "FAILED: step 2 (restore db): no backup", false},
	} {
		if got := c.run.Verdict(); got != c.want || c.run.WithinObjectives() != c.within {
			t.Errorf("Verdict = %q (within %v), want %q (%v)", got, c.run.WithinObjectives(), c.want, c.within)
		}
	}
}

func TestMetricLabel(t *testing.T) {
	for _, c := range []struct {
		st   StepResult
		want string
	}{
		{StepResult{Kind: config.StepRestore, Source: "db", Title: "restore db"}, "3. restore db"},
		{StepResult{Kind: config.StepRestore, Title: "restore"}, "3. restore"},
		// Never the title: it may hold a command, SQL or a URL.
		{StepResult{Kind: config.StepCheck, Source: "db", Title: "check db: SELECT secret FROM t"}, "3. check"},
		{StepResult{Kind: config.StepRun, Title: "run: curl https://u:p@host/"}, "3. run"},
	} {
		if got := c.st.MetricLabel(3); got != c.want {
			t.Errorf("MetricLabel(%+v) = %q, want %q", c.st, got, c.want)
		}
	}
}

// reportRun is a failed, resumed drill with every kind of row.
func reportRun() *Run {
	return &Run{
		ID: "20260504T100000Z-abcdef", Plan: "site", Mode: ModeDrill, Actor: "ops", Tier: "critical",
		Started: t0, Finished: t0.Add(95 * time.Second), Status: StatusFailed, Error: "step 3 (check db): count is 0",
		ResumedFrom: "20260504T090000Z-123456", Point: "20260504T080000Z-fedcba",
		RTOSeconds: 75, RTOObjective: 3600, RPOSeconds: 5400, RPOObjective: 3600,
		Steps: []StepResult{
			{Plan: "database", Title: "restore db", Kind: config.StepRestore, Status: StatusOK, Seconds: 62.4, Note: "full + binlog",
				DataTime: t0.Add(-90 * time.Minute), RPOSeconds: 5400, EarlierRun: "20260504T090000Z-123456"},
			{Plan: "database", Title: "stop web", Kind: config.StepStop, Status: StatusSkipped, Note: "a drill leaves services alone"},
			{Plan: "site", Title: "check db: SELECT a|b FROM t", Kind: config.StepCheck, Status: StatusFailed, Seconds: 0.5, Note: "ignored", Error: "count is 0\nsee the log"},
			{Plan: "site", Title: "notify", Kind: config.StepNotify, Status: StatusPending},
		},
		Isolation: []string{"stop web: a drill leaves services alone", "restore db: into lifeboat_drill_shop"},
	}
}

func TestMarkdown(t *testing.T) {
	want := `# DR drill of plan site: FAILED: step 3 (check db): count is 0

- Run: 20260504T100000Z-abcdef, by ops
- Started: 2026-05-04T10:00:00Z; finished: 2026-05-04T10:01:35Z
- Resumed from the failed run 20260504T090000Z-123456 (the RTO counts from its start)
- Recovery point: 20260504T080000Z-fedcba
- Tier: critical
- **RTO measured: 1m15s** (objective 1h0m0s): from the start to the last check that passed
- **RPO: 1h30m0s** (objective 1h0m0s): the age of the oldest data restored when the run started

| # | Plan | Step | Result | Time | Data from | Detail |
|---|---|---|---|---|---|---|
| 1 | database | restore db | ok | 1m2s | 2026-05-04 08:30:00.000 (1h30m0s old) | full + binlog (done in run 20260504T090000Z-123456) |
| 2 | database | stop web | skipped | 0.0s |  | a drill leaves services alone |
| 3 | site | check db: SELECT a\|b FROM t | failed | 0.5s |  | count is 0 see the log |
| 4 | site | notify | pending | 0.0s |  |  |

## Isolation

- stop web: a drill leaves services alone
- restore db: into lifeboat_drill_shop
`
	if got := reportRun().Markdown(); got != want {
		t.Errorf("Markdown:\n%s\nwant\n%s", got, want)
	}

	rec := &Run{ID: "r1", Plan: "db", Mode: ModeRecover, Actor: "ops", Tier: "critical", Started: t0, Finished: t0.Add(time.Minute), Status: StatusOK, RTOSeconds: 60, RTOObjective: 3600, RPOObjective: 3600}
	if got := rec.Markdown(); !strings.HasPrefix(got, "# Recovery of plan db: PASSED within the objectives\n\n- Run: r1, by ops\n- Started: 2026-05-04T10:00:00Z; finished: 2026-05-04T10:01:00Z\n- Tier: critical\n") || strings.Contains(got, "Isolation") {
		t.Errorf("recovery Markdown:\n%s", got)
	}
}

func TestHTML(t *testing.T) {
	r := reportRun()
	r.Steps[0].Note = "<script>alert(1)</script>"
	got := string(r.HTML())

	for _, want := range []string{
		"<title>drill of plan site</title>",
		"<h1>DR drill of plan site</h1>",
		`<p id="verdict">FAILED: step 3 (check db): count is 0</p>`,
		"<li>Run 20260504T100000Z-abcdef by ops, started 2026-05-04T10:00:00Z</li>",
		`<li id="rto">RTO measured: 1m15s (objective 1h0m0s)</li>`,
		`<li id="rpo">RPO: 1h30m0s (objective 1h0m0s)</li>`,
		`<tr class="ok"><td>0</td><td>database</td><td>restore db</td><td>ok</td><td>1m2s</td><td>&lt;script&gt;alert(1)&lt;/script&gt;</td></tr>`,
		`<tr class="failed"><td>2</td><td>site</td><td>check db: SELECT a|b FROM t</td><td>failed</td><td>0.5s</td><td>count is 0
see the log</td></tr>`,
		"<h2>Isolation</h2><ul><li>stop web: a drill leaves services alone</li><li>restore db: into lifeboat_drill_shop</li></ul>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("HTML lacks %q:\n%s", want, got)
		}
	}

	if strings.Contains(got, "<script>") {
		t.Error("a note's markup reached the page unescaped")
	}
}

func TestRunJSONRoundTrip(t *testing.T) {
	r := reportRun()

	var back Run
	if err := json.Unmarshal(r.JSON(), &back); err != nil {
		t.Fatal(err)
	}

	if !reflect.DeepEqual(&back, r) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, *r)
	}

	// A step's unset times and empty fields are left out (the run's own
	// start and end are always there).
	s := string((&Run{ID: "x", Steps: []StepResult{{Title: "notify"}}}).JSON())
	if strings.Count(s, `"started"`) != 1 {
		t.Errorf("an unstarted step has a start:\n%s", s)
	}

	for _, absent := range []string{"to_time", "data_time", "earlier_run", "error", "safety", "rpo_seconds\": 0,\n      "} {
		if strings.Contains(s, absent) {
			t.Errorf("JSON of an empty run holds %q:\n%s", absent, s)
		}
	}
}

func TestPoints(t *testing.T) {
	r := testRepo(t)
	ctx := t.Context()

	p := func(id string, at time.Time, snaps map[string]string) *Point {
		return &Point{ID: id, Time: at, Snapshots: snaps}
	}

	for _, pt := range []*Point{
		p("20260504T120000Z-bbbbbb", t0.Add(2*time.Hour), map[string]string{"uploads": "s3", "db": "s4"}),
		p("20260504T100000Z-aaaaaa", t0, map[string]string{"db": "s1", "uploads": "s2", "code": "s0"}),
		p("20260504T100000Z-aaaacc", t0.Add(time.Minute), map[string]string{"db": "s5"}),
	} {
		b, _ := json.Marshal(pt)
		if err := r.PutRecord(ctx, KindPoint, pt.ID, map[string]string{"json": string(b)}); err != nil {
			t.Fatal(err)
		}
	}

	pts, err := Points(ctx, r)
	if err != nil || len(pts) != 3 || pts[0].ID != "20260504T100000Z-aaaaaa" || pts[2].ID != "20260504T120000Z-bbbbbb" {
		t.Fatalf("Points oldest first: %v %v", pts, err)
	}

	if got := strings.Join(pts[0].Sources(), ","); got != "code,db,uploads" {
		t.Errorf("Sources = %s", got)
	}

	for id, want := range map[string]string{"latest": "20260504T120000Z-bbbbbb", "20260504T12": "20260504T120000Z-bbbbbb", "20260504T100000Z-aaaacc": "20260504T100000Z-aaaacc"} {
		if got, err := FindPoint(ctx, r, id); err != nil || got.ID != want {
			t.Errorf("FindPoint(%q) = %v, %v; want %s", id, got, err, want)
		}
	}

	// An ambiguous prefix lists every candidate (ID, sources, time).
	if _, err := FindPoint(ctx, r, "20260504T10"); !errors.Is(err, repo.ErrSnapshotNotFound) || !strings.HasPrefix(err.Error(), `recovery point prefix "20260504T10" matches 2 points; give more characters of one of them:`) ||
		!strings.Contains(err.Error(), "\n  20260504T100000Z-aaaaaa  code,db,uploads  ") || !strings.Contains(err.Error(), "\n  20260504T100000Z-aaaacc  db  ") {
		t.Errorf("ambiguous: %v", err)
	}

	if _, err := FindPoint(ctx, r, "2025"); !errors.Is(err, repo.ErrSnapshotNotFound) || !strings.HasSuffix(err.Error(), `: no recovery point "2025"; list them with `+"`lifeboat points`") {
		t.Errorf("not found: %v", err)
	}
}

func TestPointOrderPutsDatabasesFirst(t *testing.T) {
	cfg := &config.Config{Sources: map[string]*config.Source{
		"uploads": {Type: config.KindFiles}, "db": {Type: config.KindMySQL}, "code": {Type: config.KindGit}, "orders": {Type: config.KindMySQL},
	}}

	got := PointOrder(cfg, []string{"uploads", "db", "gone", "code", "orders"})
	if want := []string{"db", "orders", "uploads", "gone", "code"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PointOrder = %v, want %v", got, want)
	}
}
