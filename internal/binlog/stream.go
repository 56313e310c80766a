package binlog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"lifeboat/internal/clock"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// Server is how the archiver reaches the database server; the mysql source
// fills it in, so this package holds no connection or password logic.
type Server struct {
	Source string
	// DB opens a checked pool; its errors already say what to do.
	DB func(ctx context.Context) (*sql.DB, error)
	// Syncer is the replica connection's settings (address, user, password, TLS).
	Syncer func() replication.BinlogSyncerConfig
	// Explain turns a server error into a message naming the fix.
	Explain  func(error) error
	ServerID uint32
	// SegmentInterval closes a segment this long after its first event: the
	// archive's recovery point objective, less the segment's write.
	SegmentInterval time.Duration
	SegmentBytes    int64
}

// FullFunc takes a full backup and returns where in the binlog it stands.
type FullFunc func(ctx context.Context, reason string) (*repo.Snapshot, Coord, time.Time, error)

// Archiver moves the binlog into the repository.
type Archiver struct {
	Server
	Repo *repo.Repository
	Log  *slog.Logger
	Full FullFunc
	// Fulls lists the source's full backups with their coordinates, oldest first.
	Fulls func(ctx context.Context) ([]Full, error)
	// By records who archived a segment: stream, incremental or differential.
	By string
	// Clock closes segments, throttles the state record and stamps what
	// the archiver writes; nil is the repository's clock.
	Clock clock.Clock

	covered    time.Time
	lastState  time.Time
	stateEpoch string
	stateAt    Coord
	Stored     func(*Segment) // called after each segment is durable
	// OnCovered is told each time the archive is known complete up to a time.
	OnCovered func(time.Time)
	// OnConnected is told when the stream connects and disconnects.
	OnConnected func(bool)
	// Reopen, when set, gives the repository to write into each time the
	// stream (re)starts: after a rekey switched it, the new one, whose
	// archive end is where the stream resumes.
	Reopen func(ctx context.Context) (*repo.Repository, error)
}

// GapError means the server no longer has what the archive needs next.
type GapError struct {
	At     Coord
	Reason string
}

func (e *GapError) Error() string {
	return fmt.Sprintf("binlog gap at %s: %s", e.At, e.Reason)
}

// ConfigError is a server setting or privilege that retrying will not fix.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func (a *Archiver) clk() clock.Clock {
	if a.Clock == nil && a.Repo != nil {
		return a.Repo.Clock()
	}

	return clock.Or(a.Clock)
}

func (a *Archiver) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}

	return a.Log
}

// serverInfo is what the archiver checks before it reads.
type serverInfo struct {
	Version  string
	MariaDB  bool
	ServerID uint32
	GTIDPos  string
	Format   string
	// Logs are the binlog files the server still has, with their sizes.
	Logs    map[string]uint64
	Current Coord
	// At is when Current was read.
	At time.Time
}

// CheckServer reads the server's binlog settings and files, refusing a
// server without a binlog and warning when rows are not logged as rows.
func (a *Archiver) CheckServer(ctx context.Context) (*serverInfo, error) {
	db, err := a.DB(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	info := &serverInfo{Logs: map[string]uint64{}}

	var logBin int

	if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@binlog_format, @@server_id, VERSION()").Scan(&logBin, &info.Format, &info.ServerID, &info.Version); err != nil {
		return nil, a.Explain(err)
	}

	if logBin == 0 {
		return nil, &ConfigError{fmt.Errorf("source %s: the server's binary log is off, so there is nothing to archive and no point-in-time recovery: add to its my.cnf under [mysqld]\n    log_bin = mysql-bin\n    binlog_format = ROW\n    server_id = 1\nthen restart the server", a.Source)}
	}

	if !strings.EqualFold(info.Format, "ROW") {
		a.log().Warn("binlog_format is not ROW: statements that depend on the server's state may replay differently; set binlog_format = ROW in my.cnf and run SET GLOBAL binlog_format = 'ROW'", "source", a.Source, "binlog_format", info.Format)
	}

	if a.ServerID == info.ServerID {
		return nil, &ConfigError{fmt.Errorf("source %s: binlog.server_id %d is the server's own server_id: choose another, unique in the replication topology", a.Source, a.ServerID)}
	}

	info.MariaDB = strings.Contains(strings.ToLower(info.Version), "mariadb")

	var gtid sql.NullString
	if info.MariaDB {
		err = db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&gtid)
	} else {
		err = db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_executed").Scan(&gtid)
	}

	if err != nil {
		return nil, a.Explain(err)
	}

	info.GTIDPos = gtid.String

	info.At = a.clk().Now()

	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, a.privilege(err)
	}
	defer rows.Close()

	cols, _ := rows.Columns()

	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))

		for i := range vals {
			ptrs[i] = &vals[i]
		}

		if err := rows.Scan(ptrs...); err != nil {
			return nil, a.Explain(err)
		}

		size, _ := strconv.ParseUint(vals[1].String, 10, 64)
		info.Logs[vals[0].String] = size

		c := Coord{File: vals[0].String, Pos: uint32(size)}
		if info.Current.File == "" || info.Current.Before(c) {
			info.Current = c
		}
	}

	return info, rows.Err()
}

func (a *Archiver) privilege(err error) error {
	var me interface{ Error() string }
	if errors.As(err, &me) && (strings.Contains(err.Error(), "1227") || strings.Contains(err.Error(), "denied")) {
		return &ConfigError{fmt.Errorf("source %s: the backup user lacks a replication privilege (%v): GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the backup user (on MariaDB 10.5+ also BINLOG MONITOR)", a.Source, err)}
	}

	return a.Explain(err)
}

// cannotResume says why the server cannot continue the chain at c, or "".
func (info *serverInfo) cannotResume(c Coord, last *Segment) string {
	size, ok := info.Logs[c.File]
	if !ok {
		return fmt.Sprintf("the server no longer has binlog file %s (purged, RESET MASTER, or a new server); it has %s", c.File, info.logRange())
	}

	if uint64(c.Pos) > size {
		return fmt.Sprintf("binlog file %s on the server is %d bytes, shorter than the %d already archived: the binlog was reset or this is another server", c.File, size, c.Pos)
	}

	if last != nil && last.GTIDLast != "" && info.MariaDB {
		g, err := ParseGTID(last.GTIDLast)
		pos, err2 := ParseGTIDList(info.GTIDPos)

		if err == nil && err2 == nil {
			if cur, ok := pos[g.Domain]; !ok || cur.Seq < g.Seq {
				return fmt.Sprintf("the server's GTID position %q is behind the archived %s: the binlog was reset or this is another server", info.GTIDPos, g)
			}
		}
	}

	return ""
}

func (info *serverInfo) logRange() string {
	if len(info.Logs) == 0 {
		return "no binlog files"
	}

	lo, hi := "", ""
	for f := range info.Logs {
		if lo == "" || fileSeq(f) < fileSeq(lo) {
			lo = f
		}

		if hi == "" || fileSeq(f) > fileSeq(hi) {
			hi = f
		}
	}

	return lo + " to " + hi
}

// pending is the segment being filled.
type pending struct {
	file       string
	start, end uint32
	buf        bytes.Buffer
	index      bytes.Buffer
	opened     time.Time
	tFirst     uint32
	tLast      uint32
	aFirst     int64
	aLast      int64
	gFirst     string
	gLast      string
	domains    map[uint32]GTIDRange
	events     int
	next       string
	fde        []byte
}

// fetch reads the binlog from c and archives it in segments until ctx ends,
// until is reached (when set), or the connection fails.
func (a *Archiver) fetch(ctx context.Context, c Coord, until *Coord, mariadb bool) (err error) {
	syncer := replication.NewBinlogSyncer(a.syncerConfig(mariadb))
	defer syncer.Close()

	st, err := syncer.StartSync(gomysql.Position{Name: c.File, Pos: c.Pos})
	if err != nil {
		return a.streamError(c, err)
	}

	if a.OnConnected != nil {
		a.OnConnected(true)
		defer a.OnConnected(false)
	}

	// Segments are stored by their own goroutine, so receiving never waits
	// for the repository and each event's arrival time is when it came.
	f := &fetching{a: a, c: c, seg: &pending{}, w: a.startWriter(ctx, c.Epoch)}

	defer func() {
		if werr := f.w.stop(); werr != nil && err == nil {
			err = werr
		}
	}()

	for {
		if until != nil && !f.c.Before(*until) {
			return f.flush()
		}

		wait := time.Hour
		if f.seg.events > 0 {
			wait = f.seg.opened.Add(a.SegmentInterval).Sub(a.clk().Now())
			if wait <= 0 {
				// Due: close it before reading on, or a busy server whose
				// events are always waiting would keep it open past its time.
				if err := f.flush(); err != nil {
					return err
				}

				continue
			}
		}

		ectx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
		ev, err := st.GetEvent(ectx)
		cancel()

		if err != nil {
			if ctx.Err() != nil {
				// Keep what arrived: every stored event is complete.
				return errors.Join(f.flush(), ctx.Err())
			}

			if errors.Is(err, context.DeadlineExceeded) {
				if err := f.flush(); err != nil {
					return err
				}

				continue
			}

			return errors.Join(f.flush(), a.streamError(f.c, err))
		}

		arrived := a.clk().Now()
		if err := f.event(ev, arrived); err != nil {
			return err
		}
	}
}

// syncerConfig is the replica connection fetch opens: raw events, no retry
// of its own (the caller resumes from the archive), heartbeats every second.
func (a *Archiver) syncerConfig(mariadb bool) replication.BinlogSyncerConfig {
	cfg := a.Syncer()
	cfg.ServerID = a.ServerID
	cfg.RawModeEnabled = true
	cfg.DisableRetrySync = true
	cfg.HeartbeatPeriod = time.Second
	cfg.ReadTimeout = 10 * time.Second
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Flavor = gomysql.MySQLFlavor

	if mariadb {
		cfg.Flavor = gomysql.MariaDBFlavor
		// Without the annotate events the archived offsets would not
		// match the server's positions.
		cfg.DumpCommandFlag = replication.BINLOG_SEND_ANNOTATE_ROWS_EVENT
	}

	return cfg
}

// fetching is one fetch's state between events: where the stream is, the
// segment being filled and the format description that decodes it.
type fetching struct {
	a        *Archiver
	w        *segmentWriter
	c        Coord
	seg      *pending
	fde      []byte
	checksum bool
	caughtAt time.Time
}

// flush hands the pending segment to the writer and starts a new one.
func (f *fetching) flush() error {
	if err := f.w.failed(); err != nil {
		return err
	}

	if f.seg.events == 0 {
		f.seg.next = ""
		return nil
	}

	cov := time.UnixMilli(f.seg.aLast)
	if f.caughtAt.After(cov) {
		cov = f.caughtAt
	}

	f.w.jobs <- writeJob{seg: f.seg, covered: cov, at: Coord{File: f.seg.file, Pos: f.seg.end}}
	f.seg, f.caughtAt = &pending{}, time.Time{}

	return nil
}

// event handles one event the server sent, arrived when it came.
func (f *fetching) event(ev *replication.BinlogEvent, arrived time.Time) error {
	e, err := parseHeader(ev.RawData)
	if err != nil {
		return errors.Join(f.flush(), err)
	}

	switch {
	case e.typ == evHeartbeat || e.typ == evHeartbeatV2:
		// The server has nothing newer: the archive is caught up once
		// what is pending is stored.
		if f.seg.events == 0 {
			f.w.jobs <- writeJob{covered: arrived, at: f.c}
		} else {
			f.caughtAt = arrived
		}

		return nil
	case e.typ == evRotate:
		return f.rotate(e, ev, arrived)
	case e.typ == evFormat:
		f.fde = append([]byte(nil), ev.RawData...)
		f.checksum = fdeChecksum(f.fde)

		if e.logPos == 0 {
			return nil // re-sent on connect, not part of the file here
		}
	case e.artificial():
		return nil
	}

	if err := f.a.add(f.seg, &f.c, e, f.fde, f.checksum, arrived); err != nil {
		return errors.Join(f.flush(), err)
	}

	if e.typ == evStop {
		f.seg.next = successor(f.c.File)
		if err := f.flush(); err != nil {
			return err
		}

		f.c.File, f.c.Pos = successor(f.c.File), 4

		return nil
	}

	if int64(f.seg.buf.Len()) >= f.a.SegmentBytes {
		return f.flush()
	}

	return nil
}

// rotate follows a rotate event: a real one ends the file's last segment,
// an artificial one (sent on connect or after a server restart) only moves
// the stream on to the file it names.
func (f *fetching) rotate(e event, ev *replication.BinlogEvent, arrived time.Time) error {
	re, _ := ev.Event.(*replication.RotateEvent)
	if re == nil {
		return nil
	}

	name, pos := string(re.NextLogName), uint32(re.Position)

	if e.artificial() || e.logPos == 0 {
		if name == f.c.File {
			return nil
		}

		// The server moved on to the next file (after a restart
		// or crash that left no rotate event in the old one).
		if name != successor(f.c.File) {
			return errors.Join(f.flush(), &GapError{At: f.c, Reason: fmt.Sprintf("the server jumped from %s to %s", f.c.File, name)})
		}

		f.seg.next = name
		if err := f.flush(); err != nil {
			return err
		}

		// Say where the file ended, in case its last segment
		// was stored before the server moved on.
		f.w.jobs <- writeJob{seg: &pending{file: f.c.File, start: f.c.Pos, end: f.c.Pos, next: name}}
		f.c.File, f.c.Pos = name, pos

		return nil
	}

	if err := f.a.add(f.seg, &f.c, e, f.fde, f.checksum, arrived); err != nil {
		return errors.Join(f.flush(), err)
	}

	f.seg.next = name
	if err := f.flush(); err != nil {
		return err
	}

	f.c.File, f.c.Pos = name, pos

	return nil
}

type writeJob struct {
	seg     *pending
	covered time.Time
	at      Coord
}

type segmentWriter struct {
	jobs chan writeJob
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func (w *segmentWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()

	return w.err
}

// stop waits until every queued segment is stored.
func (w *segmentWriter) stop() error {
	close(w.jobs)
	<-w.done

	return w.failed()
}

func (a *Archiver) startWriter(ctx context.Context, epoch string) *segmentWriter {
	// A short queue: memory stays within a few segments when the
	// repository is slower than the server.
	w := &segmentWriter{jobs: make(chan writeJob, 4), done: make(chan struct{})}
	// What was received is stored even when the stream is being stopped.
	wctx := context.WithoutCancel(ctx)

	go func() {
		defer close(w.done)

		for j := range w.jobs {
			if w.failed() != nil {
				continue // never store past a failed segment: that would leave a hole
			}

			if j.seg != nil {
				s, err := a.store(wctx, epoch, j.seg)
				if err != nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()

					continue
				}

				if a.Stored != nil && s.Events > 0 {
					a.Stored(s)
				}
			}

			if !j.covered.IsZero() {
				a.advance(wctx, epoch, j.covered, j.at)
			}
		}
	}()

	return w
}

func (a *Archiver) add(seg *pending, c *Coord, e event, fde []byte, checksum bool, arrived time.Time) error {
	end := e.logPos
	if end == 0 {
		end = c.Pos + e.size
	}

	if end-e.size != c.Pos {
		return &GapError{At: *c, Reason: fmt.Sprintf("the server sent an event at %s:%d where %d was expected", c.File, end-e.size, c.Pos)}
	}

	if seg.events == 0 {
		seg.file, seg.start, seg.opened, seg.fde = c.File, c.Pos, a.clk().Now(), fde
		seg.tFirst, seg.aFirst = e.when, arrived.UnixMilli()
	}

	seg.buf.Write(e.raw)
	seg.events++
	seg.end = end
	seg.tLast, seg.aLast = e.when, arrived.UnixMilli()

	switch e.typ {
	case evMariaGTID:
		g, _ := mariaGTID(e, checksum)
		if seg.gFirst == "" {
			seg.gFirst = g.String()
		}

		seg.gLast = g.String()
		seg.domains = addGTID(seg.domains, g)
		fmt.Fprintf(&seg.index, "%d %d\n", c.Pos, arrived.UnixMilli())
	case evMySQLGTID, evMySQLAnon:
		fmt.Fprintf(&seg.index, "%d %d\n", c.Pos, arrived.UnixMilli())
	}

	c.Pos = end

	return nil
}

// store saves a pending segment: its binlog bytes, then its arrival index.
func (a *Archiver) store(ctx context.Context, epoch string, p *pending) (*Segment, error) {
	labels := map[string]string{
		"kind":         "segment",
		"epoch":        epoch,
		"file":         p.file,
		"start":        strconv.FormatUint(uint64(p.start), 10),
		"end":          strconv.FormatUint(uint64(p.end), 10),
		"next":         p.next,
		"t_first":      strconv.FormatUint(uint64(p.tFirst), 10),
		"t_last":       strconv.FormatUint(uint64(p.tLast), 10),
		"gtid_first":   p.gFirst,
		"gtid_last":    p.gLast,
		domainsLabel:   formatDomains(p.domains),
		"fde":          hex.EncodeToString(p.fde),
		"binlog_bytes": strconv.Itoa(p.buf.Len()),
		"events":       strconv.Itoa(p.events),
		"by":           a.By,
	}

	if a.By == "stream" && p.events > 0 {
		labels["a_first"] = strconv.FormatInt(p.aFirst, 10)
		labels["a_last"] = strconv.FormatInt(p.aLast, 10)
	}

	n := int64(p.buf.Len())
	data := append(p.buf.Bytes(), p.index.Bytes()...)

	rs, err := a.Repo.PutSegment(ctx, a.Source, labels, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("archive binlog %s:%d-%d: %w", p.file, p.start, p.end, err)
	}

	s := &Segment{Segment: rs, Epoch: epoch, File: p.file, Start: p.start, End: p.end, Next: p.next, FDE: p.fde, BinlogBytes: n, Events: p.events, GTIDFirst: p.gFirst, GTIDLast: p.gLast, Domains: p.domains, By: a.By}
	s.First = labelTime(labels["a_first"], labels["t_first"])
	s.Last = labelTime(labels["a_last"], labels["t_last"])

	return s, nil
}

// advance records that the archive holds everything the server wrote up to t.
// The record is written at most once a second.
func (a *Archiver) advance(ctx context.Context, epoch string, t time.Time, c Coord) {
	if a.By != "stream" || !t.After(a.covered) {
		return
	}

	a.covered = t

	if a.OnCovered != nil {
		a.OnCovered(t)
	}

	// Once a second while data flows; when the server is idle, every ten
	// seconds is enough and spares the repository a record per heartbeat.
	every := time.Second
	if c == a.stateAt {
		every = 10 * time.Second
	}

	if clock.Since(a.clk(), a.lastState) < every && a.stateEpoch == epoch {
		return
	}

	a.lastState, a.stateEpoch, a.stateAt = a.clk().Now(), epoch, c

	err := records.PutState(ctx, a.Repo, a.Source, stateKind, records.BinlogState{
		Covered: t, Epoch: epoch, File: c.File, Pos: c.Pos, Updated: a.lastState,
	})
	if err != nil && ctx.Err() == nil {
		a.log().Warn("record binlog progress", "source", a.Source, "err", err)
	}
}

// streamError sorts a replication error: gone binlogs are a gap, missing
// privileges a configuration error, the rest worth retrying.
func (a *Archiver) streamError(c Coord, err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		case 1236:
			return &GapError{At: c, Reason: "the server cannot send it: " + me.Message}
		case 1227, 1045, 1044:
			return &ConfigError{fmt.Errorf("source %s: the server refused replication (%s): GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the backup user (on MariaDB 10.5+ also BINLOG MONITOR)", a.Source, me.Message)}
		}
	}

	return fmt.Errorf("source %s: binlog stream at %s: %w", a.Source, c, err)
}
