package plan

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// DryRun prints every step of plan name with what it would do and how long
// it took in the last drill (or recovery), and changes nothing.
func (rn *Runner) DryRun(ctx context.Context, name, mode string, opt Options) error {
	steps, err := Flatten(rn.Cfg, name)
	if err != nil {
		return err
	}

	pl := rn.Cfg.Plans[name]
	est := map[string]float64{}
	from := "never drilled: no estimates"

	for _, kind := range []string{KindIncident, KindDrill} {
		// Drills last, so a drill's timings win over an older recovery's.
		for _, p := range rn.relatedPlans(name) {
			last, err := Latest(ctx, rn.Repo, kind, p)
			if err != nil {
				return err
			}

			if last == nil {
				continue
			}

			for _, st := range last.Steps {
				if st.Status == StatusOK {
					est[st.Plan+"\x00"+st.Title] = st.Seconds
				}
			}

			if p == name {
				from = fmt.Sprintf("estimates from the %s %s of %s", kind, last.ID, last.Started.Local().Format(time.DateTime))
			}
		}
	}

	fmt.Fprintf(rn.Out, "%s plan %s (tier %s: RTO objective %s, RPO objective %s); %s\n", mode, name, pl.Tier,
		rn.Cfg.Tiers[pl.Tier].RTO, rn.Cfg.Tiers[pl.Tier].RPO, from)

	var total float64

	unknown := 0

	for i, f := range steps {
		what := rn.describe(ctx, f.step, mode, opt)

		e, ok := est[f.plan+"\x00"+f.step.Title()]
		estimate := "no estimate"

		if ok {
			estimate = fmt.Sprintf("about %.1fs", e)
			total += e
		} else {
			unknown++
		}

		fmt.Fprintf(rn.Out, "[%d/%d] %s (%s): %s\n", i+1, len(steps), f.step.Title(), estimate, what)
	}

	fmt.Fprintf(rn.Out, "estimated total: %.1fs", total)

	if unknown > 0 {
		fmt.Fprintf(rn.Out, " plus %d steps without an estimate (run `lifeboat drill %s`)", unknown, name)
	}

	fmt.Fprintln(rn.Out, "; nothing was changed")

	return nil
}

// relatedPlans is the plan and every plan it includes, so a nested plan's
// drills give estimates too.
func (rn *Runner) relatedPlans(name string) []string {
	out := []string{}
	seen := map[string]bool{}

	var walk func(string)
	walk = func(n string) {
		if seen[n] {
			return
		}

		seen[n] = true

		if pl, ok := rn.Cfg.Plans[n]; ok {
			for _, st := range pl.Steps {
				if st.Kind == config.StepPlan {
					walk(st.Plan)
				}
			}
		}

		out = append(out, n)
	}

	walk(name)

	return out
}

func (rn *Runner) describe(ctx context.Context, st *config.Step, mode string, opt Options) string {
	drill := mode == ModeDrill

	switch st.Kind {
	case config.StepStop, config.StepStart:
		if drill && (st.Drill == "" || st.Drill == "skip") {
			return "skipped in a drill"
		}

		if drill {
			return "runs " + st.Drill
		}

		if st.Service != "" {
			return "systemctl " + st.Kind + " " + st.Service
		}

		return "runs " + st.Command
	case config.StepRun:
		if drill && (st.Drill == "" || st.Drill == "skip") {
			return "skipped in a drill"
		}

		if drill {
			return "runs " + st.Drill
		}

		return "runs " + st.Command
	case config.StepRestore:
		return rn.describeRestore(ctx, st, drill, opt)
	case config.StepCheck:
		if st.URL != "" {
			u := st.URL
			if drill && st.DrillURL != "" {
				u = st.DrillURL
			}

			if pu, err := url.Parse(u); err == nil {
				u = pu.Redacted()
			}

			return fmt.Sprintf("GET %s must answer 2xx within %s", u, st.Timeout)
		}

		return fmt.Sprintf("%q must be true in %s", st.SQL, st.Source)
	case config.StepNotify:
		return "sends: " + st.Message
	}

	return st.Kind
}

func (rn *Runner) describeRestore(ctx context.Context, st *config.Step, drill bool, opt Options) string {
	sc := rn.Cfg.Sources[st.Source]
	snapID := st.Snapshot

	if opt.Point != nil {
		snapID = opt.Point.Snapshots[st.Source]
		if snapID == "" {
			return fmt.Sprintf("FAILS: recovery point %s holds no snapshot of %s", opt.Point.ID, st.Source)
		}
	}

	where := "into the original location, overwriting it after a safety snapshot"
	if drill {
		where = "into a scratch copy"
	}

	if isDatabase(sc) {
		switch {
		case drill && st.Mode == config.RestorePhysical:
			where = "into a scratch data directory served by a private server"
		case drill && st.Mode != config.RestoreLogical:
			where = "into a scratch copy (a scratch database, or a scratch data directory served by a private server: the faster by estimate)"
		case st.Mode == config.RestorePhysical && st.Target == "":
			return "FAILS: mode: physical restores into a data directory: give it as target:"
		case st.Mode == config.RestorePhysical:
			where = "into the data directory " + st.Target + " (empty or new)"
		}

		if err := rn.checkReplayLogin(ctx, st.Source, snapID); err != nil {
			return "FAILS: " + err.Error()
		}

		at := opt.ToTime
		if at.IsZero() && st.ToTime != "" && snapID == "" {
			at, _ = ParseTime(st.ToTime)
		}

		switch {
		case snapID != "":
			snap, err := rn.Repo.Find(ctx, st.Source, snapID)
			if err != nil {
				return "FAILS: " + err.Error()
			}

			return fmt.Sprintf("%s backup %s from %s, %s", snap.Type, short(snap.ID), snap.Time.Local().Format(time.DateTime), where)
		case !at.IsZero():
			return fmt.Sprintf("recovers to %s from the full before it and the binlog, %s", at.Local().Format("2006-01-02 15:04:05.000"), where)
		}

		src, err := rn.Source(st.Source)
		if err == nil {
			if is, ok := src.(source.InstantSource); ok {
				if t, err := is.Restorable(ctx, rn.Repo); err == nil && !t.IsZero() {
					return fmt.Sprintf("recovers to the newest restorable instant, now %s, %s", t.Local().Format("2006-01-02 15:04:05.000"), where)
				}
			}
		}

		return "recovers the newest full backup " + where
	}

	if snapID == "" {
		snapID = "latest"
	}

	snap, err := rn.Repo.Find(ctx, st.Source, snapID)
	if err != nil {
		return "FAILS: " + err.Error()
	}

	target := st.Target
	if target == "" {
		target = originalTarget(sc, snap)
	}

	if drill {
		return fmt.Sprintf("snapshot %s from %s (%d files) into a temporary folder", short(snap.ID), snap.Time.Local().Format(time.DateTime), snap.Files)
	}

	s := fmt.Sprintf("snapshot %s from %s (%d files) into %s, after a safety snapshot of what it replaces", short(snap.ID), snap.Time.Local().Format(time.DateTime), snap.Files, target)
	if st.Owner != "" || st.Mode != "" {
		s += fmt.Sprintf("; then owner %s mode %s", orDash(st.Owner), orDash(st.Mode))
	}

	return s
}

// checkReplayLogin tries the client login a database restore's binlog
// replay would use; a full backup named by ID replays nothing.
func (rn *Runner) checkReplayLogin(ctx context.Context, name, snapID string) error {
	if snapID != "" {
		if snap, err := rn.Repo.Find(ctx, name, snapID); err != nil || snap.Type == repo.TypeFull {
			return nil
		}
	}

	src, err := rn.Source(name)
	if err != nil {
		return err
	}

	if rec, ok := src.(source.Recoverer); ok {
		return rec.CheckReplayLogin(ctx, rn.Repo)
	}

	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}

	return s
}
