package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/audit"
	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// auditSource is where the repository keeps its copy of the audit trail:
// one segment per increment (the records a command added), never replaced
// or deleted. Older versions stored whole copies there, which read the same.
// The copy follows one local log: a second machine writing the same
// repository with a log of its own is refused, as its log does not extend
// the copy.
const auditSource = "_audit"

// auditStarted is the record kind saying the repository's copy of the trail
// was begun, so a copy whose pieces are all gone reads as deleted, not as
// never made.
const auditStarted = records.KindAuditTrail

// auditTrail is what this process knows of the repository's audit trail.
type auditTrail struct {
	// key authenticates the records appended (repo.AuditKey); nil until the
	// repository is open, so records written before are unkeyed.
	key []byte
}

// auditLog is the local audit log, keyed once the repository is open.
func (a *App) auditLog(cfg *config.Config) *audit.Log {
	return &audit.Log{Path: cfg.Audit.Path, Key: a.trail.key}
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

	stored, err := readTrail(ctx, r, a.trail.key)
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
// local log holds beyond it, as one new increment. The copy is append-only:
// a local log that does not extend it record for record (edited, re-chained,
// cut short, replaced) is refused loudly and the refusal recorded; the copy
// stays as it was.
func (a *App) copyAudit(ctx context.Context, r *repo.Repository, cfg *config.Config) {
	local, rerr := audit.Read(cfg.Audit.Path)
	if errors.Is(rerr, fs.ErrNotExist) || rerr == nil && len(local) == 0 {
		return
	}

	tip, err := trailTip(ctx, r)
	if err != nil {
		fmt.Fprintf(a.Stderr, "error: the audit log was not copied into the repository: %v\n", err)
		return
	}

	if err = rerr; err == nil {
		if _, err = audit.Verify(local, a.trail.key); err == nil {
			err = audit.Extends(local, tip.seq, tip.hash)
		}
	}

	if err != nil {
		// Name the first record that differs, which needs the copy.
		if stored, serr := readTrail(ctx, r, a.trail.key); serr == nil && errors.As(err, new(*audit.VerifyError)) {
			if cerr := audit.Compare(local, stored); cerr != nil {
				err = cerr
			}
		}

		a.refuseAudit(cfg, tip, err)

		return
	}

	if tip.pieces == 0 && tip.started {
		msg := "the repository's copy of the audit log was deleted: stored this machine's log as a new copy"
		fmt.Fprintf(a.Stderr, "warning: %s\n", msg)
		a.record(cfg, audit.Record{Action: "audit copy", Outcome: audit.OK, Detail: msg})

		if local, err = audit.Read(cfg.Audit.Path); err != nil {
			return
		}
	}

	if local[len(local)-1].Seq <= tip.seq {
		return
	}

	seg, err := putIncrement(ctx, r, local[tip.seq:])
	if err != nil {
		a.log.Warn("copy the audit log into the repository", "err", err)
		return
	}

	if err := compactTrail(ctx, r, append(tip.segs, seg)); err != nil {
		a.log.Warn("the audit log's copy in the repository was not merged; the next command tries again", "err", err)
	}

	if !tip.started {
		if err := records.Put(ctx, r, auditStarted, "copy", records.AuditTrail{At: time.Now()}); err != nil {
			a.log.Warn("mark the audit log's copy as begun", "err", err)
		}
	}
}

// refuseAudit says, on stderr and in the log itself, that the local log was
// not copied because it does not extend the repository's copy.
func (a *App) refuseAudit(cfg *config.Config, tip trailEnd, why error) {
	msg := fmt.Sprintf("the audit log %s does not extend the repository's copy of it (%d records): %v", cfg.Audit.Path, tip.seq, why)
	fmt.Fprintf(a.Stderr, "error: %s. It was not copied, and the repository's copy stays as it was. "+
		"Keep the file as evidence, move it aside and run any command that opens the repository: the log is restored from the repository's copy\n", msg)
	a.record(cfg, audit.Record{Action: "audit copy", Outcome: audit.Refused, Detail: msg})
}

// putIncrement stores records (consecutive, extending the stored trail) as
// one segment, its range and newest hash in the labels.
func putIncrement(ctx context.Context, r *repo.Repository, recs []audit.Record) (*repo.Segment, error) {
	var buf bytes.Buffer

	for _, rec := range recs {
		b, err := jsonLine(rec)
		if err != nil {
			return nil, err
		}

		buf.Write(b)
	}

	last := recs[len(recs)-1]
	labels := map[string]string{
		"kind": "audit", "first": strconv.FormatInt(recs[0].Seq, 10),
		"last": strconv.FormatInt(last.Seq, 10), "last_hash": last.Hash,
	}

	return r.PutSegment(ctx, auditSource, labels, &buf)
}

// trailEnd is the newest record of the repository's copy of the trail.
type trailEnd struct {
	seq    int64
	hash   string
	pieces int
	// started: a copy was begun, so no pieces means they were deleted.
	started bool
	segs    []*repo.Segment
}

// trailTip finds the newest stored record from the pieces' labels alone, so
// checking the local log against the copy reads nothing.
func trailTip(ctx context.Context, r *repo.Repository) (trailEnd, error) {
	segs, err := r.Segments(ctx, auditSource)
	if err != nil {
		return trailEnd{}, fmt.Errorf("the repository's copy of the audit log cannot be listed: %w", err)
	}

	started, err := records.All[records.AuditTrail](ctx, r, auditStarted)
	if err != nil {
		return trailEnd{}, fmt.Errorf("the repository's copy of the audit log cannot be listed: %w", err)
	}

	_, begun := started["copy"]
	t := trailEnd{pieces: len(segs), started: begun, segs: segs}

	for _, s := range segs {
		last := s.Labels["last"]
		if last == "" {
			last = s.Labels["records"] // a whole copy stored by an older version
		}

		if n, _ := strconv.ParseInt(last, 10, 64); n > t.seq {
			t.seq, t.hash = n, s.Labels["last_hash"]
		}
	}

	return t, nil
}

// errTrailDeleted is a copy of the trail that was begun and whose pieces are
// all gone.
var errTrailDeleted = errors.New("the repository's copy of the audit log was deleted")

// errTrailDamaged is a stored copy of the trail that cannot be read back or
// does not hold together.
var errTrailDamaged = errors.New("the repository's copy of the audit log is damaged")

// readTrail reads every stored piece of the trail back and joins them; with
// a key, the joined chain must verify too.
func readTrail(ctx context.Context, r *repo.Repository, key []byte) ([]audit.Record, error) {
	segs, err := r.Segments(ctx, auditSource)
	if err != nil {
		return nil, fmt.Errorf("the repository's copy of the audit log cannot be listed: %w", err)
	}

	pieces := make([][]audit.Record, 0, len(segs))

	for _, s := range segs {
		recs, err := readPiece(ctx, r, s)
		if err != nil {
			return nil, fmt.Errorf("%w: piece %s: %v", errTrailDamaged, shortID(s.ID), err)
		}

		pieces = append(pieces, recs)
	}

	trail, err := audit.Join(pieces...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errTrailDamaged, err)
	}

	if _, err := audit.Verify(trail, key); err != nil {
		return nil, fmt.Errorf("%w: %v", errTrailDamaged, err)
	}

	return trail, nil
}

func readPiece(ctx context.Context, r *repo.Repository, s *repo.Segment) ([]audit.Record, error) {
	rc, err := r.OpenSegment(ctx, s)
	if err != nil {
		return nil, err
	}
	defer rc.Close()

	return audit.Parse(rc)
}

// auditCopy reads the repository's copy of the audit trail (nil when there
// is none) for readers that have no local log.
func auditCopy(ctx context.Context, r *repo.Repository) ([]audit.Record, bool, error) {
	recs, err := readTrail(ctx, r, nil)
	return recs, len(recs) > 0, err
}

// trailProblem checks the repository's copy of the audit trail and the local
// log against each other and says what is wrong, or "". full reads every
// stored record back and compares each; otherwise only the newest stored
// record is compared, which reads nothing but the labels.
func (a *App) trailProblem(ctx context.Context, cfg *config.Config, r *repo.Repository, full bool) string {
	tip, err := trailTip(ctx, r)
	if err != nil {
		return err.Error()
	}

	if tip.pieces == 0 {
		if tip.started {
			return errTrailDeleted.Error() + ": check this machine's log with `lifeboat audit verify`; the next backup stores it as a new copy and records that"
		}

		return "" // no command has stored it yet
	}

	var stored []audit.Record
	if full {
		if stored, err = readTrail(ctx, r, a.trail.key); err != nil {
			return err.Error() + ": a copy of the repository (copies:) may still hold it; this machine's log is kept"
		}
	}

	local, err := audit.Read(cfg.Audit.Path)
	if err != nil {
		return fmt.Sprintf("the audit log %s cannot be read (%v) while the repository holds a copy of %d records: "+
			"move it aside and run any command that opens the repository to restore it", cfg.Audit.Path, err, tip.seq)
	}

	if _, err = audit.Verify(local, a.trail.key); err == nil {
		if full {
			err = audit.Compare(local, stored)
		} else {
			err = audit.Extends(local, tip.seq, tip.hash)
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

	tip, err := trailTip(cmd.Context(), r)
	if err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}

	stored, err := readTrail(cmd.Context(), r, a.trail.key)
	if err != nil {
		return fmt.Errorf("audit log %s: %w: run `lifeboat verify` to see what else is damaged; a copy of the repository (copies:) may still hold it", path, err)
	}

	switch {
	case len(stored) == 0 && tip.started:
		return fmt.Errorf("audit log %s: %d records, but %w: nothing is left to check them against; "+
			"the next `lifeboat backup` stores this log as a new copy and records that", path, len(local), errTrailDeleted)
	case len(stored) == 0 && len(local) == 0:
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
