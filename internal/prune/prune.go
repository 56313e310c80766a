// Package prune applies each source's retention rules to the repository: it
// plans, for every snapshot, whether it stays and why, keeps what a kept
// snapshot depends on (the full a binlog incremental builds on, the binlog
// segments from the oldest kept full on), and then deletes the rest and runs
// maintenance so the space comes back.
package prune

import (
	"context"
	"fmt"
	"sort"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/retention"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
)

// Decision is one snapshot's fate.
type Decision struct {
	Snap    *repo.Snapshot
	Keep    bool
	Reasons []string
}

// SourcePlan is what prune does to one source.
type SourcePlan struct {
	Source    string
	Decisions []Decision
	// Segments are the binlog segments (and gap records) that go.
	Segments     []*repo.Segment
	KeptSegments int
	// SegmentsWhy says which full the kept segments start from.
	SegmentsWhy string
}

// Plan is a whole prune.
type Plan struct {
	Sources []*SourcePlan
}

// Deletes counts what the plan removes.
func (p *Plan) Deletes() (snaps, segs int) {
	for _, s := range p.Sources {
		for _, d := range s.Decisions {
			if !d.Keep {
				snaps++
			}
		}

		segs += len(s.Segments)
	}

	return snaps, segs
}

// Make plans a prune of every configured source (or only names).
func Make(ctx context.Context, r *repo.Repository, cfg *config.Config, names []string, now time.Time) (*Plan, error) {
	pins, err := records.All[records.Pin](ctx, r, records.KindPin)
	if err != nil {
		return nil, err
	}

	verified, err := records.All[records.Verify](ctx, r, records.KindVerify)
	if err != nil {
		return nil, err
	}

	if len(names) == 0 {
		names = cfg.SourceNames
	}

	plan := &Plan{}

	for _, name := range names {
		sc := cfg.Sources[name]
		if sc == nil {
			return nil, fmt.Errorf("unknown source %q", name)
		}

		snaps, err := r.Snapshots(ctx, name)
		if err != nil {
			return nil, err
		}

		sp := &SourcePlan{Source: name}

		// Backups and the safety copies restores made are judged apart.
		for _, role := range []string{repo.RoleBackup, repo.RoleSafety} {
			var items []retention.Item

			byID := map[string]*repo.Snapshot{}

			for _, s := range snaps {
				if s.Role != role {
					continue
				}

				byID[s.ID] = s
				items = append(items, retention.Item{ID: s.ID, Time: s.Time, Pin: pins[s.ID].Reason, Verified: verified[s.ID].OK})
			}

			for _, d := range retention.Apply(items, sc.Retention, now, time.Local) {
				dec := Decision{Snap: byID[d.ID], Keep: d.Keep, Reasons: d.Reasons}

				// Deleting it would only hide it: its objects stay until their
				// lock ends. Keep it in the list as long as it is locked.
				if lock := cfg.Repository.S3; !dec.Keep && lock != nil && lock.ImmutableFor > 0 && now.Before(dec.Snap.Time.Add(lock.ImmutableFor)) {
					dec.Keep = true
					dec.Reasons = append(dec.Reasons, "under Object Lock until "+dec.Snap.Time.Add(lock.ImmutableFor).Local().Format("2006-01-02 15:04"))
				}

				sp.Decisions = append(sp.Decisions, dec)
			}
		}

		if chain, ok := sources.ChainOf(sc.Type); ok {
			if err := chains(ctx, r, sp, chain); err != nil {
				return nil, err
			}
		}

		sort.SliceStable(sp.Decisions, func(i, j int) bool { return sp.Decisions[i].Snap.Time.After(sp.Decisions[j].Snap.Time) })
		plan.Sources = append(plan.Sources, sp)
	}

	return plan, nil
}

// chains keeps the full every kept binlog backup builds on, and drops the
// binlog archived before the oldest kept full: nothing could replay it.
func chains(ctx context.Context, r *repo.Repository, sp *SourcePlan, chain source.Chain) error {
	var fulls []*Decision

	for i := range sp.Decisions {
		d := &sp.Decisions[i]
		if _, ok := chain.FullOf(d.Snap); ok {
			fulls = append(fulls, d)
		}
	}

	sort.Slice(fulls, func(i, j int) bool { return fulls[i].Snap.Time.Before(fulls[j].Snap.Time) })

	for _, d := range sp.Decisions {
		if !d.Keep || d.Snap.Role != repo.RoleBackup || d.Snap.Type == repo.TypeFull {
			continue
		}

		// The newest full at or before it is what it is replayed onto.
		for i := len(fulls) - 1; i >= 0; i-- {
			if !fulls[i].Snap.Time.After(d.Snap.Time) {
				if !fulls[i].Keep {
					fulls[i].Keep = true
					fulls[i].Reasons = []string{fmt.Sprintf("kept %s backup %s builds on it", d.Snap.Type, short(d.Snap.ID))}
				}

				break
			}
		}
	}

	var oldest *Decision

	for _, f := range fulls {
		if f.Keep {
			oldest = f
			break
		}
	}

	arch, err := binlog.Load(ctx, r, sp.Source)
	if err != nil {
		return err
	}

	if oldest == nil {
		sp.KeptSegments = len(arch.Segments) + len(arch.Gaps)
		sp.SegmentsWhy = "no full backup is kept, so the binlog archive is left alone"

		return nil
	}

	f, _ := chain.FullOf(oldest.Snap)
	epoch := arch.EpochFor(f.At)
	sp.SegmentsWhy = fmt.Sprintf("the binlog from the oldest kept full %s (%s, %s) on is kept", short(oldest.Snap.ID), f.At.Local().Format(time.DateTime), f.Coord)

	// Segments a compaction piece holds (left by an interrupted compaction)
	// go with the piece.
	for i, s := range append(append([]*binlog.Segment{}, arch.Segments...), arch.Hidden...) {
		hidden := i >= len(arch.Segments)
		end := binlog.Coord{File: s.File, Pos: s.End}
		// A segment ending exactly at the full is needed only when it
		// says which file comes next.
		atFull := end.File == f.Coord.File && end.Pos == f.Coord.Pos
		if s.Epoch < epoch || (s.Epoch == epoch && (end.Before(f.Coord) || atFull && s.Next == "")) {
			sp.Segments = append(sp.Segments, s.Segment)
		} else if !hidden {
			sp.KeptSegments++
		}
	}

	segs, err := r.Segments(ctx, sp.Source)
	if err != nil {
		return err
	}

	gapIDs := map[string]bool{}
	for _, g := range arch.Gaps {
		if g.At.Before(f.At) {
			gapIDs[g.ID] = true
		} else {
			sp.KeptSegments++
		}
	}

	for _, s := range segs {
		if gapIDs[s.ID] {
			sp.Segments = append(sp.Segments, s)
		}
	}

	return nil
}

// Execute deletes what the plan drops, then runs maintenance.
func (p *Plan) Execute(ctx context.Context, r *repo.Repository, reclaimNow bool) error {
	for _, sp := range p.Sources {
		for _, d := range sp.Decisions {
			if d.Keep {
				continue
			}

			if err := r.DeleteSnapshot(ctx, d.Snap.ID); err != nil {
				return err
			}

			if err := r.DeleteRecord(ctx, "verify", d.Snap.ID); err != nil {
				return err
			}
		}

		for _, s := range sp.Segments {
			if err := r.DeleteSegment(ctx, s.ID); err != nil {
				return err
			}
		}
	}

	return r.Maintain(ctx, reclaimNow)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}
