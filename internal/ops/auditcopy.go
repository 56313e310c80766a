package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// AuditSource is where the repository keeps its copy of the audit trail:
// one segment per increment (the records a command added), never replaced
// or deleted. Older versions stored whole copies there, which read the same.
// The copy follows one local log: a second machine writing the same
// repository with a log of its own is refused, as its log does not extend
// the copy.
const AuditSource = "_audit"

// auditStarted is the record kind saying the repository's copy of the trail
// was begun, so a copy whose pieces are all gone reads as deleted, not as
// never made.
const auditStarted = records.KindAuditTrail

// AuditCopy asks for the local audit log to be copied into the repository.
type AuditCopy struct {
	// Log is the local log (its path and key).
	Log *audit.Log
	// Warn receives what the operator must see: a refused or restarted copy.
	Warn io.Writer
}

// CopyAudit adds to the repository's copy of the audit trail the records the
// local log holds beyond it, as one new increment. The copy is append-only:
// a local log that does not extend it record for record (edited, re-chained,
// cut short, replaced) is refused loudly and the refusal recorded; the copy
// stays as it was.
func (e *Executor) CopyAudit(ctx context.Context, req AuditCopy) {
	r, path, key := e.Repo, req.Log.Path, req.Log.Key
	local, rerr := audit.Read(path)
	if errors.Is(rerr, fs.ErrNotExist) || rerr == nil && len(local) == 0 {
		return
	}

	tip, err := TrailTip(ctx, r)
	if err != nil {
		fmt.Fprintf(req.Warn, "error: the audit log was not copied into the repository: %v\n", err)
		return
	}

	if err = rerr; err == nil {
		if _, err = audit.Verify(local, key); err == nil {
			err = audit.Extends(local, tip.Seq, tip.Hash)
		}
	}

	if err != nil {
		// Name the first record that differs, which needs the copy.
		if stored, serr := ReadTrail(ctx, r, key); serr == nil && errors.As(err, new(*audit.VerifyError)) {
			if cerr := audit.Compare(local, stored); cerr != nil {
				err = cerr
			}
		}

		e.refuseAudit(req, tip, err)

		return
	}

	if tip.Pieces == 0 && tip.Started {
		msg := "the repository's copy of the audit log was deleted: stored this machine's log as a new copy"
		fmt.Fprintf(req.Warn, "warning: %s\n", msg)
		e.record(req.Log, audit.Record{Action: "audit copy", Outcome: audit.OK, Detail: msg})

		if local, err = audit.Read(path); err != nil {
			return
		}
	}

	if local[len(local)-1].Seq <= tip.Seq {
		return
	}

	seg, err := putIncrement(ctx, r, local[tip.Seq:])
	if err != nil {
		e.Log.Warn("copy the audit log into the repository", "err", err)
		return
	}

	if err := compactTrail(ctx, r, append(tip.Segs, seg)); err != nil {
		e.Log.Warn("the audit log's copy in the repository was not merged; the next command tries again", "err", err)
	}

	if !tip.Started {
		if err := records.Put(ctx, r, auditStarted, "copy", records.AuditTrail{At: clock.Or(e.Clock).Now()}); err != nil {
			e.Log.Warn("mark the audit log's copy as begun", "err", err)
		}
	}
}

// refuseAudit says, on stderr and in the log itself, that the local log was
// not copied because it does not extend the repository's copy.
func (e *Executor) refuseAudit(req AuditCopy, tip TrailEnd, why error) {
	msg := fmt.Sprintf("the audit log %s does not extend the repository's copy of it (%d records): %v", req.Log.Path, tip.Seq, why)
	fmt.Fprintf(req.Warn, "error: %s. It was not copied, and the repository's copy stays as it was. "+
		"Keep the file as evidence, move it aside and run any command that opens the repository: the log is restored from the repository's copy\n", msg)
	e.record(req.Log, audit.Record{Action: "audit copy", Outcome: audit.Refused, Detail: msg})
}

// putIncrement stores records (consecutive, extending the stored trail) as
// one segment, its range and newest hash in the labels.
func putIncrement(ctx context.Context, r *repo.Repository, recs []audit.Record) (*repo.Segment, error) {
	var buf bytes.Buffer

	for _, rec := range recs {
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}

		buf.Write(append(b, '\n'))
	}

	last := recs[len(recs)-1]
	labels := map[string]string{
		"kind": "audit", "first": strconv.FormatInt(recs[0].Seq, 10),
		"last": strconv.FormatInt(last.Seq, 10), "last_hash": last.Hash,
	}

	return r.PutSegment(ctx, AuditSource, labels, &buf)
}

// TrailEnd is the newest record of the repository's copy of the trail.
type TrailEnd struct {
	Seq    int64
	Hash   string
	Pieces int
	// Started: a copy was begun, so no pieces means they were deleted.
	Started bool
	Segs    []*repo.Segment
}

// TrailTip finds the newest stored record from the pieces' labels alone, so
// checking the local log against the copy reads nothing.
func TrailTip(ctx context.Context, r *repo.Repository) (TrailEnd, error) {
	segs, err := r.Segments(ctx, AuditSource)
	if err != nil {
		return TrailEnd{}, fmt.Errorf("the repository's copy of the audit log cannot be listed: %w", err)
	}

	started, err := records.All[records.AuditTrail](ctx, r, auditStarted)
	if err != nil {
		return TrailEnd{}, fmt.Errorf("the repository's copy of the audit log cannot be listed: %w", err)
	}

	t := TrailEnd{Pieces: len(segs), Started: hasKey(started, "copy"), Segs: segs}

	for _, s := range segs {
		last := s.Labels["last"]
		if last == "" {
			last = s.Labels["records"] // a whole copy stored by an older version
		}

		if n, _ := strconv.ParseInt(last, 10, 64); n > t.Seq {
			t.Seq, t.Hash = n, s.Labels["last_hash"]
		}
	}

	return t, nil
}

// ErrTrailDeleted is a copy of the trail that was begun and whose pieces are
// all gone.
var ErrTrailDeleted = errors.New("the repository's copy of the audit log was deleted")

// ErrTrailDamaged is a stored copy of the trail that cannot be read back or
// does not hold together.
var ErrTrailDamaged = errors.New("the repository's copy of the audit log is damaged")

// ReadTrail reads every stored piece of the trail back and joins them; with
// a key, the joined chain must verify too.
func ReadTrail(ctx context.Context, r *repo.Repository, key []byte) ([]audit.Record, error) {
	segs, err := r.Segments(ctx, AuditSource)
	if err != nil {
		return nil, fmt.Errorf("the repository's copy of the audit log cannot be listed: %w", err)
	}

	pieces := make([][]audit.Record, 0, len(segs))

	for _, s := range segs {
		recs, err := readPiece(ctx, r, s)
		if err != nil {
			return nil, fmt.Errorf("%w: piece %s: %v", ErrTrailDamaged, short(s.ID), err)
		}

		pieces = append(pieces, recs)
	}

	trail, err := audit.Join(pieces...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTrailDamaged, err)
	}

	if _, err := audit.Verify(trail, key); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTrailDamaged, err)
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

// record appends to the local audit log. A log that cannot be written is
// reported but stops nothing.
func (e *Executor) record(l *audit.Log, r audit.Record) {
	if _, err := l.Append(r); err != nil && e.Log != nil {
		e.Log.Error("audit log not written", "err", err)
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
