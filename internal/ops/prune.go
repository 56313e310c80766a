package ops

import (
	"context"
	"fmt"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/prune"
	"lifeboat/internal/records"
)

// Prune asks to delete the snapshots no retention rule keeps.
type Prune struct {
	// Sources to prune; nil: every source.
	Sources []string
	// DryRun decides and changes nothing.
	DryRun bool
	// ReclaimNow reclaims deleted data at once, which needs the repository
	// to itself.
	ReclaimNow bool
	Job        string
}

// PruneResult is what a prune decided and did.
type PruneResult struct {
	Plan *prune.Plan
	// Before and After are the repository's sizes around the deletion (not
	// measured by a dry run).
	Before, After int64
}

// Prune applies the retention rules. The result holds the plan whenever one
// was made, even when carrying it out failed.
func (e *Executor) Prune(ctx context.Context, req Prune, obs Observer) (*PruneResult, error) {
	op := Op{Name: "prune", What: "prune", Notify: "prune", Job: req.Job, Repository: true, Exclusive: req.ReclaimNow && !req.DryRun}
	if req.DryRun {
		op.Notify = ""
	}

	res := &PruneResult{}

	err := e.Run(ctx, op, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		m.Step("decide what each retention rule keeps")

		p, err := prune.Make(ctx, e.Repo, e.Cfg, req.Sources, clock.Or(e.Clock).Now())
		if err != nil {
			return Outcome{}, err
		}

		res.Plan = p
		snaps, segs := p.Deletes()

		if req.DryRun {
			detail := fmt.Sprintf("dry run: would delete %d snapshots and %d binlog segments", snaps, segs)
			return Outcome{Record: audit.Record{Detail: detail}, Summary: detail}, nil
		}

		m.Step("delete %d snapshots and %d binlog segments", snaps, segs)

		res.Before, _ = e.Repo.Size()

		if err := p.Execute(ctx, e.Repo, req.ReclaimNow); err != nil {
			return Outcome{}, err
		}

		res.After, _ = e.Repo.Size()
		detail := fmt.Sprintf("deleted %d snapshots and %d binlog segments", snaps, segs)

		return Outcome{Record: audit.Record{Detail: detail}, Message: "prune succeeded", Summary: detail}, nil
	})

	return res, err
}

// Pin asks to keep a snapshot whatever the retention rules say.
type Pin struct {
	Source, Snapshot string
	Reason           string
	// By is who pins it.
	By string
}

// Pin records the pin prune honours.
func (e *Executor) Pin(ctx context.Context, req Pin, obs Observer) error {
	op := Op{Name: "pin", Source: req.Source, What: "pin " + req.Snapshot}

	return e.Run(ctx, op, obs, func(ctx context.Context, _ *Emitter) (Outcome, error) {
		err := records.Put(ctx, e.Repo, records.KindPin, req.Snapshot, records.Pin{Reason: req.Reason, By: req.By, At: clock.Or(e.Clock).Now()})

		return Outcome{Record: audit.Record{Snapshot: req.Snapshot, Detail: req.Reason}}, err
	})
}

// Unpin removes a snapshot's pin: the retention rules decide about it again.
func (e *Executor) Unpin(ctx context.Context, req Pin, obs Observer) error {
	op := Op{Name: "unpin", Source: req.Source, What: "unpin " + req.Snapshot}

	return e.Run(ctx, op, obs, func(ctx context.Context, _ *Emitter) (Outcome, error) {
		return Outcome{Record: audit.Record{Snapshot: req.Snapshot}}, e.Repo.DeleteRecord(ctx, records.KindPin, req.Snapshot)
	})
}
