package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"lifeboat/internal/binlog"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// binlogLabel records the binlog range an incremental or differential holds.
const binlogLabel = "binlog"

// BinlogRange is what an incremental or differential snapshot records.
type BinlogRange struct {
	Epoch    string `json:"epoch"`
	FromFile string `json:"from_file"`
	FromPos  uint32 `json:"from_pos"`
	ToFile   string `json:"to_file"`
	ToPos    uint32 `json:"to_pos"`
	Segments int    `json:"segments"`
	Bytes    int64  `json:"bytes"`
	// At is when the server stood at To: the archive holds everything
	// committed before it.
	At time.Time `json:"at"`
}

// Archiver returns the binlog archiver of this source.
func (s *Source) Archiver(r *repo.Repository, log *slog.Logger, version string) *binlog.Archiver {
	name, my := s.cfg.Name, s.cfg.MySQL

	return &binlog.Archiver{
		Server: binlog.Server{
			Source: name,
			DB: func(ctx context.Context) (*sql.DB, error) {
				db, err := connect(ctx, name, my, s.getenv)

				return db, fatal(err)
			},
			Syncer:          s.syncerConfig,
			Explain:         func(err error) error { return fatal(explain(name, my, err)) },
			ServerID:        my.Binlog.ServerID,
			SegmentInterval: my.Binlog.Interval(),
			SegmentBytes:    my.Binlog.SegmentBytes,
		},
		Repo:  r,
		Log:   log,
		Clock: s.Clock,
		Full: func(ctx context.Context, reason string) (*repo.Snapshot, binlog.Coord, time.Time, error) {
			if log != nil {
				log.Warn("taking a full backup", "source", name, "reason", reason)
			}

			opt := source.BackupOptions{Type: repo.TypeFull, Version: version, Log: log}

			var (
				snap *repo.Snapshot
				err  error
			)

			if s.physicalMode() {
				snap, err = s.backupPhysical(ctx, r, repo.TypeFull, nil, opt)
			} else {
				snap, err = s.backup(ctx, r, nil, repo.RoleBackup, opt, nil)
			}
			if err != nil {
				return nil, binlog.Coord{}, time.Time{}, fatal(err)
			}

			f, ok := FullOf(snap)
			if !ok {
				return nil, binlog.Coord{}, time.Time{}, fmt.Errorf("source %s: the full backup recorded no binlog position: is the binlog on?", name)
			}

			return snap, f.Coord, f.At, nil
		},
		Fulls: func(ctx context.Context) ([]binlog.Full, error) { return s.fulls(ctx, r) },
	}
}

// fatal marks errors no retry fixes (a refused login, a missing privilege),
// so the streamer stops and says so instead of retrying forever.
func fatal(err error) error {
	if errors.Is(err, ErrAccessDenied) {
		return &binlog.ConfigError{Err: err}
	}

	return err
}

func (s *Source) syncerConfig() replication.BinlogSyncerConfig {
	my := s.cfg.MySQL
	pw, _ := password(s.cfg.Name, my, s.getenv)

	cfg := replication.BinlogSyncerConfig{User: my.User, Password: pw, Host: my.Host, Port: uint16(my.Port)}
	if my.Socket != "" {
		cfg.Host, cfg.Port = my.Socket, 0
	}

	if my.TLS {
		tc := &tls.Config{ServerName: my.Host, MinVersion: tls.VersionTLS12}

		if pem, err := os.ReadFile(my.TLSCA); err == nil {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			tc.RootCAs = pool
		}

		cfg.TLSConfig = tc
	}

	return cfg
}

// FullOf reads a full backup's binlog coordinates; ok is false for anything else.
func FullOf(snap *repo.Snapshot) (binlog.Full, bool) {
	if snap.Role != repo.RoleBackup || snap.Type != repo.TypeFull {
		return binlog.Full{}, false
	}

	m, err := LoadMeta(snap)
	if err != nil || m.BinlogFile == "" {
		return binlog.Full{}, false
	}

	at, err := time.Parse(time.RFC3339Nano, m.ConsistentAt)
	if err != nil {
		at = snap.Time
	}

	return binlog.Full{Snap: snap, Coord: binlog.Coord{File: m.BinlogFile, Pos: uint32(m.BinlogPos)}, At: at, GTID: m.GTID}, true
}

func (s *Source) fulls(ctx context.Context, r *repo.Repository) ([]binlog.Full, error) {
	snaps, err := r.Snapshots(ctx, s.cfg.Name)
	if err != nil {
		return nil, err
	}

	var out []binlog.Full

	for _, snap := range snaps {
		if f, ok := FullOf(snap); ok {
			out = append(out, f)
		}
	}

	return out, nil
}

// backupBinlog takes an incremental (binlog since the previous backup) or a
// differential (since the last full) over the replication protocol.
func (s *Source) backupBinlog(ctx context.Context, r *repo.Repository, typ string, base *repo.Snapshot, opt source.BackupOptions) (*repo.Snapshot, error) {
	name := s.cfg.Name
	a := s.Archiver(r, opt.Log, opt.Version)
	a.By = typ

	// A server without a binlog, or a user without replication rights, is
	// the first thing to report.
	if _, err := a.CheckServer(ctx); err != nil {
		return nil, err
	}

	arch, err := binlog.Load(ctx, r, name)
	if err != nil {
		return nil, err
	}

	var from binlog.Coord

	if f, ok := FullOf(base); ok {
		from = f.Coord
		from.Epoch = arch.EpochFor(f.At)
	} else if c, ok := (Binlog{}).End(base); ok && base.Extra[physicalLabel] != "" {
		// A physical incremental: the binlog goes on from its own point.
		m, _ := LoadMeta(base)
		at, _ := time.Parse(time.RFC3339Nano, m.ConsistentAt)
		from = c
		from.Epoch = arch.EpochFor(at)
	} else {
		var br BinlogRange
		if err := json.Unmarshal([]byte(base.Extra[binlogLabel]), &br); err != nil {
			return nil, fmt.Errorf("source %s: snapshot %s records no binlog position to continue from: take a full backup", name, base.ID)
		}

		from = binlog.Coord{Epoch: br.Epoch, File: br.ToFile, Pos: br.ToPos}
	}

	start := from
	end, at, err := a.CatchUp(ctx, from)

	var ge *binlog.GapError
	if errors.As(err, &ge) {
		if opt.Log != nil {
			opt.Log.Error("the binlog since the previous backup is gone from the server: recording the gap and taking a full backup instead", "source", name, "reason", ge.Reason)
		}

		if err := a.RecordGap(ctx, from, ge.Reason); err != nil {
			return nil, err
		}

		return r.Find(ctx, name, "latest")
	}

	if err != nil {
		return nil, err
	}

	arch, err = binlog.Load(ctx, r, name)
	if err != nil {
		return nil, err
	}

	br := BinlogRange{Epoch: start.Epoch, FromFile: start.File, FromPos: start.Pos, ToFile: end.File, ToPos: end.Pos, At: at.UTC()}

	var ids []string

	for _, seg := range arch.Segments {
		if seg.Epoch == start.Epoch && seg.By == typ && !seg.Stored.Before(s.clock(r).Now().Add(-24*time.Hour)) &&
			!(binlog.Coord{File: seg.File, Pos: seg.End}).Before(start) && (binlog.Coord{File: seg.File, Pos: seg.Start}).Before(end) {
			ids = append(ids, seg.ID)
			br.Segments++
			br.Bytes += seg.BinlogBytes
		}
	}

	label, _ := json.Marshal(br)
	doc, _ := json.MarshalIndent(map[string]any{"range": br, "segments": ids}, "", "  ")

	return r.BackupStreams(ctx, repo.StreamSpec{
		Source: name, Kind: config.KindMySQL, Type: typ, Version: opt.Version, Base: base.ID,
		Paths: []string{fmt.Sprintf("binlog:%s:%d-%s:%d", start.File, start.Pos, end.File, end.Pos)},
		Extra: map[string]string{binlogLabel: string(label)},
	}, []repo.Stream{{Path: "binlog.json", Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(doc))), nil
	}}})
}

// PITROptions choose a point-in-time recovery.
type PITROptions = source.PointOptions

// PITRReport says what a point-in-time recovery did.
type PITRReport = source.PointReport

// RestoreToPoint restores the newest full before the target and replays the
// archived binlog up to it, into the original or another database name.
func (s *Source) RestoreToPoint(ctx context.Context, r *repo.Repository, opt PITROptions) (*PITRReport, error) {
	if opt.Tables != nil {
		return nil, fmt.Errorf("--tables cannot be combined with a point in time: restore the whole database to the point, then copy the tables you need")
	}

	if opt.Database != "" {
		if err := checkTarget(opt.Database, "--target-database"); err != nil {
			return nil, err
		}
	}

	arch, err := s.loadArchive(ctx, r)
	if err != nil {
		return nil, err
	}

	plan, choice, err := s.choosePlan(ctx, r, arch, opt)
	if err != nil {
		return nil, err
	}

	if choice != "" && opt.Out != nil {
		sp, measured := s.speeds(ctx, r)
		fmt.Fprintf(opt.Out, "%s\n  (%s)\n", choice, noteSpeeds(sp, measured))
	}

	if _, ok := LoadPhysical(plan.Full.Snap); ok {
		opt.Database = ""
		return s.pointPhysical(ctx, r, arch, plan, opt, &PITRReport{Plan: plan, Choice: choice})
	}

	if opt.Datadir != "" && (!opt.Scratch || opt.Database == "") {
		return s.pointLogicalDatadir(ctx, r, arch, plan, opt, choice)
	}

	opt.Datadir = ""

	if choice == "" {
		s.noteFaster(ctx, r, arch, plan, opt)
	}

	rep, err := s.pointLogical(ctx, r, arch, plan, opt)
	if rep != nil {
		rep.Choice = choice
	}

	return rep, err
}

// pointLogical recovers to plan's target from its logical full, loaded
// into the server, and the binlog replayed by one client session.
func (s *Source) pointLogical(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, opt PITROptions) (*PITRReport, error) {

	meta, err := LoadMeta(plan.Full.Snap)
	if err != nil {
		return nil, err
	}

	dbs, m, err := s.pointMask(ctx, r, meta, opt.DatabaseRestoreOptions)
	if err == nil {
		err = s.checkMaskedReplay(ctx, r, arch, plan, m, dbs)
	}

	if err != nil {
		return nil, err
	}

	rep := &PITRReport{Plan: plan}
	out := opt.Out
	if out == nil {
		out = io.Discard
	}

	if opt.DryRun {
		return s.dryRunToPoint(ctx, r, arch, rep, dbs, opt.Target, out)
	}

	if opt.Database != "" && len(dbs) != 1 {
		return nil, fmt.Errorf("the backup holds %d databases; --target-database renames only a one-database backup", len(dbs))
	}

	login, err := s.checkedLogin(ctx, plan)
	if err != nil {
		return nil, err
	}

	if login != nil {
		defer login.cleanup()
	}

	loadStart := s.clock(r).Now()
	if rep.Restore, err = s.restoreDatabase(ctx, r, plan.Full.Snap, restoreRun{RestoreOptions: opt.DatabaseRestoreOptions, mask: m}); err != nil {
		return rep, err
	}

	s.measured(ctx, r, plan.Full.Snap.Bytes, clock.Since(s.clock(r), loadStart), func(sp *restoreSpeeds, v float64) { sp.LogicalLoad = v })

	rename, logged, err := s.replayRename(ctx, dbs, opt.Database)
	if err != nil {
		return rep, err
	}

	// Nothing archived after the full: the full is the point.
	if len(plan.Steps) == 0 {
		rep.Replay = &binlog.Result{}
		fmt.Fprint(out, describeReplay(rep.Replay, plan))

		return rep, nil
	}

	if s.beforeReplay != nil {
		s.beforeReplay()
	}

	// The replay is the recovery's second phase, counted on its own.
	if ph, ok := opt.Progress.(repo.Phases); ok {
		ph.Phase("replay the binlog")
	}

	replayStart := s.clock(r).Now()
	res, err := s.replay(ctx, r, arch, plan, replayTo{dbs: dbs, rename: rename, login: login, logged: logged, progress: opt.Progress, mask: m, sqlMode: meta.SQLMode, workers: opt.ReplayWorkers})

	rep.Replay, rep.ReplayTime = res, clock.Since(s.clock(r), replayStart)

	if err != nil {
		return rep, err
	}

	s.measured(ctx, r, plan.Bytes(), rep.ReplayTime, func(sp *restoreSpeeds, v float64) { sp.ReplaySerial = v })

	fmt.Fprint(out, describeReplay(res, plan))

	return rep, nil
}

// pointMask checks the restore a recovery starts with and returns the
// databases it replays, and compiles the rules of a masked one: the full's
// rows and the binlog's are masked alike, by rules compiled (and checked)
// before anything is written.
func (s *Source) pointMask(ctx context.Context, r *repo.Repository, meta *Meta, opt RestoreOptions) ([]string, *masking, error) {
	plan, err := planRestore(meta, opt)
	if err != nil {
		return nil, nil, err
	}

	dbs, err := pointDatabases(meta, opt.Database)
	if err != nil || !opt.Masked {
		return dbs, nil, err
	}

	m, err := s.maskedRestore(ctx, r, meta, plan, opt)

	return dbs, m, err
}

// planPoint plans a recovery from the backups a recovery into opt's
// target can start from: physical ones into a data directory, logical ones
// into the server.
func (s *Source) planPoint(ctx context.Context, r *repo.Repository, arch *binlog.Archive, opt PITROptions) (*binlog.Plan, error) {
	fulls, err := s.pointStarts(ctx, r, opt.Datadir != "")
	if err != nil {
		return nil, err
	}

	if len(fulls) == 0 && opt.Datadir == "" {
		if phys, _ := s.pointStarts(ctx, r, true); len(phys) > 0 {
			return nil, fmt.Errorf("source %s has only physical backups to recover from: recover into an empty data directory with --target-datadir DIR", s.cfg.Name)
		}
	}

	plan, err := arch.Plan(fulls, opt.Target, s.clock(r).Now())
	if err != nil && opt.Datadir == "" {
		return s.planExact(ctx, r, opt.Target, err)
	}

	return plan, err
}

// pointDatabases are the databases of the full backup meta describes, which
// a point-in-time recovery replays; a one-database backup restored as
// another database (target) must be one whose binlog can be rewritten.
func pointDatabases(meta *Meta, target string) ([]string, error) {
	dbs := make([]string, len(meta.Databases))
	for i, d := range meta.Databases {
		dbs[i] = d.Name
	}

	if len(dbs) == 1 && target != "" && target != dbs[0] {
		if err := rewritable(dbs[0], target); err != nil {
			return nil, err
		}
	}

	return dbs, nil
}

// dryRunToPoint says what a point-in-time recovery to target would do,
// checking the client login and reading the binlog it would replay, and
// changes nothing.
func (s *Source) dryRunToPoint(ctx context.Context, r *repo.Repository, arch *binlog.Archive, rep *PITRReport, dbs []string, target binlog.Target, out io.Writer) (*PITRReport, error) {
	plan := rep.Plan
	fmt.Fprintf(out, "point-in-time recovery of %s to %s\n%s", s.cfg.Name, target, plan.Summary())

	login, err := s.checkedLogin(ctx, plan)
	if err != nil {
		return nil, err
	}

	if login != nil {
		login.cleanup()
		fmt.Fprintf(out, "the %s client logs in as the replay will\n", filepath.Base(login.client))
	}

	res, err := arch.Replay(ctx, r, plan, dbs, nil, io.Discard)
	if err != nil {
		return nil, err
	}

	rep.Replay = res
	fmt.Fprint(out, describeReplay(res, plan))

	return rep, nil
}

// replayRename is the rename a replay of dbs into database target applies
// (nil when it keeps the names), and whether the replay is written to the
// server's binlog: a renamed replay is, unless the source's user may turn
// the binlog off.
func (s *Source) replayRename(ctx context.Context, dbs []string, target string) (map[string]string, bool, error) {
	if target == "" || target == dbs[0] {
		return nil, true, nil
	}

	pool, err := connect(ctx, s.cfg.Name, s.cfg.MySQL, s.getenv)
	if err != nil {
		return nil, false, err
	}

	logged := !canSkipBinlog(ctx, pool)
	pool.Close()

	return map[string]string{dbs[0]: target}, logged, nil
}

func describeReplay(res *binlog.Result, plan *binlog.Plan) string {
	reached := plan.Full.At
	if !res.Reached.IsZero() {
		reached = res.Reached
	}

	s := fmt.Sprintf("replays %d transactions (%d skipped), %d events; the last transaction replayed committed at %s", res.Transactions, res.Skipped, res.Events, reached.UTC().Format(time.RFC3339Nano))
	if res.LastGTID != "" {
		s += " (GTID " + res.LastGTID + ")"
	}

	if !plan.Target.Time.IsZero() {
		s += "; the data is as of " + plan.Target.Time.UTC().Format(time.RFC3339Nano)
	}

	return s + "\n"
}

// rewritable refuses a recovery under another name that the replay cannot
// rename reliably: mariadb-binlog's --rewrite-db=FROM->TO splits at the first
// "->" and trims spaces, and the replay finds qualified names by their quoted
// form, so such a name would leave events aimed at the original database.
func rewritable(from, to string) error {
	bad := strings.Contains(from, "`")
	for _, n := range []string{from, to} {
		bad = bad || strings.Contains(n, "->") || strings.TrimSpace(n) != n
	}

	if bad {
		return fmt.Errorf("cannot replay the binlog of database %q into %q: the binlog tools cannot rename a database whose name holds \"->\", a backtick or leading or trailing spaces; recover it under its own name on another server (a source for that server), or restore the full backup alone with --snapshot", from, to)
	}

	return nil
}

// checkedLogin prepares the client login the replay of plan will use and
// tries it, so a login the client refuses (a password the option file
// mangles, a host the server does not admit) fails before anything is
// restored. It is nil when there is nothing to replay.
func (s *Source) checkedLogin(ctx context.Context, plan *binlog.Plan) (*clientLogin, error) {
	if len(plan.Steps) == 0 {
		return nil, nil
	}

	login, err := s.clientLogin()
	if err != nil {
		return nil, err
	}

	if err := login.check(ctx); err != nil {
		login.cleanup()
		return nil, err
	}

	return login, nil
}

// replay pipes the filtered binlog through mariadb-binlog into the client,
// all in one client session so temporary tables live across files. The
// original GTIDs are taken out on the way (MariaDB checks them against
// gtid_strict_mode as soon as they are set, logged or not), so a logged
// replay gets new ones. A copy under another name is replayed with the
// session's binlog off, as its full was loaded.
// replayTo is where and how a replay applies the binlog: the databases
// replayed (renamed by rename), the client login, whether the replay is
// logged in the server's binlog, and the progress told the bytes read.
type replayTo struct {
	dbs      []string
	rename   map[string]string
	login    *clientLogin
	logged   bool
	progress repo.Progress
	// mask, for a masked recovery, masks the replayed rows; sqlMode is the
	// full's.
	mask    *masking
	sqlMode string
	// workers is how many connections replay (0: the source's workers).
	workers int
}

func (s *Source) replay(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, to replayTo) (*binlog.Result, error) {
	if to.mask != nil {
		return s.replayMasked(ctx, r, arch, plan, to, to.mask, to.sqlMode)
	}

	if w := s.replayWorkers(to); w > 1 {
		return s.replayParallel(ctx, r, arch, plan, to, w)
	}

	dbs, rename, login, logged := to.dbs, to.rename, to.login, to.logged

	var rewrite []string
	for from, to := range rename {
		rewrite = append(rewrite, "--rewrite-db="+from+"->"+to)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var more []string
	if !logged {
		more = append(more, "--init-command=SET SESSION sql_log_bin = 0")
	}

	binlogTool, client := login.binlogTool, login.client
	decode := login.decoder(ctx, rewrite...)
	apply := login.command(ctx, more...)

	var decodeErr, applyErr strings.Builder
	decode.Stderr, apply.Stderr = &decodeErr, &applyErr

	in, err := decode.StdinPipe()
	if err != nil {
		return nil, err
	}

	sqlOut, err := decode.StdoutPipe()
	if err != nil {
		return nil, err
	}

	applyIn, err := apply.StdinPipe()
	if err != nil {
		return nil, err
	}

	if err := decode.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binlogTool, err)
	}

	if err := apply.Start(); err != nil {
		cancel()
		decode.Wait() //nolint:errcheck

		return nil, fmt.Errorf("start %s: %w", client, err)
	}

	var (
		res     *binlog.Result
		feedErr error
		fed     = make(chan struct{})
	)

	go func() {
		defer close(fed)

		res, feedErr = arch.ReplayCounted(ctx, r, plan, dbs, rename, in, to.progress)
		in.Close()

		if feedErr != nil {
			cancel()
		}
	}()

	// Every read of the decoder's output ends before Wait closes it.
	cleanErr := binlog.CleanSQL(sqlOut, applyIn)
	applyIn.Close()

	if cleanErr != nil {
		cancel()
	}

	<-fed

	decodeWait := decode.Wait()
	applyWait := apply.Wait()

	switch {
	case applyWait != nil:
		return res, fmt.Errorf("source %s: replaying the binlog failed after the full backup was restored (the database holds the full plus part of the binlog; restore again once the cause is fixed): %s", s.cfg.Name, login.clean(applyErr.String(), applyWait))
	case feedErr != nil:
		return res, fmt.Errorf("source %s: read the binlog archive: %w", s.cfg.Name, feedErr)
	case decodeWait != nil:
		return res, fmt.Errorf("source %s: %s failed: %v: %s", s.cfg.Name, filepath.Base(binlogTool), decodeWait, strings.TrimSpace(decodeErr.String()))
	case cleanErr != nil:
		return res, cleanErr
	}

	return res, nil
}

// loadArchive reads the binlog archive with the ends of incrementals and
// differentials as marks of completeness.
func (s *Source) loadArchive(ctx context.Context, r *repo.Repository) (*binlog.Archive, error) {
	arch, err := binlog.Load(ctx, r, s.cfg.Name)
	if err != nil {
		return nil, err
	}

	snaps, err := r.Snapshots(ctx, s.cfg.Name)
	if err != nil {
		return nil, err
	}

	for _, snap := range snaps {
		var br BinlogRange
		if snap.Type == repo.TypeFull || snap.Role != repo.RoleBackup || json.Unmarshal([]byte(snap.Extra[binlogLabel]), &br) != nil {
			continue
		}

		arch.Marks = append(arch.Marks, binlog.Mark{Coord: binlog.Coord{Epoch: br.Epoch, File: br.ToFile, Pos: br.ToPos}, At: br.At})
	}

	return arch, nil
}
