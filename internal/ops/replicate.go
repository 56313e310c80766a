package ops

import (
	"context"
	"fmt"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Replicate asks for one copy of the repository to be brought up to date.
type Replicate struct {
	Copy *config.Copy
	// Password opens the copy (it has the repository's).
	Password repo.Password
	// Getenv reads the copy's S3 credentials from the environment.
	Getenv func(string) string
	// DryRun counts what would be copied (Stats.Blobs, Stats.Bytes) and
	// what the copy holds (Stats.Present), and writes nothing, anywhere.
	DryRun bool
}

// Replicated is what a replication did.
type Replicated struct {
	// Absent: the copy is offline and not attached, so nothing was done;
	// LastAt is when it was last brought up to date (zero: never).
	Absent bool
	LastAt time.Time
	Stats  repo.ReplicateStats
	Took   time.Duration
	// Reseeded says how a copy of the repository's retired key (after a
	// rekey) was re-seeded from the new one; empty when it was not.
	Reseeded string
}

// Replicate brings one copy up to date, opens it to check it holds every
// snapshot, and records the result (the copy record and the audit record).
// An offline copy that is not attached is reported as Absent, not run and
// not audited: whether that is an error is the caller's to say.
func (e *Executor) Replicate(ctx context.Context, req Replicate, obs Observer) (Replicated, error) {
	c := req.Copy
	if !copies.Present(c) {
		res := Replicated{Absent: true}
		if rec, ok, err := records.Get[records.Copy](ctx, e.Repo, records.KindCopy, c.Name); err == nil && ok {
			res.LastAt = rec.At
		}

		return res, nil
	}

	var res Replicated

	if req.DryRun {
		where, err := copies.StorageOfCopy(e.Cfg, c, req.Getenv)
		if err != nil {
			return res, err
		}

		where.Clock = e.Clock

		tg, err := copies.Plan(ctx, e.Repo, c, where)
		if err != nil {
			return res, err
		}

		st, err := e.Repo.ReplicatePlan(ctx, tg.Where)
		if err != nil {
			return res, err
		}

		res.Stats, res.Reseeded = *st, tg.Reseed

		return res, nil
	}

	clk := clock.Or(e.Clock)
	start := clk.Now()

	err := e.Run(ctx, Op{Name: "replicate", What: "replicate to " + c.Name}, obs, func(ctx context.Context, m *Emitter) (Outcome, error) {
		st, err := e.replicate(ctx, req, start, m, &res.Reseeded)
		if err != nil {
			return Outcome{Record: audit.Record{Detail: fmt.Sprintf("copy %s: %v", c.Name, err)}}, err
		}

		res.Stats, res.Took = *st, clock.Since(clk, start)

		detail := fmt.Sprintf("copy %s: %d blobs, %d bytes copied and read back; %d already there", c.Name, st.Blobs, st.Bytes, st.Present)
		if res.Reseeded != "" {
			detail += "; " + res.Reseeded
		}

		return Outcome{
			Record:  audit.Record{Detail: detail},
			Summary: fmt.Sprintf("copy %s: %d blobs copied, %d already there", c.Name, st.Blobs, st.Present),
		}, nil
	})

	return res, err
}

// replicate copies the blobs, checks the copy and writes its record.
func (e *Executor) replicate(ctx context.Context, req Replicate, start time.Time, m *Emitter, reseeded *string) (*repo.ReplicateStats, error) {
	c := req.Copy

	where, err := copies.StorageOfCopy(e.Cfg, c, req.Getenv)
	if err != nil {
		return nil, err
	}

	where.Clock = e.Clock

	// A copy made before a rekey holds the old key: re-seed it.
	tg, err := copies.Prepare(ctx, e.Repo, c, where, start)
	if err != nil {
		return nil, err
	}

	if *reseeded = tg.Reseed; tg.Reseed != "" {
		m.Step("%s", tg.Reseed)
	}

	m.Step("copy the repository's blobs to %s", c.Name)

	st, err := e.Repo.Replicate(ctx, tg.Where, m)
	if err != nil {
		return nil, err
	}

	m.Step("open copy %s and check it holds every snapshot", c.Name)

	restorable, err := e.checkCopy(ctx, tg.Where, req.Password)
	if err != nil {
		return nil, err
	}

	if tg.Finish != nil {
		if err := tg.Finish(ctx); err != nil {
			return nil, fmt.Errorf("copy %s: point it at the re-seeded copy (run replicate again to finish): %w", c.Name, err)
		}
	}

	err = records.Put(context.WithoutCancel(ctx), e.Repo, records.KindCopy, c.Name, records.Copy{
		At: start, OK: true, Blobs: st.Blobs, Bytes: st.Bytes, Total: st.Total, Restorable: restorable,
	})

	return st, err
}

// checkCopy opens the copy as a repository: it must hold every snapshot. It
// returns each source's newest restorable instant in the copy.
func (e *Executor) checkCopy(ctx context.Context, where repo.Storage, pw repo.Password) (map[string]time.Time, error) {
	cp, err := repo.OpenAt(ctx, where, pw, e.Log)
	if err != nil {
		return nil, fmt.Errorf("the copy does not open after replication: %w", err)
	}
	defer cp.Close(ctx)

	restorable := map[string]time.Time{}

	for _, name := range e.Cfg.SourceNames {
		want, err := e.Repo.Snapshots(ctx, name)
		if err != nil {
			return nil, err
		}

		got, err := cp.Snapshots(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("list the copy's snapshots: %w", err)
		}

		if len(got) < len(want) {
			return nil, fmt.Errorf("the copy holds %d snapshots of %s, the repository %d", len(got), name, len(want))
		}

		src, ok := e.Sources[name]
		if !ok {
			return nil, fmt.Errorf("unknown source %q", name)
		}

		if t, err := source.Restorable(ctx, cp, src); err == nil && !t.IsZero() {
			restorable[name] = t.UTC()
		}
	}

	return restorable, nil
}
