package mysql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/progress"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// speedsState is the source's record of how fast its earlier restores
// went: what a recovery's estimates are made of.
const speedsState = "restore-speeds"

// restoreSpeeds are bytes per second measured by the last restore of each
// kind: a logical full loaded into a server (its recorded size over the
// load's duration), a physical chain unpacked and prepared, and the binlog
// replayed by one client session or by a server's parallel replication.
type restoreSpeeds struct {
	LogicalLoad    float64 `record:"logical_load,omitempty,prec=0"`
	PhysicalCopy   float64 `record:"physical_copy,omitempty,prec=0"`
	ReplaySerial   float64 `record:"replay_serial,omitempty,prec=0"`
	ReplayParallel float64 `record:"replay_parallel,omitempty,prec=0"`
}

// Until a restore of the kind was measured: the figure for a
// logical load on a small server, a disk's sequential speed for a
// physical copy, and replay rates of a busy write load.
var defaultSpeeds = restoreSpeeds{LogicalLoad: 40e6, PhysicalCopy: 200e6, ReplaySerial: 4e6, ReplayParallel: 8e6}

func (s *Source) speeds(ctx context.Context, r *repo.Repository) (restoreSpeeds, bool) {
	sp, ok, err := records.State[restoreSpeeds](ctx, r, s.cfg.Name, speedsState)
	if err != nil || !ok {
		return defaultSpeeds, false
	}

	for _, f := range []struct {
		v *float64
		d float64
	}{
		{&sp.LogicalLoad, defaultSpeeds.LogicalLoad}, {&sp.PhysicalCopy, defaultSpeeds.PhysicalCopy},
		{&sp.ReplaySerial, defaultSpeeds.ReplaySerial}, {&sp.ReplayParallel, defaultSpeeds.ReplayParallel},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}

	return sp, true
}

// measured records one measured speed (bytes over took) of the kind set
// picks; a restore too small or too quick to say anything is not recorded.
func (s *Source) measured(ctx context.Context, r *repo.Repository, bytes int64, took time.Duration, set func(*restoreSpeeds, float64)) {
	if bytes < 1<<10 || took < time.Millisecond {
		return
	}

	sp, _, err := records.State[restoreSpeeds](ctx, r, s.cfg.Name, speedsState)
	if err != nil {
		return
	}

	set(&sp, float64(bytes)/took.Seconds())
	_ = records.PutState(context.WithoutCancel(ctx), r, s.cfg.Name, speedsState, sp) // an estimate's input, not worth failing a restore over
}

// estimate is how long a recovery along plan should take: the full (with
// its chain) restored, then the plan's binlog replayed.
func (s *Source) estimate(ctx context.Context, r *repo.Repository, plan *binlog.Plan, sp restoreSpeeds) time.Duration {
	snap := plan.Full.Snap
	if phys, ok := LoadPhysical(snap); ok {
		bytes := snap.Bytes

		for _, id := range phys.Chain {
			if c, err := r.Find(ctx, s.cfg.Name, id); err == nil {
				bytes += c.Bytes
			}
		}

		return seconds(float64(bytes)/sp.PhysicalCopy + float64(plan.Bytes())/sp.ReplayParallel)
	}

	return seconds(float64(snap.Bytes)/sp.LogicalLoad + float64(plan.Bytes())/sp.ReplaySerial)
}

func seconds(f float64) time.Duration {
	return time.Duration(f * float64(time.Second)).Round(time.Second / 10)
}

// describeStart names a recovery's starting backup: "the physical full of
// 2026-01-02 03:04:05".
func describeStart(plan *binlog.Plan) string {
	kind := "logical"
	if _, ok := LoadPhysical(plan.Full.Snap); ok {
		kind = "physical"
	}

	return fmt.Sprintf("the %s %s of %s", kind, plan.Full.Snap.Type, plan.Full.At.UTC().Format(time.DateTime))
}

// choosePlan plans a recovery to opt's target and says which way it takes:
//
//   - into a server (no Datadir): from a logical full, which loads into a
//     running server; a physical backup restores only into a data directory;
//   - into a data directory (Datadir): from the physical chain, or from a
//     logical full loaded into a new server there when no physical backup
//     reaches the target;
//   - into a scratch copy (Scratch with Database and Datadir: a drill,
//     where either way serves): the way of the shorter estimated time.
func (s *Source) choosePlan(ctx context.Context, r *repo.Repository, arch *binlog.Archive, opt PITROptions) (*binlog.Plan, string, error) {
	if opt.Datadir == "" {
		plan, err := s.planPoint(ctx, r, arch, opt)
		return plan, "", err
	}

	phys, physErr := s.planFrom(ctx, r, arch, opt, true)
	logical, logErr := s.planFrom(ctx, r, arch, opt, false)

	// A drill of a source that takes no physical backups: nothing to
	// choose between.
	if opt.Scratch && opt.Database != "" && logErr == nil {
		if starts, _ := s.pointStarts(ctx, r, true); len(starts) == 0 {
			return logical, "", nil
		}
	}

	switch {
	case physErr != nil && logErr != nil:
		return nil, "", physErr
	case physErr != nil:
		return logical, fmt.Sprintf("restore: using %s (est. %s): no physical backup reaches %s", describeStart(logical), s.estimate(ctx, r, logical, s.mustSpeeds(ctx, r)), opt.Target), nil
	case logErr != nil && opt.Scratch:
		return phys, "", nil
	case logErr != nil:
		return phys, fmt.Sprintf("restore: using %s (est. %s): no logical backup reaches %s", describeStart(phys), s.estimate(ctx, r, phys, s.mustSpeeds(ctx, r)), opt.Target), nil
	}

	sp := s.mustSpeeds(ctx, r)
	pe, le := s.estimate(ctx, r, phys, sp), s.estimate(ctx, r, logical, sp)

	if !opt.Scratch || opt.Database == "" || pe <= le {
		return phys, fmt.Sprintf("restore: using %s (est. %s) rather than %s (est. %s)", describeStart(phys), pe, describeStart(logical), le), nil
	}

	return logical, fmt.Sprintf("restore: using %s (est. %s) rather than %s (est. %s)", describeStart(logical), le, describeStart(phys), pe), nil
}

func (s *Source) mustSpeeds(ctx context.Context, r *repo.Repository) restoreSpeeds {
	sp, _ := s.speeds(ctx, r)
	return sp
}

// planFrom plans a recovery from physical or from logical backups only.
func (s *Source) planFrom(ctx context.Context, r *repo.Repository, arch *binlog.Archive, opt PITROptions, physical bool) (*binlog.Plan, error) {
	starts, err := s.pointStarts(ctx, r, physical)
	if err != nil {
		return nil, err
	}

	if len(starts) == 0 {
		return nil, &binlog.PlanError{Msg: fmt.Sprintf("source %s has no %s backup to recover from", s.cfg.Name, map[bool]string{true: "physical", false: "logical"}[physical])}
	}

	plan, err := arch.Plan(starts, opt.Target, s.clock(r).Now())

	var pe *binlog.PlanError
	if err != nil && !physical && errors.As(err, &pe) {
		return s.planExact(ctx, r, opt.Target, err)
	}

	return plan, err
}

// noteSpeeds says what the estimates are made of.
func noteSpeeds(sp restoreSpeeds, measured bool) string {
	if !measured {
		return "estimated from typical speeds: no earlier restore of this source measured"
	}

	return fmt.Sprintf("estimated from earlier restores: logical load %s/s, physical copy %s/s, replay %s/s serial and %s/s parallel",
		progress.Bytes(int64(sp.LogicalLoad)), progress.Bytes(int64(sp.PhysicalCopy)), progress.Bytes(int64(sp.ReplaySerial)), progress.Bytes(int64(sp.ReplayParallel)))
}
