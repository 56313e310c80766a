package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// pointFlags are restore's point-in-time options.
type pointFlags struct {
	toTime     string
	toPosition string
	toGTID     string
	skipGTIDs  []string
	dryRun     bool
}

func (p pointFlags) set() bool {
	return p.toTime != "" || p.toPosition != "" || p.toGTID != "" || len(p.skipGTIDs) > 0
}

// ParseTime reads a recovery instant: RFC 3339, or a local date and time with
// optional fractions of a second.
func ParseTime(s string) (time.Time, error) {
	t, err := plan.ParseTime(s)
	if err != nil {
		return t, fmt.Errorf("--to-%w", err)
	}

	return t, nil
}

func (p pointFlags) target() (binlog.Target, error) {
	var t binlog.Target

	n := 0

	if p.toTime != "" {
		n++

		tm, err := ParseTime(p.toTime)
		if err != nil {
			return t, usage("%v", err)
		}

		t.Time = tm
	}

	if p.toPosition != "" {
		n++

		i := strings.LastIndexByte(p.toPosition, ':')
		pos, err := strconv.ParseUint(p.toPosition[i+1:], 10, 32)

		if i <= 0 || err != nil {
			return t, usage("--to-position %q: expected FILE:POS as SHOW BINLOG EVENTS prints them, e.g. mysql-bin.000042:1234", p.toPosition)
		}

		t.File, t.Pos = p.toPosition[:i], uint32(pos)
	}

	if p.toGTID != "" {
		n++

		g, err := binlog.ParseGTID(p.toGTID)
		if err != nil {
			return t, usage("--to-gtid: %v", err)
		}

		t.GTID = &g
	}

	if n > 1 {
		return t, usage("give one of --to-time, --to-position and --to-gtid")
	}

	for _, s := range p.skipGTIDs {
		g, err := binlog.ParseGTID(s)
		if err != nil {
			return t, usage("--skip-gtid: %v", err)
		}

		t.Skip = append(t.Skip, g)
	}

	return t, nil
}

// restorePoint recovers a database to an instant, or to the end of an
// incremental or differential backup (its chain is found and applied here).
func (a *App) restorePoint(cmd *cobra.Command, cfg *config.Config, name, snapID string, snapGiven bool, pit pointFlags, opt source.DatabaseRestoreOptions) error {
	target, err := pit.target()
	if err != nil {
		return err
	}

	s, err := a.source(cfg, name)
	if err != nil {
		return err
	}

	pitr, ok := s.(source.PointInTimeRestorer)
	if !ok {
		return usage("restore: source %s is a %s source; a point in time is for database sources", name, s.Kind())
	}

	_, r, err := a.openRepo(cmd.Context())
	if err != nil {
		return err
	}
	defer r.Close(cmd.Context())

	if snapGiven && pit.set() {
		return usage("give --snapshot or a point in time (--to-time, --to-position, --to-gtid, --skip-gtid), not both")
	}

	if !pit.set() {
		snap, err := r.Find(cmd.Context(), name, snapID)
		if err != nil {
			return err
		}

		if snap.Type == repo.TypeFull {
			if pit.dryRun {
				fmt.Fprintf(a.Stdout, "restore full backup %s taken at %s; no binlog to replay\n", shortID(snap.ID), snap.Time.UTC().Format(time.RFC3339Nano))
				return nil
			}

			return a.restoreDatabase(cmd, cfg, name, snapID, opt.Database, opt.Tables, opt.Overwrite)
		}

		if opt.Tables != nil {
			full, _ := r.Base(cmd.Context(), name, repo.TypeDifferential)
			hint := ""
			if full != nil {
				hint = fmt.Sprintf(" (the latest full is %s from %s)", shortID(full.ID), full.Time.Local().Format(time.DateTime))
			}

			return usage("--tables restores single tables from a full backup, and %s is a %s backup: give --snapshot with a full's ID%s, or recover the whole database to a point with --target-database", shortID(snap.ID), snap.Type, hint)
		}

		end, ok := chainEnd(s, snap)
		if !ok {
			return fmt.Errorf("snapshot %s records no binlog range", snap.ID)
		}

		target.File, target.Pos = end.File, end.Pos
		fmt.Fprintf(a.Stdout, "%s backup %s ends at binlog %s:%d: restoring the full before it and the binlog up to there\n", snap.Type, shortID(snap.ID), end.File, end.Pos)
	}

	start := time.Now()
	bar := a.bar("restore " + name)
	opt.Progress = bar

	rep, err := pitr.RestoreToPoint(cmd.Context(), r, source.PointOptions{
		DatabaseRestoreOptions: opt, Target: target, DryRun: pit.dryRun, Out: a.Stdout, Log: a.log,
	})
	bar.Done()

	if rep != nil && rep.Restore != nil && rep.Restore.Safety != nil {
		fmt.Fprintf(a.Stdout, "saved the databases it replaces as safety snapshot %s\n", shortID(rep.Restore.Safety.ID))
	}

	// The full or a binlog segment the repository cannot give back: the
	// same recovery from a copy, over what the failed attempt applied.
	if err != nil && !pit.dryRun && rep != nil && rep.Plan != nil && a.usingCopy == "" && len(cfg.CopyNames) > 0 &&
		repo.IsDataError(err) && cmd.Context().Err() == nil {
		opt.Progress, opt.Overwrite, opt.Saved = nil, true, true
		err = a.fromCopy(cmd, cfg, r, name, rep.Plan.Full.Snap, err, func(cp *repo.Repository, _ *repo.Snapshot) (err error) {
			rep, err = pitr.RestoreToPoint(cmd.Context(), cp, source.PointOptions{
				DatabaseRestoreOptions: opt, Target: target, Out: a.Stdout, Log: a.log,
			})

			return err
		})
	}

	if err != nil {
		return err
	}

	if pit.dryRun {
		return nil
	}

	fmt.Fprintf(a.Stdout, "recovered %s into %s to %s in %s: full backup %s (%d tables, %d rows, checksums match) plus %d binlog transactions (replayed in %s)\n",
		name, strings.Join(rep.Restore.Databases, ", "), target, seconds(time.Since(start)), shortID(rep.Plan.Full.Snap.ID),
		rep.Restore.Tables, rep.Restore.Rows, rep.Replay.Transactions, seconds(rep.ReplayTime))

	return nil
}

// chainEnd is where an incremental or differential of src ends in its archive.
func chainEnd(src source.Source, snap *repo.Snapshot) (binlog.Coord, bool) {
	ch, ok := src.(source.Chain)
	if !ok {
		return binlog.Coord{}, false
	}

	return ch.End(snap)
}
