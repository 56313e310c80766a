package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"lifeboat/internal/plan"
)

// JSON is the report as indented JSON.
func (r *Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "never"
	case *b:
		return "ok"
	}

	return "FAILED"
}

func when(t time.Time, b *bool) string {
	if t.IsZero() {
		return "never"
	}

	return t.Local().Format(time.DateTime) + " " + yesNo(b)
}

func rate(r float64) string {
	if r < 0 {
		return "-"
	}

	return fmt.Sprintf("%.1f%%", r)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Markdown is the report for people.
func (r *Report) Markdown() string {
	var b strings.Builder

	fmt.Fprintf(&b, "# Lifeboat compliance report\n\n")
	fmt.Fprintf(&b, "- Period: %s to %s\n- Repository: %s (%s)\n\n",
		r.Since.Local().Format(time.DateTime), r.Generated.Local().Format(time.DateTime), r.Repository, mib(r.RepositoryBytes))

	b.WriteString("## Findings\n\n")

	if len(r.Findings) == 0 {
		b.WriteString("None: every source and plan is within its objectives.\n")
	}

	for _, f := range r.Findings {
		fmt.Fprintf(&b, "- %s\n", f)
	}

	b.WriteString("\n## Sources\n\n| Source | Tier | Backups | Success | Size in period | Last backup size | RPO worst | RPO p95 | RPO objective | Met | Retention | Past retention | Last verified | Last restore test | Copies / media / off site |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")

	for _, s := range r.Sources {
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %d / %d / %d |\n",
			s.Source, s.Tier, s.Backups, rate(s.SuccessRate), mib(s.LogicalBytes), mib(s.LastBytes),
			plan.Dur(s.RPOWorst), plan.Dur(s.RPOP95), plan.Dur(s.RPOObjective), map[bool]string{true: "yes", false: "**no**"}[s.RPOMet],
			s.Retention, s.RetentionOverdue, when(s.LastVerify, s.VerifyOK), when(s.LastRestoreTest, s.RestoreTestOK),
			s.Copies.Copies, s.Copies.Media, s.Copies.Offsite)
	}

	b.WriteString("\n## Recovery plans\n\n| Plan | Tier | Drills in period | Last drill | RTO measured | RTO objective | RPO | RPO objective | Met |\n|---|---|---|---|---|---|---|---|---|\n")

	for _, p := range r.Plans {
		last, rto, rpo := "never", "-", "-"
		if p.LastDrillID != "" {
			last = p.LastDrill.Local().Format(time.DateTime) + " " + map[bool]string{true: "passed", false: "FAILED"}[p.DrillOK]
			rto, rpo = plan.Dur(p.RTOSeconds), plan.Dur(p.RPOSeconds)
		}

		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", p.Plan, p.Tier, p.Drills, last, rto, plan.Dur(p.RTOObjective),
			rpo, plan.Dur(p.RPOObjective), map[bool]string{true: "yes", false: "**no**"}[p.Met])
	}

	b.WriteString(r.Escrow.markdown())

	b.WriteString("\n## Restores, recoveries and drills\n\n| Time | Who | Action | Source | Outcome | Detail |\n|---|---|---|---|---|---|\n")

	for _, a := range r.Activity {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", a.Time.Local().Format(time.DateTime), a.Actor, a.Action, a.Source, a.Outcome,
			strings.NewReplacer("|", "\\|", "\n", " ").Replace(a.Detail))
	}

	return b.String()
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur": plan.Dur, "rate": rate, "mib": mib, "when": when,
	"t": func(t time.Time) string { return t.Local().Format(time.DateTime) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lifeboat compliance report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #999;padding:.3em .6em;text-align:left}.no{background:#fdd}</style></head>
<body><h1>Lifeboat compliance report</h1>
<p>Period: {{t .Since}} to {{t .Generated}}. Repository: {{.Repository}} ({{mib .RepositoryBytes}}).</p>
<h2>Findings</h2><ul id="findings">{{range .Findings}}<li>{{.}}</li>{{else}}<li>None: every source and plan is within its objectives.</li>{{end}}</ul>
<h2>Sources</h2>
<table id="sources"><tr><th>Source</th><th>Tier</th><th>Backups</th><th>Success</th><th>RPO worst</th><th>RPO p95</th><th>RPO objective</th><th>Retention</th><th>Past retention</th><th>Last verified</th><th>Last restore test</th></tr>
{{range .Sources}}<tr{{if not .RPOMet}} class="no"{{end}}><td>{{.Source}}</td><td>{{.Tier}}</td><td>{{.Backups}}</td><td>{{rate .SuccessRate}}</td><td>{{dur .RPOWorst}}</td><td>{{dur .RPOP95}}</td><td>{{dur .RPOObjective}}</td><td>{{.Retention}}</td><td>{{.RetentionOverdue}}</td><td>{{when .LastVerify .VerifyOK}}</td><td>{{when .LastRestoreTest .RestoreTestOK}}</td></tr>
{{end}}</table>
<h2>Recovery plans</h2>
<table id="plans"><tr><th>Plan</th><th>Tier</th><th>Drills</th><th>Last drill</th><th>RTO measured</th><th>RTO objective</th><th>RPO</th><th>RPO objective</th></tr>
{{range .Plans}}<tr{{if not .Met}} class="no"{{end}}><td>{{.Plan}}</td><td>{{.Tier}}</td><td>{{.Drills}}</td><td>{{if .LastDrillID}}{{t .LastDrill}}{{else}}never{{end}}</td><td>{{dur .RTOSeconds}}</td><td>{{dur .RTOObjective}}</td><td>{{dur .RPOSeconds}}</td><td>{{dur .RPOObjective}}</td></tr>
{{end}}</table>
{{with .Escrow}}<h2>Key escrow</h2>
<p id="escrow">Recovery kit written: {{if .KitWritten.IsZero}}never{{else}}{{t .KitWritten}}{{end}}.{{with .KitStale}} <strong>{{.}}</strong>.{{end}} Last escrow drill: {{if .LastDrill.IsZero}}never{{else}}{{t .LastDrill}} {{if .LastDrillOK}}passed{{else}}FAILED{{end}}{{end}}. Last passed: {{if .LastPassed.IsZero}}never{{else}}{{t .LastPassed}} ({{.Method}}){{end}}.</p>
{{end}}<h2>Restores, recoveries and drills</h2>
<table id="activity"><tr><th>Time</th><th>Who</th><th>Action</th><th>Source</th><th>Outcome</th><th>Detail</th></tr>
{{range .Activity}}<tr><td>{{t .Time}}</td><td>{{.Actor}}</td><td>{{.Action}}</td><td>{{.Source}}</td><td>{{.Outcome}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>
</body></html>
`))

// HTML is the report as a standalone page.
func (r *Report) HTML() []byte {
	var b bytes.Buffer
	if err := page.Execute(&b, r); err != nil {
		return []byte(err.Error())
	}

	return b.Bytes()
}
