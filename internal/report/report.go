// Package report builds the compliance report (`lifeboat report`): per
// source the backups taken and their success rate, sizes, the RPO attained
// over the period (worst and 95th percentile, time-weighted) against the
// objective, retention conformance, the last verification and restore test;
// per plan the last drill's RTO and RPO against the objectives; and every
// restore and recovery with who ran it. Everything comes from the repository
// and the audit trail, so the report states what happened, not what was
// configured to happen.
package report

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/health"
	"lifeboat/internal/plan"
	"lifeboat/internal/prune"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
)

// Report is the whole report.
type Report struct {
	Generated       time.Time      `json:"generated"`
	Since           time.Time      `json:"since"`
	Repository      string         `json:"repository"`
	RepositoryBytes int64          `json:"repository_bytes"`
	Sources         []SourceReport `json:"sources"`
	Plans           []PlanReport   `json:"plans"`
	Activity        []Activity     `json:"restores_and_recoveries"`
	// Findings list everything out of objective or out of conformance.
	Findings []string `json:"findings"`
	// Escrow is the key's proof (escrow.go); nil when there is none to give.
	Escrow *EscrowReport `json:"escrow,omitempty"`
}

// SourceReport is one source over the period.
type SourceReport struct {
	Source string `json:"source"`
	Kind   string `json:"kind"`
	Tier   string `json:"tier"`
	// Backups taken in the period and the attempts that failed (from the
	// audit trail); SuccessRate is a percentage, -1 when nothing was tried.
	Backups      int     `json:"backups"`
	Failed       int     `json:"failed"`
	SuccessRate  float64 `json:"success_rate_percent"`
	LogicalBytes int64   `json:"logical_bytes"`
	LastBytes    int64   `json:"last_backup_bytes"`
	Snapshots    int     `json:"snapshots_kept"`
	// RPO attained: how much a loss at the worst moment of the period, and
	// at the 95th percentile of its time, would have cost.
	RPOWorst     float64 `json:"rpo_worst_seconds"`
	RPOP95       float64 `json:"rpo_p95_seconds"`
	RPOObjective float64 `json:"rpo_objective_seconds"`
	RPOMet       bool    `json:"rpo_met"`
	// Retention: the configured rules and how many snapshots prune would
	// still delete (past retention).
	Retention        string `json:"retention"`
	RetentionOverdue int    `json:"retention_overdue"`
	// Reach is how far back restores can go (the oldest backup kept), and
	// Promised how far the retention rules say they go once history has
	// built up (0: no such promise).
	ReachSeconds    float64 `json:"reach_seconds"`
	PromisedSeconds float64 `json:"promised_reach_seconds"`
	// Pruned: backups older than the oldest kept were made once.
	Pruned          bool      `json:"older_backups_gone"`
	LastVerify      time.Time `json:"last_verify,omitzero"`
	VerifyOK        *bool     `json:"verify_ok,omitempty"`
	LastRestoreTest time.Time `json:"last_restore_test,omitzero"`
	RestoreTestOK   *bool     `json:"restore_test_ok,omitempty"`
	// Copies is the 3-2-1 count.
	Copies copies.Summary `json:"copies"`
}

// PlanReport is one recovery plan's last drill.
type PlanReport struct {
	Plan         string    `json:"plan"`
	Tier         string    `json:"tier"`
	Drills       int       `json:"drills_in_period"`
	LastDrill    time.Time `json:"last_drill,omitzero"`
	LastDrillID  string    `json:"last_drill_id,omitempty"`
	DrillOK      bool      `json:"last_drill_ok"`
	RTOSeconds   float64   `json:"rto_seconds"`
	RTOObjective float64   `json:"rto_objective_seconds"`
	RPOSeconds   float64   `json:"rpo_seconds"`
	RPOObjective float64   `json:"rpo_objective_seconds"`
	Met          bool      `json:"objectives_met"`
}

// Activity is one restore, recovery or drill from the audit trail.
type Activity struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Source  string    `json:"source,omitempty"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
}

// Inputs is what a report is built from.
type Inputs struct {
	Cfg    *config.Config
	Repo   *repo.Repository
	Source func(name string) (source.Source, error)
	Audit  []audit.Record
	Since  time.Time
	Now    time.Time
}

// Build assembles the report.
func Build(ctx context.Context, in Inputs) (*Report, error) {
	rep := &Report{Generated: in.Now.UTC(), Since: in.Since.UTC(), Repository: in.Cfg.Repository.Location()}
	rep.RepositoryBytes, _ = in.Repo.Size()

	// The newest restorable instant is not in the report: its RPO is the
	// period's, from the backups themselves.
	h, err := health.Compute(ctx, health.Inputs{Cfg: in.Cfg, Repo: in.Repo, Now: in.Now})
	if err != nil {
		return nil, err
	}

	pp, err := prune.Make(ctx, in.Repo, in.Cfg, nil, in.Now)
	if err != nil {
		return nil, err
	}

	overdue := map[string]int{}

	for _, sp := range pp.Sources {
		for _, d := range sp.Decisions {
			if !d.Keep {
				overdue[sp.Source]++
			}
		}
	}

	for _, hs := range h.Sources {
		name := hs.Name
		sc := in.Cfg.Sources[name]
		sr := SourceReport{Source: name, Kind: sc.Type, Tier: sc.Tier, RPOObjective: in.Cfg.Tiers[sc.Tier].RPO.Seconds(),
			Retention: retentionText(sc.Retention), RetentionOverdue: overdue[name]}

		if err := sr.fill(ctx, in, name); err != nil {
			return nil, err
		}

		if v := hs.Verify; v != nil {
			sr.LastVerify, sr.VerifyOK = v.At, &v.OK
		}

		if v := hs.RestoreTest; v != nil {
			sr.LastRestoreTest, sr.RestoreTestOK = v.At, &v.OK
		}

		sr.Copies = hs.Copies

		rep.Sources = append(rep.Sources, sr)
		rep.Findings = append(rep.Findings, sr.findings()...)
	}

	var keyFindings []string

	rep.Escrow, keyFindings = escrowOf(h, in.Now)
	rep.Findings = append(rep.Findings, keyFindings...)

	drills, err := plan.Runs(ctx, in.Repo, plan.KindDrill, "")
	if err != nil {
		return nil, err
	}

	for _, name := range in.Cfg.PlanNames {
		tier := in.Cfg.Tiers[in.Cfg.Plans[name].Tier]
		pr := PlanReport{Plan: name, Tier: in.Cfg.Plans[name].Tier, RTOObjective: tier.RTO.Seconds(), RPOObjective: tier.RPO.Seconds()}

		for _, d := range drills {
			if d.Plan != name {
				continue
			}

			if !d.Started.Before(in.Since) {
				pr.Drills++
			}

			pr.LastDrill, pr.LastDrillID, pr.DrillOK = d.Started, d.ID, d.OK()
			pr.RTOSeconds, pr.RPOSeconds, pr.Met = d.RTOSeconds, d.RPOSeconds, d.WithinObjectives()
		}

		switch {
		case pr.LastDrillID == "":
			rep.Findings = append(rep.Findings, fmt.Sprintf("plan %s has never been drilled: run `lifeboat drill %s`", name, name))
		case !pr.Met:
			rep.Findings = append(rep.Findings, fmt.Sprintf("plan %s: the last drill %s did not meet the objectives (RTO %s of %s, RPO %s of %s)",
				name, pr.LastDrillID, plan.Dur(pr.RTOSeconds), plan.Dur(pr.RTOObjective), plan.Dur(pr.RPOSeconds), plan.Dur(pr.RPOObjective)))
		case in.Now.Sub(pr.LastDrill) > 100*24*time.Hour:
			rep.Findings = append(rep.Findings, fmt.Sprintf("plan %s has not been drilled for %s", name, plan.Dur(in.Now.Sub(pr.LastDrill).Seconds())))
		}

		rep.Plans = append(rep.Plans, pr)
	}

	for _, r := range in.Audit {
		if r.Time.Before(in.Since) {
			continue
		}

		switch r.Action {
		case "restore", "recover", "drill", "export", "restore test":
			rep.Activity = append(rep.Activity, Activity{Time: r.Time, Actor: r.Actor, Action: r.Action, Source: r.Source, Outcome: r.Outcome, Detail: r.Detail})
		}
	}

	return rep, nil
}

func (sr *SourceReport) fill(ctx context.Context, in Inputs, name string) error {
	snaps, err := in.Repo.Snapshots(ctx, name)
	if err != nil {
		return err
	}

	var (
		points []time.Time
		oldest time.Time
	)

	for _, s := range snaps {
		if s.Role != repo.RoleBackup {
			continue
		}

		// A database restores from a full; incrementals need theirs.
		if (!chained(sr.Kind) || s.Type == repo.TypeFull) && (oldest.IsZero() || s.Time.Before(oldest)) {
			oldest = s.Time
		}

		sr.Snapshots++

		if !s.Time.Before(in.Since) {
			sr.Backups++
			sr.LogicalBytes += s.Bytes
		}

		sr.LastBytes = s.Bytes

		if !chained(sr.Kind) {
			points = append(points, s.Time)
		}
	}

	if chained(sr.Kind) {
		src, err := in.Source(name)
		if err != nil {
			return err
		}

		if my, ok := src.(source.RestorePointLister); ok {
			if points, err = my.RestorePoints(ctx, in.Repo); err != nil {
				return err
			}
		}

		if len(points) == 0 {
			for _, s := range snaps {
				if s.Role == repo.RoleBackup && s.Type == repo.TypeFull {
					points = append(points, s.Time)
				}
			}
		}
	}

	// Failed attempts are only in the audit trail, and so are the backups
	// prune has deleted since: the RPO of the period was set by every backup
	// that existed then, not by those kept now. (The trail's time is when a
	// backup ended, a little after the instant its data is from.)
	attempts := 0
	first := oldest

	for _, r := range in.Audit {
		if r.Action != "backup" || r.Source != name {
			continue
		}

		if r.Outcome == audit.OK {
			points = append(points, r.Time)

			if r.Time.Before(first) {
				first = r.Time
			}
		}

		if !r.Time.Before(in.Since) {
			attempts++

			if r.Outcome == audit.Failed {
				sr.Failed++
			}
		}
	}

	sr.SuccessRate = -1
	if attempts > 0 {
		sr.SuccessRate = 100 * float64(attempts-sr.Failed) / float64(attempts)
	}

	sr.PromisedSeconds = PromisedReach(in.Cfg.Sources[name].Retention).Seconds()
	if !oldest.IsZero() {
		sr.ReachSeconds = in.Now.Sub(oldest).Seconds()
		// The trail records a backup when it ends, a little after its
		// snapshot's time: a minute apart is the same backup.
		sr.Pruned = oldest.Sub(first) > time.Minute
	}

	sr.RPOWorst, sr.RPOP95 = RPO(points, in.Since, in.Now)
	sr.RPOMet = len(points) > 0 && sr.RPOWorst <= sr.RPOObjective

	return nil
}

func (sr *SourceReport) findings() []string {
	var out []string

	if sr.Snapshots == 0 {
		return []string{fmt.Sprintf("%s has no backup", sr.Source)}
	}

	if !sr.RPOMet {
		out = append(out, fmt.Sprintf("%s: worst RPO %s over the period, above the %s tier's objective of %s", sr.Source, plan.Dur(sr.RPOWorst), sr.Tier, plan.Dur(sr.RPOObjective)))
	}

	if !sr.Copies.Meets {
		out = append(out, fmt.Sprintf("%s: %d copies on %d media, %d off site; 3-2-1 asks for 3, 2 and 1 (copies: in the configuration, then `lifeboat replicate`)", sr.Source, sr.Copies.Copies, sr.Copies.Media, sr.Copies.Offsite))
	}

	if sr.Failed > 0 {
		out = append(out, fmt.Sprintf("%s: %d of its backup attempts failed", sr.Source, sr.Failed))
	}

	if f := sr.reachFinding(); f != "" {
		out = append(out, f)
	}

	if sr.RetentionOverdue > 0 {
		out = append(out, fmt.Sprintf("%s: %d snapshots are past retention: run `lifeboat prune`", sr.Source, sr.RetentionOverdue))
	}

	if sr.VerifyOK != nil && !*sr.VerifyOK {
		out = append(out, fmt.Sprintf("%s: the last verification found problems", sr.Source))
	}

	if sr.RestoreTestOK == nil {
		out = append(out, fmt.Sprintf("%s has never been restore-tested: run `lifeboat verify %s --restore-test`", sr.Source, sr.Source))
	} else if !*sr.RestoreTestOK {
		out = append(out, fmt.Sprintf("%s: the last restore test failed", sr.Source))
	}

	return out
}

// RPO returns the worst and the 95th-percentile RPO over [since, now]: at
// each instant the RPO is the age of the newest restorable point, and the
// percentile is over time, so an hour at a large RPO weighs an hour. Before
// the first point ever there is nothing to lose, so that time is not counted.
func RPO(points []time.Time, since, now time.Time) (worst, p95 float64) {
	sorted := append([]time.Time(nil), points...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })

	type span struct{ lo, hi float64 } // the RPO rises from lo to hi

	var (
		spans []span
		total float64
		base  time.Time
	)

	cursor := since

	for _, p := range sorted {
		if p.After(now) {
			break
		}

		if !p.After(cursor) {
			base = p
			continue
		}

		if !base.IsZero() {
			spans = append(spans, span{cursor.Sub(base).Seconds(), p.Sub(base).Seconds()})
		}

		base, cursor = p, p
	}

	if !base.IsZero() && now.After(cursor) {
		spans = append(spans, span{cursor.Sub(base).Seconds(), now.Sub(base).Seconds()})
	}

	for _, s := range spans {
		total += s.hi - s.lo
		worst = max(worst, s.hi)
	}

	if total <= 0 {
		return worst, worst
	}

	above := func(x float64) float64 {
		var t float64
		for _, s := range spans {
			t += max(0, s.hi-max(x, s.lo))
		}

		return t / total
	}

	lo, hi := 0.0, worst
	for i := 0; i < 60; i++ {
		mid := (lo + hi) / 2
		if above(mid) > 0.05 {
			lo = mid
		} else {
			hi = mid
		}
	}

	return worst, hi
}

// PromisedReach is how far back the retention rules let restores reach once
// history has built up: the longest any rule keeps, counting a rule of N
// periods as N-1 whole periods (its newest snapshot is in the current one).
func PromisedReach(r config.Retention) time.Duration {
	const day = 24 * time.Hour

	reach := r.Within

	for _, rule := range []struct {
		n      int
		period time.Duration
	}{{r.Hourly, time.Hour}, {r.Daily, day}, {r.Weekly, 7 * day}, {r.Monthly, 28 * day}, {r.Yearly, 365 * day}} {
		if rule.n > 1 {
			reach = max(reach, time.Duration(rule.n-1)*rule.period)
		}
	}

	return reach
}

// reachFinding says when restores cannot reach as far back as the retention
// rules promise: because older backups are gone, or because backups began
// too recently. A backup schedule's gap is allowed for (a tenth of the
// promise, at most a day).
func (sr *SourceReport) reachFinding() string {
	promised, reach := sr.PromisedSeconds, sr.ReachSeconds
	if promised <= 0 || reach >= promised-min(promised/10, 86400) {
		return ""
	}

	if sr.Pruned {
		return fmt.Sprintf("%s: retention (%s) promises restores %s back, but the oldest backup kept is %s old and older ones are gone: check the rules and what deleted them (`lifeboat audit`)",
			sr.Source, sr.Retention, plan.Dur(promised), plan.Dur(reach))
	}

	return fmt.Sprintf("%s: retention (%s) promises restores %s back; backups began %s ago, so restores reach only that far until then",
		sr.Source, sr.Retention, plan.Dur(promised), plan.Dur(reach))
}

func retentionText(r config.Retention) string {
	if r.IsZero() {
		return "keep everything"
	}

	var parts []string

	for _, f := range []struct {
		n    int
		name string
	}{{r.Latest, "latest"}, {r.Hourly, "hourly"}, {r.Daily, "daily"}, {r.Weekly, "weekly"}, {r.Monthly, "monthly"}, {r.Yearly, "yearly"}} {
		if f.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f.name, f.n))
		}
	}

	if r.Within > 0 {
		parts = append(parts, "within "+plan.Dur(r.Within.Seconds()))
	}

	return strings.Join(parts, ", ")
}

// chained reports whether a kind's incrementals need the full before them,
// so only its fulls and the instants its archive reaches are restore points.
func chained(kind string) bool {
	_, ok := sources.ChainOf(kind)

	return ok
}
