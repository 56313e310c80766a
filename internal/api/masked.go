package api

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
)

// maskChecker is a database source that tells, before anything is written,
// whether a masked copy of a snapshot would go ahead (rules, key, strict
// mode), so a request is refused at once with the copy's own message.
type maskChecker interface {
	CheckMasked(ctx context.Context, r *repo.Repository, snap *repo.Snapshot) error
}

// checkMasked refuses (400) a masked copy of source's snapshot that the copy
// itself would refuse: a source that is not a database, one without masking
// rules, a missing key, or strict mode finding an unclassified column.
func (s *Server) checkMasked(ctx context.Context, name, snapshot string) error {
	sc := s.Cfg.Sources[name]
	if sc.Type != config.KindMySQL {
		return fail(http.StatusBadRequest, "masked copies are of database sources; %s is a %s source", name, sc.Type)
	}

	if sc.MySQL.Masking == nil {
		return fail(http.StatusBadRequest, "source %s has no masking rules: add masking: {key_env: ..., rules: {...}} to it (lifeboat mask scan %s prints a starting set)", name, name)
	}

	mc, ok := s.Sources[name].(maskChecker)
	if !ok {
		return nil
	}

	if snapshot == "" {
		snapshot = "latest"
	}

	snap, err := s.Repo.Find(ctx, name, snapshot)
	if err != nil {
		return err
	}

	// A backup of binlog is masked on the columns of the full it builds on.
	if snap.Type != repo.TypeFull {
		if snap, err = s.Repo.Base(ctx, name, repo.TypeDifferential); err != nil || snap == nil {
			return err
		}
	}

	if err := mc.CheckMasked(ctx, s.Repo, snap); err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}

	return nil
}

// ExportRequest is POST /api/v1/sources/{name}/export: a full backup of a
// database source as one SQL file (gzip), in the answer's body.
type ExportRequest struct {
	// Snapshot is an ID, a unique prefix, or latest (the default).
	Snapshot string `json:"snapshot,omitempty"`
	// Masked exports a masked copy: the source's masking rules applied
	// before a row reaches the file.
	Masked bool `json:"masked,omitempty"`
}

// export answers a database source's export as a download. The route needs
// access.MaskedCopy; a copy that may hold personal data (unmasked, or
// masked in permissive mode, where an unclassified column passes as it is)
// needs access.DownloadData, like any backup data leaving the repository.
func export(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	name := r.PathValue("name")
	if _, err := s.source(name); err != nil {
		return err
	}

	req := ExportRequest{Snapshot: "latest"}
	if err := decode(r, &req); err != nil {
		return err
	}

	sc := s.Cfg.Sources[name]
	if sc.Type != config.KindMySQL {
		return fail(http.StatusBadRequest, "export writes database snapshots; %s is a %s source (download its files with GET /api/v1/snapshots/{id}/file)", name, sc.Type)
	}

	if err := s.exportAllowed(p, name, req); err != nil {
		return err
	}

	if req.Masked {
		if err := s.checkMasked(r.Context(), name, req.Snapshot); err != nil {
			return err
		}
	}

	return s.sendExport(w, r, p, name, req)
}

// exportAllowed refuses (403, audited) an export that may hold personal
// data to a principal without access.DownloadData.
func (s *Server) exportAllowed(p access.Principal, name string, req ExportRequest) error {
	if access.Allows(p.Role, access.DownloadData) {
		return nil
	}

	why := "an unmasked export"
	if req.Masked {
		m := s.Cfg.Sources[name].MySQL.Masking
		if m == nil || m.Mode == config.MaskStrict {
			return nil
		}

		why = "a masked export in permissive masking mode (a column without a rule is copied as it is)"
	}

	err := fmt.Errorf("%s of %s: %w", why, name, refusal(p, access.DownloadData))
	s.record(p, audit.Record{Action: "export", Source: name, Outcome: audit.Refused, Detail: err.Error()})

	return fail(http.StatusForbidden, "%v; ask for a masked copy of a source in strict masking mode (\"masked\": true)", err)
}

// sendExport runs the export through the executor into a private folder and
// sends the file; it is deleted once sent.
func (s *Server) sendExport(w http.ResponseWriter, r *http.Request, p access.Principal, name string, req ExportRequest) error {
	dir, err := os.MkdirTemp("", "lifeboat-export-")
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	defer os.RemoveAll(dir)

	kind := "export"
	if req.Masked {
		kind = "masked"
	}

	out := filepath.Join(dir, name+"-"+kind+".sql.gz")
	asked := asked(r, req)

	res, err := s.executor(p).Export(r.Context(), ops.Export{Source: name, Snapshot: req.Snapshot, Output: out, Asked: asked, Masked: req.Masked}, nil)
	if err != nil {
		return err
	}

	f, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	defer f.Close()

	// A large export takes longer to send than an answer may.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})

	file := fmt.Sprintf("%s-%s-%s.sql.gz", name, shortSnap(res.Snapshot.ID), kind)
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": file}))
	w.Header().Set("Content-Length", fmt.Sprint(res.Size))
	w.Header().Set("X-Lifeboat-Snapshot", res.Snapshot.ID)

	if _, err := io.Copy(w, f); err != nil && s.Log != nil {
		s.Log.Warn("export download cut short", "source", name, "snapshot", res.Snapshot.ID, "err", err)
	}

	return nil
}

// shortSnap is a snapshot ID's first characters, for a file name.
func shortSnap(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}

// withMasking sets the masking mode of each source that has masking rules,
// so a page offers a masked copy only where one can be made.
func (s *Server) withMasking(out []SourceHealth) []SourceHealth {
	for i := range out {
		if sc := s.Cfg.Sources[out[i].Name]; sc != nil && sc.Type == config.KindMySQL && sc.MySQL.Masking != nil {
			out[i].Masking = sc.MySQL.Masking.Mode
		}
	}

	return out
}
