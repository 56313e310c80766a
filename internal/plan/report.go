package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Verdict is a run's one-line outcome against its objectives.
func (r *Run) Verdict() string {
	switch {
	case !r.OK():
		return "FAILED: " + r.Error
	case r.RTOSeconds > r.RTOObjective:
		return fmt.Sprintf("PASSED, but the measured RTO %s is above the objective %s", Dur(r.RTOSeconds), Dur(r.RTOObjective))
	case r.RPOSeconds > r.RPOObjective:
		return fmt.Sprintf("PASSED, but the RPO %s is above the objective %s", Dur(r.RPOSeconds), Dur(r.RPOObjective))
	}

	return "PASSED within the objectives"
}

// Dur prints seconds as a short duration.
func Dur(s float64) string {
	d := time.Duration(s * float64(time.Second))

	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", s)
	case d < 48*time.Hour:
		return d.Round(time.Second).String()
	}

	return fmt.Sprintf("%.1fd", d.Hours()/24)
}

// JSON is the run as indented JSON.
func (r *Run) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// Markdown is the run's report.
func (r *Run) Markdown() string {
	var b strings.Builder

	title := "Recovery"
	if r.Mode == ModeDrill {
		title = "DR drill"
	}

	fmt.Fprintf(&b, "# %s of plan %s: %s\n\n", title, r.Plan, r.Verdict())
	fmt.Fprintf(&b, "- Run: %s, by %s\n", r.ID, r.Actor)
	fmt.Fprintf(&b, "- Started: %s; finished: %s\n", r.Started.UTC().Format(time.RFC3339), r.Finished.UTC().Format(time.RFC3339))

	if r.ResumedFrom != "" {
		fmt.Fprintf(&b, "- Resumed from the failed run %s (the RTO counts from its start)\n", r.ResumedFrom)
	}

	if r.Point != "" {
		fmt.Fprintf(&b, "- Recovery point: %s\n", r.Point)
	}

	fmt.Fprintf(&b, "- Tier: %s\n", r.Tier)
	fmt.Fprintf(&b, "- **RTO measured: %s** (objective %s): from the start to the last check that passed\n", Dur(r.RTOSeconds), Dur(r.RTOObjective))
	fmt.Fprintf(&b, "- **RPO: %s** (objective %s): the age of the oldest data restored when the run started\n\n", Dur(r.RPOSeconds), Dur(r.RPOObjective))

	b.WriteString("| # | Plan | Step | Result | Time | Data from | Detail |\n|---|---|---|---|---|---|---|\n")

	for i, st := range r.Steps {
		data := ""
		if !st.DataTime.IsZero() {
			data = st.DataTime.UTC().Format("2006-01-02 15:04:05.000") + " (" + Dur(st.RPOSeconds) + " old)"
		}

		detail := st.Note
		if st.Error != "" {
			detail = st.Error
		}

		if st.EarlierRun != "" {
			detail = strings.TrimSpace(detail + " (done in run " + st.EarlierRun + ")")
		}

		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n", i+1, st.Plan, mdEscape(st.Title), st.Status, Dur(st.Seconds), data, mdEscape(detail))
	}

	if len(r.Isolation) > 0 {
		b.WriteString("\n## Isolation\n\n")

		for _, s := range r.Isolation {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}

	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

var htmlReport = template.Must(template.New("run").Funcs(template.FuncMap{"dur": Dur}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Mode}} of plan {{.Plan}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em .6em;text-align:left}.failed{background:#fdd}.skipped{color:#777}</style></head>
<body><h1>{{if eq .Mode "drill"}}DR drill{{else}}Recovery{{end}} of plan {{.Plan}}</h1>
<p id="verdict">{{.Verdict}}</p>
<ul><li>Run {{.ID}} by {{.Actor}}, started {{.Started.UTC.Format "2006-01-02T15:04:05Z07:00"}}</li>
<li id="rto">RTO measured: {{dur .RTOSeconds}} (objective {{dur .RTOObjective}})</li>
<li id="rpo">RPO: {{dur .RPOSeconds}} (objective {{dur .RPOObjective}})</li></ul>
<table><tr><th>#</th><th>Plan</th><th>Step</th><th>Result</th><th>Time</th><th>Detail</th></tr>
{{range $i, $s := .Steps}}<tr class="{{$s.Status}}"><td>{{$i}}</td><td>{{$s.Plan}}</td><td>{{$s.Title}}</td><td>{{$s.Status}}</td><td>{{dur $s.Seconds}}</td><td>{{if $s.Error}}{{$s.Error}}{{else}}{{$s.Note}}{{end}}</td></tr>
{{end}}</table>
{{if .Isolation}}<h2>Isolation</h2><ul>{{range .Isolation}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))

// HTML is the run's report as a standalone page.
func (r *Run) HTML() []byte {
	var b bytes.Buffer
	if err := htmlReport.Execute(&b, r); err != nil {
		return []byte(err.Error())
	}

	return b.Bytes()
}
