package ops

import (
	"context"
	"errors"
	"fmt"

	"lifeboat/internal/audit"
	"lifeboat/internal/repo"
	"lifeboat/internal/verify"
)

// Verify asks to read back and authenticate stored snapshots.
type Verify struct {
	// Sources to verify, each even when it has no snapshot; nil: every
	// source that has snapshots, configured or not.
	Sources []string
	// Snapshot, with one source, verifies only that snapshot.
	Snapshot string
	// Fraction of the file content read (1: all of it).
	Fraction float64
	Job      string
}

// VerifyResult is what a verification found, over every source.
type VerifyResult struct {
	repo.VerifyResult
	// Sources are the sources verified, in order.
	Sources []string
	// Failures are the sources whose snapshots have problems
	// (*ProblemsError each).
	Failures []error
}

// Verify verifies each source's snapshots as one run per source, so each
// source's result is audited and notified on its own. Problems found are in
// the result, not the error; the error is what kept a source from being
// verified (the rest still are, unless the context ended).
func (e *Executor) Verify(ctx context.Context, req Verify, obs Observer) (*VerifyResult, error) {
	bySource, order, err := e.verifySnapshots(ctx, req)
	if err != nil {
		return nil, err
	}

	res := &VerifyResult{VerifyResult: repo.VerifyResult{Failed: map[string]bool{}}, Sources: order}

	var errs []error

	for _, name := range order {
		op := Op{Name: "verify", Source: name, What: "verify " + name, Notify: "verify " + name, Job: req.Job}

		err := e.Run(ctx, op, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
			one, err := verify.RunSample(ctx, e.Clock, e.Repo, name, bySource[name], req.Fraction, m)
			if err != nil {
				return Outcome{}, err
			}

			res.Snapshots += one.Snapshots
			res.Files += one.Files
			res.BytesRead += one.BytesRead
			res.Problems = append(res.Problems, one.Problems...)

			for id := range one.Failed {
				res.Failed[id] = true
			}

			if !one.OK() {
				return Outcome{Record: audit.Record{Detail: fmt.Sprintf("%d problems in %d snapshots", len(one.Problems), one.Snapshots)}},
					&ProblemsError{Source: name, Problems: one.Problems}
			}

			detail := fmt.Sprintf("%d snapshots, %d files", one.Snapshots, one.Files)

			return Outcome{Record: audit.Record{Detail: detail}, Message: "verification passed", Summary: detail}, nil
		})

		if errors.As(err, new(*ProblemsError)) {
			res.Failures = append(res.Failures, err)
		} else if err != nil {
			errs = append(errs, err)

			if ctx.Err() != nil {
				break
			}
		}
	}

	return res, errors.Join(errs...)
}

// verifySnapshots lists what req verifies, by source, and the sources in
// order.
func (e *Executor) verifySnapshots(ctx context.Context, req Verify) (map[string][]*repo.Snapshot, []string, error) {
	bySource := map[string][]*repo.Snapshot{}

	if req.Snapshot != "" {
		if len(req.Sources) != 1 {
			return nil, nil, errors.New("verify: a snapshot needs its one source")
		}

		s, err := e.Repo.Find(ctx, req.Sources[0], req.Snapshot)
		if err != nil {
			return nil, nil, err
		}

		bySource[s.Source] = []*repo.Snapshot{s}

		return bySource, []string{s.Source}, nil
	}

	if req.Sources != nil {
		for _, name := range req.Sources {
			snaps, err := e.Repo.Snapshots(ctx, name)
			if err != nil {
				return nil, nil, err
			}

			// Not nil: RunSample would list them again.
			bySource[name] = append([]*repo.Snapshot{}, snaps...)
		}

		return bySource, req.Sources, nil
	}

	snaps, err := e.Repo.Snapshots(ctx, "")
	if err != nil {
		return nil, nil, err
	}

	var order []string

	for _, s := range snaps {
		if _, seen := bySource[s.Source]; !seen {
			order = append(order, s.Source)
		}

		bySource[s.Source] = append(bySource[s.Source], s)
	}

	return bySource, order, nil
}

// ProblemsError is a verification that found problems: the snapshots named
// cannot be trusted.
type ProblemsError struct {
	Source   string
	Problems []string
}

func (p *ProblemsError) Error() string {
	return fmt.Sprintf("verify %s: %d problems, the first: %s", p.Source, len(p.Problems), p.Problems[0])
}
