package mysql

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/clock"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/scratchdb"
)

// relayName is the relay log the archived binlog is served as, inside the
// restored data directory (removed once applied).
const relayName = "lifeboat-relay"

// pointStarts are the backups a point-in-time recovery may start from:
// physical fulls and incrementals when it restores into a data directory
// (they restore at disk speed and the newest before the target leaves the
// least binlog to replay), else the logical fulls.
func (s *Source) pointStarts(ctx context.Context, r *repo.Repository, physical bool) ([]binlog.Full, error) {
	snaps, err := r.Snapshots(ctx, s.cfg.Name)
	if err != nil {
		return nil, err
	}

	var out []binlog.Full

	for _, snap := range snaps {
		_, isPhys := LoadPhysical(snap)
		if isPhys != physical || snap.Role != repo.RoleBackup {
			continue
		}

		if f, ok := FullOf(snap); ok {
			out = append(out, f)
			continue
		}

		// A physical incremental is a consistent copy on its own (with its
		// chain): it starts a recovery as a full does.
		if isPhys {
			if m, err := LoadMeta(snap); err == nil && m.BinlogFile != "" {
				at, err := time.Parse(time.RFC3339Nano, m.ConsistentAt)
				if err != nil {
					at = snap.Time
				}

				out = append(out, binlog.Full{Snap: snap, Coord: binlog.Coord{File: m.BinlogFile, Pos: uint32(m.BinlogPos)}, At: at, GTID: m.GTID})
			}
		}
	}

	return out, nil
}

// pointPhysical recovers to plan's target into opt.Datadir: the physical
// chain restored and prepared, then the archived binlog from the backup's
// own position applied by a private server's replication threads
// (slave_parallel_threads of --replay-workers, else the source's workers;
// commit order kept).
func (s *Source) pointPhysical(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, opt PITROptions, rep *PITRReport) (*PITRReport, error) {
	if opt.Database != "" {
		return nil, fmt.Errorf("a recovery from a physical backup restores the whole server into --target-datadir; --target-database does not apply")
	}

	out := opt.Out
	if out == nil {
		out = io.Discard
	}

	workers := s.cfg.MySQL.Workers
	if opt.ReplayWorkers > 0 {
		workers = opt.ReplayWorkers
	}

	how := fmt.Sprintf("physical backup %s (%s) restored into %s, then the binlog replayed by the server's parallel replication (%d workers, commit order kept)",
		shortID(plan.Full.Snap.ID), plan.Full.Snap.Type, opt.Datadir, workers)

	if workers <= 1 {
		how = fmt.Sprintf("physical backup %s (%s) restored into %s, then the binlog replayed by the server's replication (one worker)", shortID(plan.Full.Snap.ID), plan.Full.Snap.Type, opt.Datadir)
	}

	if opt.DryRun {
		fmt.Fprintf(out, "point-in-time recovery of %s to %s\nthe fastest way: %s\n%s", s.cfg.Name, opt.Target, how, plan.Summary())

		res, err := arch.Replay(ctx, r, plan, nil, nil, io.Discard)
		if err != nil {
			return nil, err
		}

		rep.Replay = res
		fmt.Fprint(out, describeReplay(res, plan))

		return rep, nil
	}

	fmt.Fprintf(out, "the fastest way: %s\n", how)

	pr, err := s.restorePhysical(ctx, r, plan.Full.Snap, opt.Datadir)
	if err != nil {
		return rep, err
	}

	rep.Restore = &RestoreReport{Datadir: pr.Datadir, Physical: describePhysical(pr)}

	if len(plan.Steps) == 0 {
		rep.Replay = &binlog.Result{}
		fmt.Fprint(out, describeReplay(rep.Replay, plan))

		return rep, nil
	}

	if ph, ok := opt.Progress.(repo.Phases); ok {
		ph.Phase("replay the binlog")
	}

	clk := s.clock(r)
	start := clk.Now()
	res, err := s.replayRelay(ctx, r, arch, plan, pr.Datadir, workers, opt.Progress)
	rep.Replay, rep.ReplayTime = res, clock.Since(clk, start)

	if err == nil {
		s.measured(ctx, r, plan.Bytes(), rep.ReplayTime, func(sp *restoreSpeeds, v float64) { sp.ReplayParallel = v })
	}

	if err != nil {
		return rep, fmt.Errorf("source %s: replaying the binlog into %s failed (the data directory holds the backup plus part of the binlog; restore again into an empty one once the cause is fixed): %w", s.cfg.Name, pr.Datadir, err)
	}

	fmt.Fprint(out, describeReplay(res, plan))

	return rep, nil
}

// replayRelay writes the plan's binlog, cut at the target, as a relay log
// in datadir, starts a private server there and lets its replication apply
// it, then shuts the server down cleanly. The scratch server runs without a
// binlog and with innodb_flush_log_at_trx_commit=0: the clean shutdown
// writes everything, and a crash midway means restoring again anyway.
func (s *Source) replayRelay(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, datadir string, workers int, progress repo.Progress) (*binlog.Result, error) {
	relay := filepath.Join(datadir, relayName+".000001")

	f, err := os.OpenFile(relay, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}

	w := bufio.NewWriterSize(f, 4<<20)
	res, err := arch.ReplayCounted(ctx, r, plan, nil, nil, w, progress)

	if err == nil {
		err = w.Flush()
	}

	if cerr := f.Close(); err == nil {
		err = cerr
	}

	defer removeRelay(datadir)

	if err != nil {
		return res, fmt.Errorf("read the binlog archive: %w", err)
	}

	if res.Transactions == 0 {
		return res, nil
	}

	if err := os.WriteFile(filepath.Join(datadir, relayName+".index"), []byte("./"+relayName+".000001\n"), 0o600); err != nil {
		return res, err
	}

	threads := workers
	if threads <= 1 {
		threads = 0
	}

	srv, err := scratchdb.Start(ctx, datadir, scratchdb.Options{Extra: []string{
		"--relay-log=" + relayName, "--relay-log-index=" + relayName + ".index", "--relay-log-purge=0",
		"--slave-parallel-threads=" + strconv.Itoa(threads), "--slave-parallel-mode=optimistic",
		"--replicate-same-server-id=1", "--server-id=" + strconv.FormatUint(uint64(s.cfg.MySQL.Binlog.ServerID)+1, 10),
		"--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0", "--slave-sql-verify-checksum=1",
	}})
	if err != nil {
		return res, err
	}

	applyErr := applyRelay(ctx, srv.DB(), plan.Full.Coord, res.Position())
	if stopErr := srv.Stop(context.WithoutCancel(ctx)); applyErr == nil && stopErr != nil {
		applyErr = stopErr
	}

	// What the private server wrote belongs to the data directory's owner.
	if ownErr := matchOwner(datadir); applyErr == nil {
		applyErr = ownErr
	}

	if applyErr != nil {
		return res, fmt.Errorf("%w (server log: %s)", applyErr, srv.LogTail())
	}

	return res, nil
}

// applyRelay points the server's replication at the relay log and waits
// until the position last (the last GTID of every domain replayed) is
// applied (or the replication stops on an error), then removes the
// replication settings. Parallel replication applies domains
// independently, so waiting for the last transaction of one domain alone
// could stop before another domain is done.
func applyRelay(ctx context.Context, db *sql.DB, from binlog.Coord, last string) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	// The master's file name must be known before the first event: the
	// server's bookkeeping compares names as it applies.
	for _, q := range []string{
		"STOP SLAVE", "RESET SLAVE ALL",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='lifeboat-archive', MASTER_USE_GTID=no, MASTER_LOG_FILE=%s, MASTER_LOG_POS=%d, RELAY_LOG_FILE='%s.000001', RELAY_LOG_POS=4",
			quoteString(from.File), max(from.Pos, 4), relayName),
		"START SLAVE SQL_THREAD",
	} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()

	for {
		st, err := slaveStatus(ctx, c)
		if err != nil {
			return err
		}

		// Without a GTID to wait for, the end of the relay log read is the
		// best sign of the end.
		reached := -1
		if last == "" && st["Slave_SQL_Running_State"] == "Slave has read all relay log; waiting for more updates" {
			reached = 0
		} else if last != "" {
			if err := c.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 0)", last).Scan(&reached); err != nil {
				return err
			}
		}

		if st["Last_SQL_Errno"] != "0" && st["Last_SQL_Errno"] != "" {
			return fmt.Errorf("the replication stopped on error %s: %s", st["Last_SQL_Errno"], st["Last_SQL_Error"])
		}

		if reached == 0 {
			break
		}

		if st["Slave_SQL_Running"] != "Yes" {
			return fmt.Errorf("the replication stopped before position %s: %s", last, st["Last_SQL_Error"])
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}

	for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL"} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}

	return nil
}

func slaveStatus(ctx context.Context, c *sql.Conn) (map[string]string, error) {
	rows, err := c.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	cols, _ := rows.Columns()
	out := map[string]string{}

	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))

		for i := range vals {
			ptrs[i] = &vals[i]
		}

		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}

		for i, c := range cols {
			out[c] = vals[i].String
		}
	}

	return out, rows.Err()
}

// removeRelay removes the relay logs and what the server kept of the
// replication, so the data directory holds only the data.
func removeRelay(datadir string) {
	matches, _ := filepath.Glob(filepath.Join(datadir, relayName+".*"))
	for _, m := range matches {
		os.Remove(m)
	}

	for _, f := range []string{"master.info", "relay-log.info", "multi-master.info"} {
		os.Remove(filepath.Join(datadir, f))
	}
}

// noteFaster says, before a logical recovery, which way it takes and
// whether a physical backup would reach the same target faster: it
// restores at disk speed and its replay runs in parallel, but into a data
// directory rather than the running server, so only the user can choose it.
func (s *Source) noteFaster(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, opt PITROptions) {
	if opt.Out == nil {
		return
	}

	phys, err := s.pointStarts(ctx, r, true)
	if err != nil || len(phys) == 0 {
		return
	}

	pp, err := arch.Plan(phys, opt.Target, s.clock(r).Now())
	if err != nil {
		return
	}

	fmt.Fprintf(opt.Out, "the way taken: logical full %s loaded into the server, then %s of binlog replayed in one session; physical backup %s (%s of binlog to replay after it) restores faster into an empty data directory: --target-datadir DIR\n",
		shortID(plan.Full.Snap.ID), progress.Bytes(plan.Bytes()), shortID(pp.Full.Snap.ID), progress.Bytes(pp.Bytes()))
}
