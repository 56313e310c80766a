package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// auditSource is where copies of the audit log are kept in the repository.
const auditSource = "_audit"

// record appends to the audit log. A log that cannot be written is reported
// but does not stop the command: losing a backup would be worse.
func (a *App) record(cfg *config.Config, r audit.Record) {
	if _, err := (&audit.Log{Path: cfg.Audit.Path}).Append(r); err != nil {
		a.log.Error("audit log not written", "err", err)
	}
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

// copyAudit stores the audit log in the repository and drops older copies,
// so a log edited or cut short on this machine can be caught.
func (a *App) copyAudit(ctx context.Context, r *repo.Repository, cfg *config.Config) {
	b, err := os.ReadFile(cfg.Audit.Path)
	if err != nil {
		return
	}

	recs, err := audit.Parse(bytes.NewReader(b))
	if err != nil || len(recs) == 0 {
		return
	}

	old, _ := r.Segments(ctx, auditSource)

	last := recs[len(recs)-1]
	if _, err := r.PutSegment(ctx, auditSource, map[string]string{"kind": "audit", "records": strconv.Itoa(len(recs)), "last_hash": last.Hash}, bytes.NewReader(b)); err != nil {
		a.log.Warn("copy the audit log into the repository", "err", err)
		return
	}

	for _, s := range old {
		if err := r.DeleteSegment(ctx, s.ID); err != nil {
			a.log.Warn("drop an older copy of the audit log", "err", err)
		}
	}
}

// auditCopy reads the newest copy of the audit log from the repository.
func auditCopy(ctx context.Context, r *repo.Repository) ([]audit.Record, bool, error) {
	segs, err := r.Segments(ctx, auditSource)
	if err != nil || len(segs) == 0 {
		return nil, false, err
	}

	rc, err := r.OpenSegment(ctx, segs[len(segs)-1])
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()

	recs, err := audit.Parse(rc)

	return recs, true, err
}

// audited records every run of cmd in the audit log: what was asked (the
// command line; secrets never are on it) and how it ended.
func (a *App) audited(action string, cmd *cobra.Command) *cobra.Command {
	run := cmd.RunE

	cmd.RunE = func(c *cobra.Command, args []string) error {
		err := run(c, args)

		cfg, cerr := a.loadConfig()
		if cerr != nil || errors.As(err, new(*UsageError)) {
			return err
		}

		rec := audit.Record{Action: action, Outcome: audit.OK, Detail: strings.Join(os.Args[1:], " ")}
		if len(args) > 0 {
			rec.Source = args[0]
		}

		if err != nil {
			rec.Outcome, rec.Detail = audit.Failed, err.Error()
		}

		a.record(cfg, rec)

		return err
	}

	return cmd
}

func jsonLine(r audit.Record) ([]byte, error) {
	b, err := json.Marshal(r)
	return append(b, '\n'), err
}
