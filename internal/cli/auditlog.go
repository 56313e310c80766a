package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
)

// auditTrail is what this process knows of the repository's audit trail.
type auditTrail struct {
	// key authenticates the records appended (repo.AuditKey); nil until the
	// repository is open, so records written before are unkeyed.
	key []byte
}

// auditLog is the local audit log, keyed once the repository is open.
func (a *App) auditLog(cfg *config.Config) *audit.Log {
	return &audit.Log{Path: cfg.Audit.Path, Key: a.trail.key, Clock: a.clock()}
}

// record appends to the audit log. A log that cannot be written is reported
// but does not stop the command: losing a backup would be worse.
func (a *App) record(cfg *config.Config, r audit.Record) {
	if _, err := a.auditLog(cfg).Append(r); err != nil {
		a.log.Error("audit log not written", "err", err)
	}
}

// auditOpened runs once the repository is open: it takes the audit key,
// brings back a missing local log from the repository's copy (not from a
// copy of the repository, which may lag), and records the configuration's
// hash when it changed.
func (a *App) auditOpened(ctx context.Context, cfg *config.Config, r *repo.Repository) {
	if k, err := r.AuditKey(); err != nil {
		a.log.Warn("audit records stay unkeyed", "err", err)
	} else {
		a.trail = auditTrail{key: k}
	}

	if a.usingCopy == "" {
		a.restoreAuditLog(ctx, cfg, r)
	}

	a.auditConfig(cfg)
}

// restoreAuditLog writes the repository's copy of the trail as the local log
// when that is missing or empty. Restoring rather than starting a new log
// keeps one chain: the records that follow extend the stored trail, which a
// new log never could, so every later copy would be refused. The copy is
// authenticated by the repository and its chain by the key, so nothing less
// trustworthy than the stored trail comes back, and the restore is recorded.
func (a *App) restoreAuditLog(ctx context.Context, cfg *config.Config, r *repo.Repository) {
	local, err := audit.Read(cfg.Audit.Path)
	if len(local) > 0 || err != nil && !errors.Is(err, fs.ErrNotExist) {
		return // a log with records, or a damaged one: never overwritten
	}

	stored, err := ops.ReadTrail(ctx, r, a.trail.key)
	if err != nil {
		fmt.Fprintf(a.Stderr, "warning: the audit log %s is missing and the repository's copy cannot restore it: %v\n", cfg.Audit.Path, err)
		return
	}

	if len(stored) == 0 {
		return
	}

	if ok, err := a.auditLog(cfg).Restore(stored); err != nil || !ok {
		if err != nil {
			a.log.Error("restore the audit log", "err", err)
		}

		return
	}

	fmt.Fprintf(a.Stderr, "warning: the audit log %s was missing: restored its %d records from the repository's copy\n", cfg.Audit.Path, len(stored))
	a.record(cfg, audit.Record{Action: "audit restore", Outcome: audit.OK,
		Detail: fmt.Sprintf("the local audit log was missing: restored %d records from the repository's copy", len(stored))})
}

// auditConfig records the configuration's hash when it changed since the
// last record of it.
func (a *App) auditConfig(cfg *config.Config) {
	b, err := os.ReadFile(cfg.File)
	if err != nil {
		return
	}

	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])

	recs, _ := audit.Read(cfg.Audit.Path)
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Action == "config" {
			if recs[i].Detail == "sha256 "+h {
				return
			}

			break
		}
	}

	a.record(cfg, audit.Record{Action: "config", Outcome: audit.OK, Detail: "sha256 " + h, Source: ""})
}

// copyAudit adds to the repository's copy of the audit trail the records the
// local log holds beyond it (ops.Executor.CopyAudit).
func (a *App) copyAudit(ctx context.Context, r *repo.Repository, cfg *config.Config) {
	ex := &ops.Executor{Cfg: cfg, Repo: r, Log: a.log}
	ex.CopyAudit(ctx, ops.AuditCopy{Log: a.auditLog(cfg), Warn: a.Stderr})
}

// auditCopy reads the repository's copy of the audit trail (nil when there
// is none) for readers that have no local log.
func auditCopy(ctx context.Context, r *repo.Repository) ([]audit.Record, bool, error) {
	recs, err := ops.ReadTrail(ctx, r, nil)
	return recs, len(recs) > 0, err
}

// trailProblem checks the repository's copy of the audit trail and the local
// log against each other and says what is wrong, or "". full reads every
// stored record back and compares each; otherwise only the newest stored
// record is compared, which reads nothing but the labels.
func (a *App) trailProblem(ctx context.Context, cfg *config.Config, r *repo.Repository, full bool) string {
	tip, err := ops.TrailTip(ctx, r)
	if err != nil {
		return err.Error()
	}

	if tip.Pieces == 0 {
		if tip.Started {
			return ops.ErrTrailDeleted.Error() + ": check this machine's log with `lifeboat audit verify`; the next backup stores it as a new copy and records that"
		}

		return "" // no command has stored it yet
	}

	var stored []audit.Record
	if full {
		if stored, err = ops.ReadTrail(ctx, r, a.trail.key); err != nil {
			return err.Error() + ": a copy of the repository (copies:) may still hold it; this machine's log is kept"
		}
	}

	local, err := audit.Read(cfg.Audit.Path)
	if err != nil {
		return fmt.Sprintf("the audit log %s cannot be read (%v) while the repository holds a copy of %d records: "+
			"move it aside and run any command that opens the repository to restore it", cfg.Audit.Path, err, tip.Seq)
	}

	if _, err = audit.Verify(local, a.trail.key); err == nil {
		if full {
			err = audit.Compare(local, stored)
		} else {
			err = audit.Extends(local, tip.Seq, tip.Hash)
		}
	}

	if err != nil {
		return fmt.Sprintf("the audit log %s does not extend the repository's copy of it: %v; run `lifeboat audit verify`", cfg.Audit.Path, err)
	}

	return ""
}

// auditVerify is `lifeboat audit verify`: the local chain, then the
// repository's copy. It fails whenever the copy cannot be checked, saying
// why, because a local chain alone proves nothing against someone who
// rewrote it.
func (a *App) auditVerify(cmd *cobra.Command) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}

	path := cfg.Audit.Path

	local, err := audit.Read(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit log %s: %w", path, err)
	}

	missing := err != nil

	pw, err := a.password(cfg, false)
	if err != nil {
		if _, verr := audit.Verify(local, nil); verr != nil {
			return fmt.Errorf("the audit log %s has been tampered with: %w", path, verr)
		}

		return fmt.Errorf("audit log %s: %d records chain in order, but neither their MACs nor the repository's copy can be checked without the repository: %w",
			path, len(local), err)
	}

	r, err := a.openStorage(cmd.Context(), cfg, pw)
	if err != nil {
		return fmt.Errorf("audit log %s: the repository's copy cannot be checked, the repository does not open (%w); "+
			"make it reachable and run `lifeboat audit verify` again", path, err)
	}
	defer r.Close(cmd.Context())

	if a.trail.key, err = r.AuditKey(); err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}

	chain, err := audit.Verify(local, a.trail.key)
	if err != nil {
		return fmt.Errorf("the audit log %s has been tampered with: %w", path, err)
	}

	tip, err := ops.TrailTip(cmd.Context(), r)
	if err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}

	stored, err := ops.ReadTrail(cmd.Context(), r, a.trail.key)
	if err != nil {
		return fmt.Errorf("audit log %s: %w: run `lifeboat verify` to see what else is damaged; a copy of the repository (copies:) may still hold it", path, err)
	}

	switch {
	case len(stored) == 0 && tip.Started:
		return fmt.Errorf("audit log %s: %d records, but %w: nothing is left to check them against; "+
			"the next `lifeboat backup` stores this log as a new copy and records that", path, len(local), ops.ErrTrailDeleted)
	case len(stored) == 0 && len(local) == 0:
		if a.jsonOut {
			return a.emitJSON(auditVerifyJSON{File: path, OK: true})
		}

		fmt.Fprintf(a.Stdout, "audit log %s: no records yet\n", path)

		return nil
	case len(stored) == 0:
		return fmt.Errorf("audit log %s: %d records, but the repository holds no copy of them yet to check against: "+
			"no command has written the repository since the log began; `lifeboat backup` stores one", path, len(local))
	case missing:
		return fmt.Errorf("audit log %s does not exist, but the repository's copy holds %d records: "+
			"run any command that opens the repository (`lifeboat status`) to restore it", path, len(stored))
	}

	if err := audit.Compare(local, stored); err != nil {
		return fmt.Errorf("the audit log %s has been tampered with: %w", path, err)
	}

	if a.jsonOut {
		return a.emitJSON(auditVerifyJSON{File: path, OK: true, Records: len(local), StoredRecords: len(stored), Note: chain.String()})
	}

	note := ""
	if s := chain.String(); s != "" {
		note = " (" + s + ")"
	}

	fmt.Fprintf(a.Stdout, "audit log %s: %d records, the hash chain is intact and its MACs check%s; the repository's copy (%d records) matches\n",
		path, len(local), note, len(stored))

	return nil
}

// audited records every run of cmd in the audit log: what was asked (the
// command line; secrets never are on it) and how it ended.
func (a *App) audited(action string, cmd *cobra.Command) *cobra.Command {
	run := cmd.RunE

	cmd.RunE = func(c *cobra.Command, args []string) error {
		err := run(c, args)
		if !errors.As(err, new(*UsageError)) {
			a.recordCommand(action, args, err)
		}

		return err
	}

	return cmd
}

// recordCommand audits a command as the user asked it (its command line,
// which never holds a secret) and how it ended. Without a configuration
// there is no audit log to write.
func (a *App) recordCommand(action string, args []string, err error) {
	cfg, cerr := a.loadConfig()
	if cerr != nil {
		return
	}

	rec := audit.Record{Action: action, Outcome: audit.OK, Detail: asked()}
	if len(args) > 0 {
		rec.Source = args[0]
	}

	if err != nil {
		rec.Outcome, rec.Detail = audit.Failed, err.Error()
	}

	a.record(cfg, rec)
}

func jsonLine(r audit.Record) ([]byte, error) {
	b, err := json.Marshal(r)
	return append(b, '\n'), err
}
