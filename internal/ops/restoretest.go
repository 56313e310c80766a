package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"lifeboat/internal/audit"
	"lifeboat/internal/notify"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/verify"
)

// ErrNotTestable means the source cannot restore a snapshot somewhere
// harmless to compare it.
var ErrNotTestable = errors.New("cannot be restore-tested")

// RestoreTest asks for one source's backup to be restored into a scratch
// database or temporary folder and compared with what its backup recorded.
type RestoreTest struct {
	Source string
	// Snapshot is the snapshot's ID; empty takes the newest backup a
	// restore gives back whole.
	Snapshot string
	// Tamper changes the restored copy before the comparison (tests only).
	Tamper func(ctx context.Context, target string) error
	// NotifyOutcome notifies a failed test and its recovery (the daemon's
	// schedules).
	NotifyOutcome bool
}

// RestoreTested is what a restore test found. Report is nil when the test
// could not run; a report with problems comes with an error saying so.
type RestoreTested struct {
	Snapshot *repo.Snapshot
	Report   *source.TestReport
}

// RestoreTest runs one source's restore test, records it in the repository
// and audits it. A source that cannot be tested is ErrNotTestable, neither
// run nor audited.
func (e *Executor) RestoreTest(ctx context.Context, req RestoreTest, obs Observer) (RestoreTested, error) {
	var res RestoreTested

	src, ok := e.Sources[req.Source]
	if !ok {
		return res, fmt.Errorf("unknown source %q", req.Source)
	}

	tester, ok := src.(verify.RestoreTester)
	if !ok {
		return res, fmt.Errorf("source %s %w", req.Source, ErrNotTestable)
	}

	op := Op{Name: "restore test", Source: req.Source, What: "restore test " + req.Source}
	if req.NotifyOutcome {
		op.Notify = "restore test " + req.Source
	}

	// No snapshot to test is an answer, not a test: it is not audited.
	snap, err := e.testSnapshot(ctx, req, src)
	if err != nil {
		if op.Notify != "" && e.Notify != nil {
			e.Notify.Observe(op.Notify, req.Source, false, notify.Failure, err.Error())
		}

		return res, err
	}

	res.Snapshot = snap

	err = e.Run(ctx, op, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		rec := audit.Record{Snapshot: snap.ID}

		m.Step("restore snapshot %s and compare it", short(snap.ID))

		rep, err := verify.RestoreTest(ctx, e.Clock, e.Repo, tester, snap, source.TestOptions{Version: e.Version, Progress: m, Log: e.Log, Tamper: req.Tamper})
		if err != nil {
			return Outcome{Record: rec}, err
		}

		res.Report = rep

		verdict := "OK"
		if !rep.OK() {
			verdict = fmt.Sprintf("%d PROBLEMS", len(rep.Problems))
			err = fmt.Errorf("restore test of %s: %s", req.Source, strings.Join(rep.Problems, "; "))
		}

		asserts := ""
		if rep.Assertions > 0 {
			asserts = fmt.Sprintf(", %d assertions", rep.Assertions)
		}

		rec.Detail = fmt.Sprintf("%d %s compared%s: %s", rep.Checked, rep.What, asserts, verdict)

		return Outcome{Record: rec, Message: "the restore test passed", Summary: rec.Detail}, err
	})

	return res, err
}

// testSnapshot is the snapshot a restore test takes: the one asked for, or
// the newest backup a restore gives back whole (a full, for a database).
func (e *Executor) testSnapshot(ctx context.Context, req RestoreTest, src source.Source) (*repo.Snapshot, error) {
	if req.Snapshot != "" {
		return e.Repo.Find(ctx, req.Source, req.Snapshot)
	}

	return verify.Newest(ctx, e.Repo, req.Source, source.Chained(src))
}
