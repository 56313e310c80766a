package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/plan"
)

// asked is what a request asked, as the audit record's detail: the
// route and its JSON body (which never holds a secret).
func asked(r *http.Request, body any) string {
	b, _ := json.Marshal(body)
	return "api " + r.Method + " " + r.URL.Path + " " + string(b)
}

func auditRecord(action, src, detail string) audit.Record {
	return audit.Record{Action: action, Source: src, Outcome: audit.OK, Detail: detail}
}

type backupRequest struct {
	// Type is full (the default), incremental or differential.
	Type string `json:"type"`
}

func backup(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	name := r.PathValue("name")
	if _, err := s.source(name); err != nil {
		return err
	}

	req := backupRequest{Type: "full"}
	if err := decode(r, &req); err != nil {
		return err
	}

	if !slices.Contains([]string{"full", "incremental", "differential"}, req.Type) {
		return fail(http.StatusBadRequest, "type %q: expected full, incremental or differential", req.Type)
	}

	e := s.executor(p)
	j := s.start(p, "backup", name, func(ctx context.Context, obs ops.Observer) (any, error) {
		return e.Backup(ctx, ops.Backup{Source: name, Type: req.Type}, obs)
	})

	return accepted(w, j)
}

type verifyRequest struct {
	// Fraction of the file contents read back (1, the default: all).
	Fraction float64 `json:"fraction"`
}

func verify(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	name := r.PathValue("name")
	if _, err := s.source(name); err != nil {
		return err
	}

	req := verifyRequest{Fraction: 1}
	if err := decode(r, &req); err != nil {
		return err
	}

	if req.Fraction <= 0 || req.Fraction > 1 {
		return fail(http.StatusBadRequest, "fraction %v: expected more than 0 and at most 1", req.Fraction)
	}

	e := s.executor(p)
	j := s.start(p, "verify", name, func(ctx context.Context, obs ops.Observer) (any, error) {
		res, err := e.Verify(ctx, ops.Verify{Sources: []string{name}, Fraction: req.Fraction}, obs)
		if err == nil && res != nil {
			err = errors.Join(res.Failures...)
		}

		return res, err
	})

	return accepted(w, j)
}

type restoreTestRequest struct {
	// Snapshot is the snapshot to test; empty takes the newest.
	Snapshot string `json:"snapshot"`
}

func restoreTest(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	name := r.PathValue("name")
	if _, err := s.source(name); err != nil {
		return err
	}

	var req restoreTestRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	e := s.executor(p)
	j := s.start(p, "restore test", name, func(ctx context.Context, obs ops.Observer) (any, error) {
		return e.RestoreTest(ctx, ops.RestoreTest{Source: name, Snapshot: req.Snapshot}, obs)
	})

	return accepted(w, j)
}

// RestoreRequest is POST /api/v1/restore: a files or git source into a
// folder (Target), or a database source into its server (Database, and a
// point with ToTime).
type RestoreRequest struct {
	Source string `json:"source"`
	// Snapshot is an ID, a unique prefix, or latest (the default).
	Snapshot  string   `json:"snapshot,omitempty"`
	Target    string   `json:"target,omitempty"`
	Overwrite bool     `json:"overwrite,omitempty"`
	Database  string   `json:"database,omitempty"`
	Tables    []string `json:"tables,omitempty"`
	ToTime    string   `json:"to_time,omitempty"`
	// Masked restores a masked copy of a database source (its masking
	// rules applied while rows stream in).
	Masked bool `json:"masked,omitempty"`
}

// production says whether req restores over the source's own data, which
// needs access.RestoreProduction; anything else is a scratch target.
func (s *Server) production(req RestoreRequest) bool {
	sc := s.Cfg.Sources[req.Source]

	// A database restore that may replace one (overwrite, the original
	// name, a name the source backs up) is over production; under a new
	// name without overwrite the restore refuses an existing database.
	if sc.Type == config.KindMySQL {
		return req.Overwrite || req.Database == "" || slices.Contains(sc.MySQL.Databases, req.Database)
	}

	return s.Sources[req.Source].Contains(req.Target)
}

func restore(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	req := RestoreRequest{Snapshot: "latest"}
	if err := decode(r, &req); err != nil {
		return err
	}

	if _, err := s.source(req.Source); err != nil {
		return err
	}

	isDB := s.Cfg.Sources[req.Source].Type == config.KindMySQL
	if !isDB && !filepath.IsAbs(req.Target) {
		return fail(http.StatusBadRequest, "target %q: give the absolute path of an empty or new folder to restore %s into", req.Target, req.Source)
	}

	if s.production(req) && !access.Allows(p.Role, access.RestoreProduction) {
		err := fmt.Errorf("a restore over %s's own data: %w", req.Source, refusal(p, access.RestoreProduction))
		s.record(p, audit.Record{Action: "restore", Source: req.Source, Outcome: audit.Refused, Detail: err.Error()})

		return fail(http.StatusForbidden, "%v; restore into a scratch target (another folder, another database name) instead", err)
	}

	if s.production(req) {
		if err := s.needStepUp(r, p, "a restore over "+req.Source+"'s own data"); err != nil {
			return err
		}
	}

	run, err := s.restoreRun(r, req)
	if err != nil {
		return err
	}

	if req.Masked {
		if err := s.checkMasked(r.Context(), req.Source, req.Snapshot); err != nil {
			return err
		}
	}

	e := s.executor(p)
	j := s.start(p, "restore", req.Source, func(ctx context.Context, obs ops.Observer) (any, error) {
		return run(ctx, e, obs)
	})

	return accepted(w, j)
}

// restoreRun is the executor call req asks for.
func (s *Server) restoreRun(r *http.Request, req RestoreRequest) (func(context.Context, *ops.Executor, ops.Observer) (any, error), error) {
	detail := asked(r, req)

	if s.Cfg.Sources[req.Source].Type != config.KindMySQL {
		if req.Database != "" || req.Tables != nil || req.ToTime != "" || req.Masked {
			return nil, fail(http.StatusBadRequest, "database, tables, to_time and masked are for database sources; %s is a %s source", req.Source, s.Cfg.Sources[req.Source].Type)
		}

		return func(ctx context.Context, e *ops.Executor, obs ops.Observer) (any, error) {
			return e.Restore(ctx, ops.Restore{Source: req.Source, Snapshot: req.Snapshot, Target: req.Target, Overwrite: req.Overwrite, Asked: detail}, obs)
		}, nil
	}

	if req.Target != "" {
		return nil, fail(http.StatusBadRequest, "target is for files and git sources; restore a database under another name with database")
	}

	o := ops.DatabaseOptions{Database: req.Database, Tables: req.Tables, Overwrite: req.Overwrite, Masked: req.Masked, Asked: detail, Out: io.Discard}

	if req.ToTime == "" {
		return func(ctx context.Context, e *ops.Executor, obs ops.Observer) (any, error) {
			return e.RestoreDatabase(ctx, ops.DatabaseRestore{Source: req.Source, Snapshot: req.Snapshot, DatabaseOptions: o}, obs)
		}, nil
	}

	t, err := plan.ParseTime(req.ToTime)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "to_%v", err)
	}

	return func(ctx context.Context, e *ops.Executor, obs ops.Observer) (any, error) {
		return e.RecoverToPoint(ctx, ops.PointInTime{Source: req.Source, Target: binlog.Target{Time: t}, DatabaseOptions: o}, obs)
	}, nil
}

type pruneRequest struct {
	DryRun  bool     `json:"dry_run"`
	Sources []string `json:"sources,omitempty"`
}

func pruneRepo(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req pruneRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	for _, name := range req.Sources {
		if _, err := s.source(name); err != nil {
			return err
		}
	}

	if !req.DryRun {
		if err := s.needStepUp(r, p, "a prune that deletes (not a dry run)"); err != nil {
			return err
		}
	}

	e := s.executor(p)
	j := s.start(p, "prune", "", func(ctx context.Context, obs ops.Observer) (any, error) {
		res, err := e.Prune(ctx, ops.Prune{Sources: req.Sources, DryRun: req.DryRun}, obs)
		if res == nil || res.Plan == nil {
			return nil, err
		}

		snaps, segs := res.Plan.Deletes()

		return map[string]any{"dry_run": req.DryRun, "snapshots": snaps, "segments": segs, "before": res.Before, "after": res.After}, err
	})

	return accepted(w, j)
}

type replicateRequest struct {
	Copy string `json:"copy"`
}

func replicate(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	var req replicateRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	c, ok := s.Cfg.Copies[req.Copy]
	if !ok {
		return fail(http.StatusNotFound, "no copy %q in %s", req.Copy, s.Cfg.File)
	}

	e := s.executor(p)
	j := s.start(p, "replicate", "", func(ctx context.Context, obs ops.Observer) (any, error) {
		return e.Replicate(ctx, ops.Replicate{Copy: c, Password: s.Password, Getenv: s.Getenv}, obs)
	})

	return accepted(w, j)
}

type pinRequest struct {
	Reason string `json:"reason"`
}

// pin and unpin are quick: they answer when done, not with a job.
func pin(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	return pinning(s, w, r, p, true)
}

func unpin(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	return pinning(s, w, r, p, false)
}

func pinning(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal, on bool) error {
	snap, err := s.snapshot(r)
	if err != nil {
		return err
	}

	var req pinRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	e := s.executor(p)
	op := e.Unpin

	if on {
		if req.Reason == "" {
			return fail(http.StatusBadRequest, "give the reason the snapshot is kept: {\"reason\": \"...\"}")
		}

		op = e.Pin
	}

	if err := op(r.Context(), ops.Pin{Source: snap.Source, Snapshot: snap.ID, Reason: req.Reason, By: actor(p)}, nil); err != nil {
		return err
	}

	return writeJSON(w, http.StatusOK, map[string]any{"snapshot": snap.ID, "source": snap.Source, "pinned": on})
}

func drill(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	name := r.PathValue("name")
	if _, ok := s.Cfg.Plans[name]; !ok {
		return fail(http.StatusNotFound, "no plan %q in %s", name, s.Cfg.File)
	}

	e := s.executor(p)
	j := s.start(p, "drill", "", func(ctx context.Context, obs ops.Observer) (any, error) {
		return e.RunPlan(ctx, ops.PlanRun{Plan: name, Mode: plan.ModeDrill, Actor: actor(p), Out: io.Discard}, obs)
	})

	return accepted(w, j)
}
