package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/binlog"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/health"
	"lifeboat/internal/plan"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/report"
	"lifeboat/internal/source"
)

// SourceHealth is one source with its health, as GET /api/v1/sources
// answers it.
type SourceHealth struct {
	Name             string               `json:"name"`
	Kind             string               `json:"kind"`
	Tier             string               `json:"tier"`
	Objective        float64              `json:"rpo_objective_seconds"`
	LastBackup       time.Time            `json:"last_backup,omitzero"`
	LastType         string               `json:"last_type,omitempty"`
	Restorable       time.Time            `json:"restorable,omitzero"`
	RestorableError  string               `json:"restorable_error,omitempty"`
	RPO              float64              `json:"rpo_seconds"`
	OverObjective    bool                 `json:"over_objective"`
	NextRun          time.Time            `json:"next_run,omitzero"`
	Verify           *records.VerifyRun   `json:"verify,omitempty"`
	RestoreTest      *records.RestoreTest `json:"restore_test,omitempty"`
	Copies           copies.Summary       `json:"copies"`
	CopiesRestorable map[string]time.Time `json:"copies_restorable,omitempty"`
	// Problem is the one problem `lifeboat status` names (empty: OK).
	Problem string `json:"problem,omitempty"`
	OK      bool   `json:"ok"`
	// Drill is the last drill of a plan restoring the source.
	Drill *DrillSummary `json:"last_drill,omitempty"`
	// Masking is the masking mode of a database source with masking rules
	// (strict or permissive); empty: it has none, and takes no masked copy.
	Masking string `json:"masking,omitempty"`
	// Days is the last 30 days: backups, failures, overdue gaps.
	Days []Day `json:"days"`
}

// readVersion is what the shared reads are computed from: the repository
// as this process sees it, and the audit trail the overview counts failed
// backups in. "" when the repository cannot tell its revision: the reads
// are then computed again every readFresh.
func (s *Server) readVersion() string {
	rev, ok := s.Repo.Revision()
	if !ok {
		return ""
	}

	v := strconv.FormatInt(rev, 10)

	if s.Audit != nil {
		fi, err := os.Stat(s.Audit.Path)

		switch {
		case err == nil:
			v += "/" + strconv.FormatInt(fi.Size(), 10) + "/" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
		case errors.Is(err, fs.ErrNotExist):
			v += "/-"
		default:
			return ""
		}
	}

	return v
}

// health is every source's health, computed at most every readFresh while
// the repository changes and again only when it has (readCache); the RPOs
// are made current by sourceHealth.
func (s *Server) health(ctx context.Context) (*health.Health, error) {
	now := clock.Or(s.Clock).Now()

	v, err := s.reads.getAt(ctx, "health", now, s.readVersion(), func(ctx context.Context) (any, error) {
		return health.Compute(ctx, health.Inputs{Cfg: s.Cfg, Repo: s.Repo, Now: now, Source: s.source})
	})
	if err != nil {
		return nil, err
	}

	return v.(*health.Health), nil
}

func (s *Server) source(name string) (source.Source, error) {
	src, ok := s.Sources[name]
	if !ok {
		return nil, fail(http.StatusNotFound, "no source %q in %s", name, s.Cfg.File)
	}

	return src, nil
}

// sourceHealth is h's sources with their RPO at now (h may have been
// computed a few seconds before).
func sourceHealth(h *health.Health, now time.Time) []SourceHealth {
	out := make([]SourceHealth, 0, len(h.Sources))

	for _, s := range h.Sources {
		if !s.Restorable.IsZero() {
			s.RPO = now.Sub(s.Restorable)
		}

		v := SourceHealth{
			Name: s.Name, Kind: s.Kind, Tier: s.Tier, Objective: s.Objective.Seconds(), LastBackup: s.LastBackup,
			LastType: s.LastType, Restorable: s.Restorable, RPO: s.RPO.Seconds(), OverObjective: s.OverObjective(),
			NextRun: s.NextRun, Verify: s.Verify, RestoreTest: s.RestoreTest, Copies: s.Copies, CopiesRestorable: s.CopyRestorable,
		}
		if s.RestorableErr != nil {
			v.RestorableError = s.RestorableErr.Error()
		}

		out = append(out, v)
	}

	return out
}

func listSources(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	return s.answer(w, r, "answer sources", func(ctx context.Context, now time.Time) (any, error) {
		h, err := s.health(ctx)
		if err != nil {
			return nil, err
		}

		out := s.withMasking(sourceHealth(h, now))

		return out, s.overview(ctx, now, out, h)
	})
}

// answer writes the encoded answer build gives at the time it is called,
// shared under key by the requests within answerFresh of it (readCache),
// and until answerStale by those that come while the next one is built:
// the same for every caller allowed the route, and dropped by any change
// made through the API.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, key string, build func(ctx context.Context, now time.Time) (any, error)) error {
	now := clock.Or(s.Clock).Now()

	b, err := s.reads.within(r.Context(), key, now, reuse{fresh: answerFresh, stale: answerStale}, func(ctx context.Context) (any, error) {
		v, err := build(ctx, now)
		if err != nil {
			return nil, err
		}

		return encode(v)
	})
	if err != nil {
		return err
	}

	b.(*encoded).write(w, r)

	return nil
}

// Status is GET /api/v1/status: what `lifeboat status` shows.
type Status struct {
	Repository  string         `json:"repository"`
	Sources     []SourceHealth `json:"sources"`
	Copies      []*copies.Copy `json:"copies"`
	RunningJobs int            `json:"running_jobs"`
	// Fingerprint is the server certificate's SHA-256.
	Fingerprint string    `json:"tls_fingerprint,omitempty"`
	Now         time.Time `json:"now"`
}

func status(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	return s.answer(w, r, "answer status", func(ctx context.Context, now time.Time) (any, error) {
		h, err := s.health(ctx)
		if err != nil {
			return nil, err
		}

		st := Status{Repository: s.Cfg.Repository.Location(), Sources: s.withMasking(sourceHealth(h, now)), Copies: h.Copies, Now: now}

		if err := s.overview(ctx, now, st.Sources, h); err != nil {
			return nil, err
		}

		if st.Copies == nil {
			st.Copies = []*copies.Copy{}
		}

		if s.Transport != nil {
			st.Fingerprint = s.Transport.Fingerprint
		}

		// A job's start and end both drop the answer (a POST, the job's
		// end), so the count is never older than either.
		st.RunningJobs = s.runningJobs()

		return st, nil
	})
}

func listSnapshots(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	name := r.URL.Query().Get("source")
	if name != "" {
		if _, err := s.source(name); err != nil {
			return err
		}
	}

	// Shared between requests as the health is (readCache), encoded: a
	// few hundred snapshots take longer to encode than to send.
	b, err := s.reads.getAt(r.Context(), "snapshots\x00"+name, clock.Or(s.Clock).Now(), s.readVersion(), func(ctx context.Context) (any, error) {
		snaps, err := s.Repo.Snapshots(ctx, name)
		if err != nil {
			return nil, err
		}

		return encode(snaps)
	})
	if err != nil {
		return err
	}

	b.(*encoded).write(w, r)

	return nil
}

// snapshot finds a snapshot of any source by its ID or a unique prefix.
func (s *Server) snapshot(r *http.Request) (*repo.Snapshot, error) {
	id := r.PathValue("id")

	snaps, err := s.Repo.Snapshots(r.Context(), "")
	if err != nil {
		return nil, err
	}

	var match []*repo.Snapshot

	for _, sn := range snaps {
		if sn.ID == id || len(id) >= 6 && strings.HasPrefix(sn.ID, id) {
			match = append(match, sn)
		}
	}

	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, fail(http.StatusNotFound, "no snapshot %q: list them with GET /api/v1/snapshots", id)
	default:
		return nil, fail(http.StatusBadRequest, "snapshot ID prefix %q matches %d snapshots: give more characters", id, len(match))
	}
}

func tree(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	snap, err := s.snapshot(r)
	if err != nil {
		return err
	}

	sub := r.URL.Query().Get("path")

	entries, err := s.Repo.List(r.Context(), snap.ID, sub)
	if err != nil {
		return err
	}

	s.record(p, audit.Record{Action: "api tree", Source: snap.Source, Snapshot: snap.ID, Outcome: audit.OK, Detail: "list " + orRoot(sub)})

	if entries == nil {
		entries = []repo.Entry{}
	}

	return writeJSON(w, http.StatusOK, entries)
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}

	return p
}

// file downloads one file of a snapshot: backup data leaving the
// repository, so it is audited before the first byte.
func file(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	snap, err := s.snapshot(r)
	if err != nil {
		return err
	}

	rel := strings.Trim(r.URL.Query().Get("path"), "/")
	if rel == "" {
		return fail(http.StatusBadRequest, "give the file's path in the snapshot: ?path=dir/file")
	}

	entries, err := s.Repo.List(r.Context(), snap.ID, rel)
	if err != nil {
		return err
	}

	if len(entries) != 1 || entries[0].Type != "file" {
		return fail(http.StatusBadRequest, "%s in snapshot %s is not a file: list it with GET /api/v1/snapshots/%s/tree?path=%s", rel, snap.ID, snap.ID, rel)
	}

	s.record(p, audit.Record{Action: "api download", Source: snap.Source, Snapshot: snap.ID, Outcome: audit.OK,
		Detail: fmt.Sprintf("%s (%d bytes)", rel, entries[0].Size)})

	// A large file takes longer than an answer may.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})

	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(rel)}))
	w.Header().Set("Content-Length", fmt.Sprint(entries[0].Size))

	if err := s.Repo.ReadFile(r.Context(), snap.ID, rel, w); err != nil && s.Log != nil {
		s.Log.Warn("download cut short", "snapshot", snap.ID, "path", rel, "err", err)
	}

	return nil
}

func recoveryPoints(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	pts, err := plan.Points(r.Context(), s.Repo)
	if err != nil {
		return err
	}

	if pts == nil {
		pts = []*plan.Point{}
	}

	return writeJSON(w, http.StatusOK, pts)
}

// Range is a span of time the binlog archive can recover to any instant
// of.
type Range struct {
	Epoch string    `json:"epoch"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// BinlogArchive is GET /api/v1/sources/{name}/binlog.
type BinlogArchive struct {
	Source   string        `json:"source"`
	Archive  binlog.Stats  `json:"archive"`
	Ranges   []Range       `json:"ranges"`
	Gaps     []*binlog.Gap `json:"gaps"`
	Covered  time.Time     `json:"covered,omitzero"`
	Segments int           `json:"segments"`
}

func binlogArchive(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	name := r.PathValue("name")
	if _, err := s.source(name); err != nil {
		return err
	}

	if s.Cfg.Sources[name].Type != config.KindMySQL {
		return fail(http.StatusBadRequest, "source %s is a %s source: only database sources have a binlog archive", name, s.Cfg.Sources[name].Type)
	}

	arch, err := binlog.Load(r.Context(), s.Repo, name)
	if err != nil {
		return err
	}

	out := BinlogArchive{Source: name, Archive: arch.Stats(), Ranges: ranges(arch.Segments), Gaps: arch.Gaps, Covered: arch.Covered, Segments: len(arch.Segments)}
	if out.Gaps == nil {
		out.Gaps = []*binlog.Gap{}
	}

	return writeJSON(w, http.StatusOK, out)
}

// ranges are the spans of the archive's unbroken chains (epochs): within
// one, every instant between its first and last event can be reached.
func ranges(segs []*binlog.Segment) []Range {
	by := map[string]*Range{}

	for _, sg := range segs {
		// A chain's opening marker (where a new chain begins, after a gap)
		// holds no event and no time: it widens no range.
		if sg.First.IsZero() || sg.Last.IsZero() {
			continue
		}

		rg, ok := by[sg.Epoch]
		if !ok {
			by[sg.Epoch] = &Range{Epoch: sg.Epoch, From: sg.First, To: sg.Last}
			continue
		}

		if sg.First.Before(rg.From) {
			rg.From = sg.First
		}

		if sg.Last.After(rg.To) {
			rg.To = sg.Last
		}
	}

	out := make([]Range, 0, len(by))
	for _, rg := range by {
		out = append(out, *rg)
	}

	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })

	return out
}

func auditTrail(s *Server, w http.ResponseWriter, _ *http.Request, _ access.Principal) error {
	recs, err := audit.Read(s.Audit.Path)
	if err != nil {
		return err
	}

	if recs == nil {
		recs = []audit.Record{}
	}

	return writeJSON(w, http.StatusOK, recs)
}

func listCopies(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	recs, err := records.All[records.Copy](r.Context(), s.Repo, records.KindCopy)
	if err != nil {
		return err
	}

	out := copies.Load(s.Cfg, recs)
	if out == nil {
		out = []*copies.Copy{}
	}

	return writeJSON(w, http.StatusOK, out)
}

// compliance is the compliance report over ?since= (a duration, 30d by
// default), as `lifeboat report --format json` prints it.
func compliance(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	since := r.URL.Query().Get("since")
	if since == "" {
		since = "30d"
	}

	d, err := config.ParseDuration(since)
	if err != nil {
		return fail(http.StatusBadRequest, "since=%q: expected a duration such as 30d or 12h", since)
	}

	recs, err := audit.Read(s.Audit.Path)
	if err != nil {
		return err
	}

	now := clock.Or(s.Clock).Now()

	rep, err := report.Build(r.Context(), report.Inputs{Cfg: s.Cfg, Repo: s.Repo, Audit: recs, Since: now.Add(-d), Now: now, Source: s.source})
	if err != nil {
		return err
	}

	// Evidence to keep: Markdown and HTML come as files.
	name := "lifeboat-compliance-" + now.UTC().Format("2006-01-02")

	switch r.URL.Query().Get("format") {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		_, err = w.Write(rep.JSON())
	case "markdown", "md":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".md"}))
		_, err = w.Write([]byte(rep.Markdown()))
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".html"}))
		_, err = w.Write(rep.HTML())
	default:
		return fail(http.StatusBadRequest, "format=%q: expected json, markdown or html", r.URL.Query().Get("format"))
	}

	return err
}
