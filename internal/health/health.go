// Package health computes each source's health from the repository: its last
// backup, the newest instant it can be restored to, the RPO now against its
// tier's objective, its last verification and restore test, the copies that
// hold it and its next scheduled run. `lifeboat status`, the daemon's metrics
// and the compliance report all read it from here, so they never disagree.
// It reads; it never writes, and it takes the time it is asked about rather
// than reading a clock.
package health

import (
	"context"
	"fmt"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/schedule"
	"lifeboat/internal/source"
)

// Inputs is what health is computed from.
type Inputs struct {
	Cfg  *config.Config
	Repo *repo.Repository
	// Source opens a configured source, to ask it for its newest
	// restorable instant; nil leaves Restorable and RPO unknown (zero).
	Source func(name string) (source.Source, error)
	// Jobs are the scheduled jobs; none leaves NextRun zero.
	Jobs []*schedule.Job
	// Now is the instant health is judged at.
	Now time.Time
}

// Health is every configured source's health, in configuration order, and
// every configured copy's last replication.
type Health struct {
	Sources []Source
	Copies  []*copies.Copy
	// Key is the repository key's state: its last password change and
	// escrow drill.
	Key Key
}

// Source is one source's health.
type Source struct {
	Name string
	Kind string
	Tier string
	// Objective is the tier's RPO objective.
	Objective time.Duration
	// LastBackup and LastType are the newest backup's.
	LastBackup time.Time
	LastType   string
	// Restorable is the newest instant the source can be recovered to
	// (zero: none), and RestorableErr why it could not be told.
	Restorable    time.Time
	RestorableErr error
	// RPO is what a loss now would cost: Now less Restorable (zero when
	// nothing is restorable).
	RPO time.Duration
	// NextRun is the source's next scheduled job (zero: none scheduled).
	NextRun time.Time
	// Verify and RestoreTest are the last of each, nil when never run.
	Verify      *records.VerifyRun
	RestoreTest *records.RestoreTest
	// Copies is the 3-2-1 count; CopyRestorable the newest instant each
	// copy that holds the source can restore.
	Copies         copies.Summary
	CopyRestorable map[string]time.Time
}

// OverObjective says whether the RPO now is above the tier's objective.
func (s *Source) OverObjective() bool {
	return !s.Restorable.IsZero() && s.RPO > s.Objective
}

// Compute reads every source's health at in.Now.
func Compute(ctx context.Context, in Inputs) (*Health, error) {
	runs, err := records.All[records.VerifyRun](ctx, in.Repo, records.KindVerifyRun)
	if err != nil {
		return nil, err
	}

	tests, err := records.All[records.RestoreTest](ctx, in.Repo, records.KindRestoreTest)
	if err != nil {
		return nil, err
	}

	copyRecs, err := records.All[records.Copy](ctx, in.Repo, records.KindCopy)
	if err != nil {
		return nil, err
	}

	h := &Health{Copies: copies.Load(in.Cfg, copyRecs)}
	if h.Key, err = loadKey(ctx, in.Repo, h.Copies); err != nil {
		return nil, err
	}

	h.Key.Places = KitPlaces(in.Cfg)

	medium, offsite := copies.PrimaryMedium(in.Cfg)

	// Every source's snapshots in one listing: a listing reads every
	// manifest in the repository (binlog segments too), so one per source
	// made a status of a hundred sources take seconds.
	all, err := in.Repo.Snapshots(ctx, "")
	if err != nil {
		return nil, err
	}

	bySource := map[string][]*repo.Snapshot{}
	for _, sn := range all {
		bySource[sn.Source] = append(bySource[sn.Source], sn)
	}

	var next []schedule.Planned
	if len(in.Jobs) > 0 {
		next = (&schedule.Scheduler{Jobs: in.Jobs}).Next(in.Now)
	}

	for _, name := range in.Cfg.SourceNames {
		sc := in.Cfg.Sources[name]
		s := Source{Name: name, Kind: sc.Type, Tier: sc.Tier, Objective: in.Cfg.Tiers[sc.Tier].RPO}

		if err := s.fromRepository(ctx, in, name, bySource[name]); err != nil {
			return nil, err
		}

		for _, p := range next {
			if p.Job.Lock == name && (s.NextRun.IsZero() || p.At.Before(s.NextRun)) {
				s.NextRun = p.At
			}
		}

		if v, ok := runs[name]; ok {
			s.Verify = &v
		}

		if v, ok := tests[name]; ok {
			s.RestoreTest = &v
		}

		s.Copies = copies.Summarize(name, medium, offsite, h.Copies)

		for _, c := range h.Copies {
			if t, ok := c.Restorable[name]; ok {
				if s.CopyRestorable == nil {
					s.CopyRestorable = map[string]time.Time{}
				}

				s.CopyRestorable[c.Name] = t
			}
		}

		h.Sources = append(h.Sources, s)
	}

	return h, nil
}

// fromRepository fills in the last backup, the newest restorable instant
// and the RPO from the source's snapshots (oldest first).
func (s *Source) fromRepository(ctx context.Context, in Inputs, name string, snaps []*repo.Snapshot) error {
	for _, sn := range snaps {
		if sn.Role == repo.RoleBackup {
			s.LastBackup, s.LastType = sn.Time, sn.Type
		}
	}

	if in.Source == nil {
		return nil
	}

	src, err := in.Source(name)
	if err != nil {
		return err
	}

	if src == nil {
		return fmt.Errorf("source %s is not open", name)
	}

	if _, ok := src.(source.InstantSource); ok {
		s.Restorable, s.RestorableErr = source.Restorable(ctx, in.Repo, src)
	} else {
		s.Restorable = source.NewestBackup(snaps)
	}
	if !s.Restorable.IsZero() {
		s.RPO = in.Now.Sub(s.Restorable)
	}

	return nil
}
