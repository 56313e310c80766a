package api

import (
	"context"
	"net/http"
	"sort"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/health"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
)

// historyDays is how many days a source's history strip shows.
const historyDays = 30

// SessionInfo is GET /api/v1/session: who the request acts as, so a page
// can hide what the role may not do (the server refuses it anyway).
type SessionInfo struct {
	User        string              `json:"user"`
	Kind        string              `json:"kind"`
	Role        access.Role         `json:"role"`
	Permissions []access.Permission `json:"permissions"`
	// CSRFToken is the session's token, for a page loaded after the login.
	CSRFToken string    `json:"csrf_token,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`
}

func sessionInfo(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	p, status, err := s.principal(r, false)
	if err != nil {
		return fail(status, "%v", err)
	}

	out := SessionInfo{User: p.Name, Kind: p.Kind, Role: p.Role, Permissions: access.Permissions(p.Role)}
	if out.Permissions == nil {
		out.Permissions = []access.Permission{}
	}

	if c, err := r.Cookie(sessionCookie); err == nil && r.Header.Get("Authorization") == "" {
		if sess, ok := s.sessions.get(c.Value, clock.Or(s.Clock).Now()); ok {
			out.CSRFToken, out.Expires = sess.csrf, sess.expires
		}
	}

	return writeJSON(w, http.StatusOK, out)
}

// Day is one day of a source's history: the backups made, the backups
// that failed, and whether its RPO was above the objective at some time of
// the day (an overdue gap).
type Day struct {
	Date    string `json:"date"`
	Backups int    `json:"backups"`
	Failed  int    `json:"failed"`
	Overdue bool   `json:"overdue"`
}

// DrillSummary is the last drill of a plan that restores a source.
type DrillSummary struct {
	Plan         string    `json:"plan"`
	ID           string    `json:"id"`
	At           time.Time `json:"at"`
	OK           bool      `json:"ok"`
	RTOSeconds   float64   `json:"rto_seconds"`
	RTOObjective float64   `json:"rto_objective_seconds"`
}

// overviewInputs is what the overview reads besides the health: the
// drills, the audit trail and every snapshot.
type overviewInputs struct {
	drills   []*plan.Run
	recs     []audit.Record
	bySource map[string][]*repo.Snapshot
}

// overview adds to each source what the dashboard's overview shows beside
// its health: the problem, the last drill and the history strip. Its
// inputs are shared between requests as the health is (readCache): every
// status and sources request of every client asks for them.
func (s *Server) overview(ctx context.Context, now time.Time, out []SourceHealth, h *health.Health) error {
	v, err := s.reads.getAt(ctx, "overview", now, s.readVersion(), func(ctx context.Context) (any, error) {
		drills, err := plan.Runs(ctx, s.Repo, plan.KindDrill, "")
		if err != nil {
			return nil, err
		}

		var recs []audit.Record
		if s.Audit != nil {
			if recs, err = audit.Read(s.Audit.Path); err != nil {
				return nil, err
			}
		}

		// One listing for every source: a repository with many sources is
		// read once, not once per source.
		all, err := s.Repo.Snapshots(ctx, "")
		if err != nil {
			return nil, err
		}

		bySource := map[string][]*repo.Snapshot{}
		for _, sn := range all {
			bySource[sn.Source] = append(bySource[sn.Source], sn)
		}

		return &overviewInputs{drills: drills, recs: recs, bySource: bySource}, nil
	})
	if err != nil {
		return err
	}

	in, _ := v.(*overviewInputs)

	for i := range out {
		out[i].Problem = h.Sources[i].Problem()
		out[i].OK = out[i].Problem == ""
		out[i].Drill = s.lastDrill(out[i].Name, in.drills)
		out[i].Days = history(now, h.Sources[i].Objective, in.bySource[out[i].Name], failures(in.recs, out[i].Name))
	}

	return nil
}

func (s *Server) lastDrill(src string, drills []*plan.Run) *DrillSummary {
	var last *DrillSummary

	for _, d := range drills {
		p, ok := s.Cfg.Plans[d.Plan]
		if !ok || !restores(p.Steps, src) {
			continue
		}

		if last == nil || d.Started.After(last.At) {
			last = &DrillSummary{Plan: d.Plan, ID: d.ID, At: d.Started, OK: d.OK(), RTOSeconds: d.RTOSeconds, RTOObjective: d.RTOObjective}
		}
	}

	return last
}

func restores(steps []*config.Step, src string) bool {
	for _, st := range steps {
		if st.Kind == "restore" && st.Source == src {
			return true
		}
	}

	return false
}

// failures are the times a source's backups failed, from the audit trail.
func failures(recs []audit.Record, src string) []time.Time {
	var out []time.Time

	for _, r := range recs {
		if r.Source == src && r.Action == "backup" && r.Outcome == audit.Failed {
			out = append(out, r.Time)
		}
	}

	return out
}

// history is the last historyDays days (UTC) up to now: per day, the
// backups and failures, and whether the time since the last backup rose
// above the objective within the day (days before the first backup are
// not overdue: there was nothing to keep fresh).
func history(now time.Time, objective time.Duration, snaps []*repo.Snapshot, failed []time.Time) []Day {
	var times []time.Time

	for _, sn := range snaps {
		if sn.Role == repo.RoleBackup {
			times = append(times, sn.Time)
		}
	}

	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })

	today := now.UTC().Truncate(24 * time.Hour)
	out := make([]Day, 0, historyDays)

	for i := historyDays - 1; i >= 0; i-- {
		from := today.AddDate(0, 0, -i)
		to := min64(from.Add(24*time.Hour), now)
		d := Day{Date: from.Format("2006-01-02")}

		var prev time.Time

		for _, t := range times {
			if t.Before(from) {
				prev = t
				continue
			}

			if !t.Before(to) {
				break
			}

			d.Backups++

			if !prev.IsZero() && objective > 0 && t.Sub(prev) > objective {
				d.Overdue = true
			}

			prev = t
		}

		if !prev.IsZero() && objective > 0 && to.Sub(prev) > objective {
			d.Overdue = true
		}

		for _, t := range failed {
			if !t.Before(from) && t.Before(to) {
				d.Failed++
			}
		}

		out = append(out, d)
	}

	return out
}

func min64(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}

	return a
}

// ChainState is GET /api/v1/audit/chain: whether the audit trail's hash
// chain holds, or its first broken record.
type ChainState struct {
	Intact  bool   `json:"intact"`
	Records int    `json:"records"`
	Last    int64  `json:"last"`
	Note    string `json:"note,omitempty"`
	Broken  string `json:"broken,omitempty"`
}

func auditChain(s *Server, w http.ResponseWriter, _ *http.Request, _ access.Principal) error {
	recs, err := audit.Read(s.Audit.Path)
	if err != nil {
		return err
	}

	c, err := audit.Verify(recs, s.Audit.Key)
	out := ChainState{Intact: err == nil, Records: c.Records, Last: c.Last, Note: c.String()}

	if err != nil {
		out.Records, out.Broken = len(recs), err.Error()
	}

	return writeJSON(w, http.StatusOK, out)
}

// drills is GET /api/v1/drills: every recorded drill with its steps,
// timings and objectives, newest first.
func drills(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	runs, err := plan.Runs(r.Context(), s.Repo, plan.KindDrill, r.URL.Query().Get("plan"))
	if err != nil {
		return err
	}

	out := make([]*plan.Run, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		out = append(out, runs[i])
	}

	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })

	return writeJSON(w, http.StatusOK, out)
}
