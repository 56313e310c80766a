package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
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

// restorePoint restores a database snapshot, or recovers a database to a
// point (an incremental or differential snapshot: to where it ends).
func (a *App) restorePoint(cmd *cobra.Command, j *jsonOut, cfg *config.Config, name, snapID string, snapGiven bool, pit pointFlags, opt ops.DatabaseOptions) error {
	target, err := pit.target()
	if err != nil {
		return err
	}

	s, err := a.source(cfg, name)
	if err != nil {
		return err
	}

	_, r, err := a.openRepo(cmd.Context())
	if err != nil {
		return err
	}
	defer r.Close(cmd.Context())

	if snapGiven && pit.set() {
		return usage("give --snapshot or a point in time (--to-time, --to-position, --to-gtid, --skip-gtid), not both")
	}

	opt.DryRun, opt.Out, opt.Asked = pit.dryRun, a.Stdout, asked()
	if j.on {
		opt.Out = io.Discard
	}

	opt.Saved = func(safety *repo.Snapshot) {
		fmt.Fprintf(a.textOut(), "saved the databases it replaces as safety snapshot %s\n", shortID(safety.ID))
	}
	// Dump or binlog data the repository cannot give back: the same
	// restore from a copy.
	opt.FromCopy = a.copyRetry(cfg, r, name, repo.IsDataError)

	e := a.executor(cfg, r, []source.Source{s}, runName(cmd, []string{name}))
	obs := j.observe(a.perRun(func(ops.Event) string { return "restore " + name }).observe)

	if pit.set() {
		res, err := e.RecoverToPoint(cmd.Context(), ops.PointInTime{Source: name, Target: target, DatabaseOptions: opt}, obs)
		if err == nil && j.on {
			return j.emit(a.pointRestoreJSON(name, pit.dryRun, res))
		}

		if err != nil || pit.dryRun {
			return err
		}

		a.printRecovered(name, res)

		return nil
	}

	res, err := e.RestoreDatabase(cmd.Context(), ops.DatabaseRestore{Source: name, Snapshot: snapID, DatabaseOptions: opt}, obs)
	if err == nil && j.on {
		return j.emit(a.databaseRestoreJSON(name, pit.dryRun, res))
	}

	if err != nil || pit.dryRun {
		return err
	}

	if res.Point != nil {
		a.printRecovered(name, res.Point)
		return nil
	}

	rep, snap := res.Restored, res.Snapshot
	if rep.Physical != "" {
		fmt.Fprintf(a.Stdout, "restored %s snapshot %s (%s): %s\n", name, shortID(snap.ID), snap.Time.Local().Format(time.DateTime), rep.Physical)
		return nil
	}

	fmt.Fprintf(a.Stdout, "restored %s snapshot %s (%s) into %s: %d tables, %d rows, %d views/routines/triggers/events in %s; row counts and checksums of %d tables match the backup\n",
		name, shortID(snap.ID), snap.Time.Local().Format(time.DateTime), strings.Join(rep.Databases, ", "),
		rep.Tables, rep.Rows, rep.Objects, seconds(res.Took), rep.Checked)

	return nil
}

// printRecovered says what a recovery to a point gave back.
func (a *App) printRecovered(name string, res *ops.PointResult) {
	if res.Restore.Physical != "" {
		fmt.Fprintf(a.Stdout, "recovered %s to %s in %s: %s; then %d binlog transactions replayed in %s\n",
			name, res.Target, seconds(res.Took), res.Restore.Physical, res.Replay.Transactions, seconds(res.ReplayTime))

		return
	}

	fmt.Fprintf(a.Stdout, "recovered %s into %s to %s in %s: full backup %s (%d tables, %d rows, checksums match) plus %d binlog transactions (replayed in %s)\n",
		name, strings.Join(res.Restore.Databases, ", "), res.Target, seconds(res.Took), shortID(res.Plan.Full.Snap.ID),
		res.Restore.Tables, res.Restore.Rows, res.Replay.Transactions, seconds(res.ReplayTime))
}
