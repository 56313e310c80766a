package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
	"lifeboat/internal/schedule"
	"lifeboat/internal/source"
	"lifeboat/internal/starter"
)

// The shapes below are what --json prints; README.md (Scriptable output)
// documents every field. Renaming one breaks users' scripts: add fields,
// never rename or drop them.

// backupJSON is one source's backup: snapshot fields when ok, error when not.
type backupJSON struct {
	Type   string `json:"type"`
	Source string `json:"source"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	*backupSnapJSON
}

type backupSnapJSON struct {
	SnapshotID    string    `json:"snapshot_id"`
	SnapshotType  string    `json:"snapshot_type"`
	Kind          string    `json:"kind"`
	Time          time.Time `json:"time"`
	Files         int64     `json:"files"`
	Bytes         int64     `json:"bytes"`
	ReadFiles     int64     `json:"read_files"`
	ReusedFiles   int64     `json:"reused_files"`
	SkippedErrors int64     `json:"skipped_errors"`
	Consistency   string    `json:"consistency,omitempty"`
	Seconds       float64   `json:"seconds"`
}

// pointJSON is the recovery point a backup of several sources recorded.
type pointJSON struct {
	Type    string   `json:"type"`
	ID      string   `json:"point_id"`
	Sources []string `json:"sources"`
}

// timed records when each source's backup started, for its duration.
func timed(starts map[string]time.Time, obs ops.Observer) ops.Observer {
	return func(ev ops.Event) {
		if ev.Kind == ops.Started && ev.Op == "backup" {
			starts[ev.Source] = ev.At
		}

		obs(ev)
	}
}

// eachBackup prints how one source's backup went, as JSON or for people.
func (a *App) eachBackup(j *jsonOut, s source.Source, snap *repo.Snapshot, err error, start time.Time) {
	if j.on {
		a.jsonBackup(j, s, snap, err, start)
		return
	}

	a.printBackup(s, snap, err, start)
}

// backupPoint prints the recovery point a backup recorded, as JSON, and
// returns where the backup's verdict for people goes: stdout, or nowhere
// under --json.
func (j *jsonOut) backupPoint(ctx context.Context, res *ops.BackupsResult) io.Writer {
	if !j.on {
		return j.a.Stdout
	}

	if p := res.Point; p != nil && ctx.Err() == nil {
		_ = j.emit(pointJSON{Type: "point", ID: p.ID, Sources: p.Sources()})
	}

	return io.Discard
}

// jsonBackup prints how one source's backup, begun at start, went; a
// failure's message also goes to stderr.
func (a *App) jsonBackup(j *jsonOut, s source.Source, snap *repo.Snapshot, err error, start time.Time) {
	out := backupJSON{Type: "result", Source: s.Name(), OK: err == nil, Error: errorText(err)}

	if err != nil {
		fmt.Fprintf(a.Stderr, "error: %v\n", err)
		_ = j.emit(out)

		return
	}

	out.backupSnapJSON = &backupSnapJSON{
		SnapshotID: snap.ID, SnapshotType: snap.Type, Kind: snap.Kind, Time: utc(snap.Time), Files: snap.Files, Bytes: snap.Bytes,
		ReadFiles: snap.ReadFiles, ReusedFiles: snap.ReusedFiles, SkippedErrors: snap.SkippedErrors,
		Seconds: clock.Since(a.clock(), start).Seconds(),
	}

	if cd, ok := s.(source.ConsistencyDescriber); ok {
		if line, ok := cd.Consistency(snap); ok {
			out.Consistency = line
		}
	}

	if snap.SkippedErrors > 0 {
		fmt.Fprintf(a.Stderr, "warning: %s: %d unreadable entries were left out (ignore_unreadable: true)\n", s.Name(), snap.SkippedErrors)
	}

	_ = j.emit(out)
}

// folderRestoreJSON is a restore of a files or git snapshot into a folder.
type folderRestoreJSON struct {
	Type         string    `json:"type"`
	Kind         string    `json:"kind"`
	Source       string    `json:"source"`
	SnapshotID   string    `json:"snapshot_id"`
	SnapshotType string    `json:"snapshot_type"`
	SnapshotTime time.Time `json:"snapshot_time"`
	Target       string    `json:"target"`
	Files        int64     `json:"files"`
	Bytes        int64     `json:"bytes"`
	Seconds      float64   `json:"seconds"`
	Resumed      bool      `json:"resumed"`
	Kept         int64     `json:"kept"`
	Safety       string    `json:"safety_snapshot_id,omitempty"`
	FromCopy     string    `json:"from_copy,omitempty"`
}

func (a *App) folderRestoreJSON(name, target string, res *ops.RestoreResult) folderRestoreJSON {
	snap, st := res.Snapshot, res.Restored.Stats

	return folderRestoreJSON{
		Type: "result", Kind: "files", Source: name, SnapshotID: snap.ID, SnapshotType: snap.Type, SnapshotTime: utc(snap.Time),
		Target: target, Files: st.Files, Bytes: st.Bytes, Seconds: res.Took.Seconds(), Resumed: st.Resumed != nil, Kept: st.Kept,
		Safety: safetyID(res.Restored.Safety), FromCopy: a.usingCopy,
	}
}

// databaseRestoreJSON is a restore of a full database snapshot (a dry run:
// what it would restore).
type databaseRestoreJSON struct {
	Type          string    `json:"type"`
	Kind          string    `json:"kind"`
	Source        string    `json:"source"`
	DryRun        bool      `json:"dry_run"`
	SnapshotID    string    `json:"snapshot_id"`
	SnapshotType  string    `json:"snapshot_type"`
	SnapshotTime  time.Time `json:"snapshot_time"`
	Databases     []string  `json:"databases"`
	Tables        int       `json:"tables"`
	Rows          int64     `json:"rows"`
	Objects       int       `json:"objects"`
	CheckedTables int       `json:"checked_tables"`
	Accounts      int       `json:"accounts"`
	Seconds       float64   `json:"seconds"`
	Safety        string    `json:"safety_snapshot_id,omitempty"`
	FromCopy      string    `json:"from_copy,omitempty"`
	// Datadir is where a physical backup was restored.
	Datadir string `json:"datadir,omitempty"`
}

// databaseRestoreJSON renders a database restore: a full as it is, a backup
// of binlog as the recovery to where it ends.
func (a *App) databaseRestoreJSON(name string, dryRun bool, res *ops.DatabaseResult) any {
	if res.Point != nil {
		return a.pointRestoreJSON(name, dryRun, res.Point)
	}

	snap := res.Snapshot
	out := databaseRestoreJSON{
		Type: "result", Kind: "database", Source: name, DryRun: dryRun, SnapshotID: snap.ID, SnapshotType: snap.Type,
		SnapshotTime: utc(snap.Time), Databases: []string{}, Seconds: res.Took.Seconds(), FromCopy: a.usingCopy,
	}

	if r := res.Restored; r != nil {
		out.Databases, out.Tables, out.Rows, out.Objects, out.CheckedTables, out.Accounts = orEmpty(r.Databases), r.Tables, r.Rows, r.Objects, r.Checked, r.Accounts
		out.Safety, out.Datadir = safetyID(r.Safety), r.Datadir
	}

	return out
}

// pointRestoreJSON is a recovery of a database to a point: the full
// restored and the binlog replayed (a dry run: the plan, and what the
// replay would apply).
type pointRestoreJSON struct {
	Type           string    `json:"type"`
	Kind           string    `json:"kind"`
	Source         string    `json:"source"`
	DryRun         bool      `json:"dry_run"`
	Target         string    `json:"target"`
	FullSnapshotID string    `json:"full_snapshot_id"`
	FullTime       time.Time `json:"full_time"`
	Segments       int       `json:"binlog_segments"`
	BinlogBytes    int64     `json:"binlog_bytes"`
	Databases      []string  `json:"databases"`
	Tables         int       `json:"tables"`
	Rows           int64     `json:"rows"`
	Transactions   int       `json:"transactions"`
	Skipped        int       `json:"skipped_transactions"`
	Reached        time.Time `json:"reached"`
	LastGTID       string    `json:"last_gtid"`
	ReplaySeconds  float64   `json:"replay_seconds"`
	Seconds        float64   `json:"seconds"`
	Safety         string    `json:"safety_snapshot_id,omitempty"`
	FromCopy       string    `json:"from_copy,omitempty"`
	Datadir        string    `json:"datadir,omitempty"`
	Choice         string    `json:"choice,omitempty"`
}

func (a *App) pointRestoreJSON(name string, dryRun bool, res *ops.PointResult) pointRestoreJSON {
	out := pointRestoreJSON{
		Type: "result", Kind: "point", Source: name, DryRun: dryRun, Target: res.Target.String(), Databases: []string{},
		Seconds: res.Took.Seconds(), FromCopy: a.usingCopy,
	}

	rep := res.PointReport
	if rep == nil {
		return out
	}

	out.Choice = rep.Choice

	if p := rep.Plan; p != nil {
		out.FullSnapshotID, out.FullTime, out.Segments, out.BinlogBytes = p.Full.Snap.ID, utc(p.Full.At), len(p.Steps), p.Bytes()
		out.Reached = utc(p.Full.At)
	}

	if r := rep.Restore; r != nil {
		out.Databases, out.Tables, out.Rows, out.Safety = orEmpty(r.Databases), r.Tables, r.Rows, safetyID(r.Safety)
		out.Datadir = r.Datadir
	}

	if r := rep.Replay; r != nil {
		out.Transactions, out.Skipped, out.LastGTID, out.ReplaySeconds = r.Transactions, r.Skipped, r.LastGTID, rep.ReplayTime.Seconds()
		if !r.Reached.IsZero() {
			out.Reached = utc(r.Reached)
		}
	}

	return out
}

func safetyID(s *repo.Snapshot) string {
	if s == nil {
		return ""
	}

	return s.ID
}

// verifyJSON is a verification of the snapshots' stored bytes.
type verifyJSON struct {
	Type              string   `json:"type"`
	Sources           []string `json:"sources"`
	Snapshots         int      `json:"snapshots"`
	Files             int64    `json:"files"`
	BytesRead         int64    `json:"bytes_read"`
	Fraction          float64  `json:"fraction"`
	Seconds           float64  `json:"seconds"`
	OK                bool     `json:"ok"`
	Problems          []string `json:"problems"`
	AuditTrailProblem string   `json:"audit_trail_problem,omitempty"`
}

// restoreTestJSON is one source's restore test (verify --restore-test).
type restoreTestJSON struct {
	Type           string    `json:"type"`
	Source         string    `json:"source"`
	SnapshotID     string    `json:"snapshot_id"`
	SnapshotTime   time.Time `json:"snapshot_time"`
	RestoreSeconds float64   `json:"restore_seconds"`
	Checked        int64     `json:"checked"`
	What           string    `json:"what"`
	Checks         string    `json:"checks,omitempty"`
	Assertions     int       `json:"assertions"`
	Seconds        float64   `json:"seconds"`
	OK             bool      `json:"ok"`
	Problems       []string  `json:"problems"`
}

// orEmpty keeps an empty list a list in JSON ([] rather than null).
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}

	return s
}

// pruneSourceJSON is what prune decided for one source.
type pruneSourceJSON struct {
	Type      string              `json:"type"`
	Source    string              `json:"source"`
	Snapshots []pruneDecisionJSON `json:"snapshots"`
	// Binlog segments: how many stay, how many go, and why they stay.
	SegmentsKept    int    `json:"binlog_segments_kept"`
	SegmentsDeleted int    `json:"binlog_segments_deleted"`
	SegmentsWhy     string `json:"binlog_reason,omitempty"`
}

type pruneDecisionJSON struct {
	SnapshotID   string    `json:"snapshot_id"`
	Time         time.Time `json:"time"`
	SnapshotType string    `json:"snapshot_type"`
	Role         string    `json:"role"`
	Keep         bool      `json:"keep"`
	Reasons      []string  `json:"reasons"`
}

// pruneJSON is prune's total.
type pruneJSON struct {
	Type               string `json:"type"`
	DryRun             bool   `json:"dry_run"`
	ReclaimNow         bool   `json:"reclaim_now"`
	DeletedSnapshots   int    `json:"deleted_snapshots"`
	DeletedSegments    int    `json:"deleted_binlog_segments"`
	RepositoryBytesWas int64  `json:"repository_bytes_before"`
	RepositoryBytes    int64  `json:"repository_bytes_after"`
}

// jsonPrune prints a prune's decisions, one line per source, then its total
// (not when carrying the plan out failed: err is returned).
func (a *App) jsonPrune(ctx context.Context, j *jsonOut, cfg *config.Config, r *repo.Repository, res *ops.PruneResult, err error, dryRun, reclaimNow bool) error {
	for _, sp := range res.Plan.Sources {
		line := pruneSourceJSON{Type: "source", Source: sp.Source, Snapshots: []pruneDecisionJSON{}, SegmentsKept: sp.KeptSegments, SegmentsDeleted: len(sp.Segments), SegmentsWhy: sp.SegmentsWhy}
		for _, d := range sp.Decisions {
			line.Snapshots = append(line.Snapshots, pruneDecisionJSON{
				SnapshotID: d.Snap.ID, Time: utc(d.Snap.Time), SnapshotType: d.Snap.Type, Role: d.Snap.Role, Keep: d.Keep, Reasons: orEmpty(d.Reasons),
			})
		}

		if eerr := j.emit(line); eerr != nil {
			return eerr
		}
	}

	if err != nil {
		return err
	}

	if !dryRun {
		a.copyAudit(context.WithoutCancel(ctx), r, cfg)
	}

	snaps, segs := res.Plan.Deletes()

	return j.emit(pruneJSON{
		Type: "result", DryRun: dryRun, ReclaimNow: reclaimNow, DeletedSnapshots: snaps, DeletedSegments: segs,
		RepositoryBytesWas: res.Before, RepositoryBytes: res.After,
	})
}

// scheduleJSON is one scheduled job's next run.
type scheduleJSON struct {
	Job       string    `json:"job"`
	Schedule  string    `json:"schedule"`
	NextRun   time.Time `json:"next_run"`
	InSeconds float64   `json:"in_seconds"`
}

func jsonSchedule(j *jsonOut, next []schedule.Planned, now time.Time) error {
	for _, p := range next {
		if err := j.emit(scheduleJSON{Job: p.Job.Name, Schedule: p.Job.Spec, NextRun: utc(p.At), InSeconds: p.At.Sub(now).Seconds()}); err != nil {
			return err
		}
	}

	return nil
}

// configCheckJSON is a valid configuration's summary (config check).
type configCheckJSON struct {
	File       string             `json:"file"`
	OK         bool               `json:"ok"`
	Repository string             `json:"repository"`
	Sources    []configSourceJSON `json:"sources"`
	Plans      []configPlanJSON   `json:"plans"`
	Copies     []configCopyJSON   `json:"copies"`
	Warnings   []string           `json:"warnings"`
}

type configSourceJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Tier string `json:"tier"`
}

type configPlanJSON struct {
	Name  string `json:"name"`
	Tier  string `json:"tier"`
	Steps int    `json:"steps"`
}

type configCopyJSON struct {
	Name     string `json:"name"`
	Location string `json:"location"`
	Offline  bool   `json:"offline"`
}

func configCheckResult(cfg *config.Config, warnings []string) configCheckJSON {
	out := configCheckJSON{
		File: cfg.File, OK: true, Repository: cfg.Repository.Location(), Sources: []configSourceJSON{}, Plans: []configPlanJSON{},
		Copies: []configCopyJSON{}, Warnings: orEmpty(warnings),
	}

	for _, n := range cfg.SourceNames {
		out.Sources = append(out.Sources, configSourceJSON{Name: n, Type: cfg.Sources[n].Type, Tier: cfg.Sources[n].Tier})
	}

	for _, n := range cfg.PlanNames {
		out.Plans = append(out.Plans, configPlanJSON{Name: n, Tier: cfg.Plans[n].Tier, Steps: len(cfg.Plans[n].Steps)})
	}

	for _, n := range cfg.CopyNames {
		out.Copies = append(out.Copies, configCopyJSON{Name: n, Location: cfg.Copies[n].Location(), Offline: cfg.Copies[n].Offline})
	}

	return out
}

// planDryRunJSON is a plan's dry run: the steps it would run, as the text
// lines the dry run prints.
type planDryRunJSON struct {
	Plan   string   `json:"plan"`
	Mode   string   `json:"mode"`
	DryRun bool     `json:"dry_run"`
	Lines  []string `json:"lines"`
}

func (a *App) jsonPlanDryRun(ctx context.Context, j *jsonOut, rn *plan.Runner, name, mode string, opt plan.Options) error {
	var b strings.Builder

	rn.Out = &b
	if err := rn.DryRun(ctx, name, mode, opt); err != nil {
		return err
	}

	lines := []string{}
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}

	return j.emit(planDryRunJSON{Plan: name, Mode: mode, DryRun: true, Lines: lines})
}

// replicateJSON is one copy's replication (replicate, export-repo).
type replicateJSON struct {
	Type     string `json:"type"`
	Copy     string `json:"copy"`
	Location string `json:"location"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	// Absent: an offline copy that is not attached, skipped.
	Absent         bool       `json:"absent"`
	LastReplicated *time.Time `json:"last_replicated"`
	Blobs          int        `json:"blobs"`
	Bytes          int64      `json:"bytes"`
	AlreadyPresent int        `json:"already_present"`
	Seconds        float64    `json:"seconds"`
	// DryRun: --dry-run counted what would be sent and sent nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// replicateFailed prints a copy's failed replication (the message also goes
// to stderr, from the caller).
func (j *jsonOut) replicateFailed(c *config.Copy, err error) {
	if j.on {
		_ = j.emit(replicateJSON{Type: "result", Copy: c.Name, Location: c.Location(), Error: errorText(err)})
	}
}

// lastAt is t for JSON: null when it never happened.
func lastAt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}

	t = t.UTC()

	return &t
}

// pinJSON is a snapshot pinned or unpinned.
type pinJSON struct {
	Source     string `json:"source"`
	SnapshotID string `json:"snapshot_id"`
	Pinned     bool   `json:"pinned"`
}

// auditVerifyJSON is a verified audit log.
type auditVerifyJSON struct {
	File          string `json:"file"`
	OK            bool   `json:"ok"`
	Records       int    `json:"records"`
	StoredRecords int    `json:"stored_records"`
	// Note says which older records are legacy or sealed later.
	Note string `json:"note,omitempty"`
}

// initJSON is a repository created (and, with --repo, the configuration
// written for it).
type initJSON struct {
	Repository string `json:"repository"`
	ConfigFile string `json:"config_file"`
	Wrote      bool   `json:"wrote_config"`
}

// exportJSON is a database snapshot written as one SQL file.
type exportJSON struct {
	Source     string `json:"source"`
	SnapshotID string `json:"snapshot_id"`
	Output     string `json:"output"`
	Bytes      int64  `json:"bytes"`
}

// importJSON is a mysqldump file taken in as a full snapshot.
type importJSON struct {
	Source     string  `json:"source"`
	File       string  `json:"file"`
	SnapshotID string  `json:"snapshot_id"`
	Tables     int64   `json:"tables"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
}

// configVersionJSON is one stored version of the configuration.
type configVersionJSON struct {
	Stored time.Time `json:"stored"`
	SHA256 string    `json:"sha256"`
	Bytes  int64     `json:"bytes"`
	Host   string    `json:"host"`
	File   string    `json:"file"`
}

func (a *App) jsonConfigVersions(segs []*repo.Segment) error {
	for _, s := range segs {
		if err := a.emitJSON(configVersionJSON{Stored: utc(s.Stored), SHA256: s.SHA256, Bytes: s.Bytes, Host: s.Labels["host"], File: s.Labels["file"]}); err != nil {
			return err
		}
	}

	return nil
}

// sourceAddedJSON is a source added to the configuration file.
type sourceAddedJSON struct {
	Source     string   `json:"source"`
	Type       string   `json:"type"`
	Tier       string   `json:"tier"`
	ConfigFile string   `json:"config_file"`
	Schedule   string   `json:"schedule"`
	Retention  string   `json:"retention"`
	Warnings   []string `json:"warnings"`
}

func (a *App) jsonSourceAdded(cfg *config.Config, name, path string, d starter.Defaults) error {
	warnings := a.environmentProblems(cfg)
	for _, w := range warnings {
		fmt.Fprintf(a.Stderr, "warning: %s\n", w)
	}

	s := cfg.Sources[name]

	return a.emitJSON(sourceAddedJSON{
		Source: name, Type: s.Type, Tier: s.Tier, ConfigFile: path, Schedule: d.Schedule, Retention: d.Retention, Warnings: orEmpty(warnings),
	})
}

// immutabilityJSON is check-immutability's proof, attempt by attempt.
type immutabilityJSON struct {
	Checked             string     `json:"checked"`
	Location            string     `json:"location"`
	LockMode            string     `json:"lock_mode"`
	ImmutableForSeconds float64    `json:"immutable_for_seconds"`
	NewestObject        string     `json:"newest_object"`
	LockedUntil         *time.Time `json:"locked_until"`
	Locked              bool       `json:"locked"`
	DeleteRefused       bool       `json:"delete_refused"`
	DeleteError         string     `json:"delete_error"`
	OverwriteKept       bool       `json:"overwrite_kept"`
	ShortenRefused      bool       `json:"shorten_refused"`
	ShortenError        string     `json:"shorten_error"`
	ProbeLockedUntil    time.Time  `json:"probe_locked_until"`
	ProbesRemoved       int        `json:"probes_removed"`
	Immutable           bool       `json:"immutable"`
}

func immutabilityResult(name, where string, immutableFor time.Duration, res *repo.ImmutabilityCheck, now time.Time) immutabilityJSON {
	return immutabilityJSON{
		Checked: name, Location: where, LockMode: res.Mode, ImmutableForSeconds: immutableFor.Seconds(), NewestObject: res.Object,
		LockedUntil: lastAt(res.LockedUntil), Locked: !res.LockedUntil.IsZero() && res.LockedUntil.After(now),
		DeleteRefused: res.DeleteRefused, DeleteError: res.DeleteError, OverwriteKept: res.OverwriteKept,
		ShortenRefused: res.ShortenRefused, ShortenError: res.ShortenError, ProbeLockedUntil: utc(res.ProbeLockedTill),
		ProbesRemoved: res.ProbesRemoved, Immutable: res.OK(),
	}
}
