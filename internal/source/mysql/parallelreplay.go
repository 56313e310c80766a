package mysql

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	driver "github.com/go-sql-driver/mysql"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
)

// A logical point-in-time recovery replays into the user's server, which
// may be remote, so the archive cannot be served to it as relay logs (as a
// physical recovery's private server gets it). The parallel replay applies
// the filtered binlog over several connections instead, the way a replica's
// WRITESET dependency tracking does: a transaction made of row events
// starts once no earlier uncommitted one shares a key with it (primary and
// unique key values, the parent row a foreign key points at, or the whole
// table when it has no primary key), runs as BINLOG statements of its raw
// events (what mariadb-binlog writes, so the server applies the same
// bytes), and commits only after every earlier transaction committed. A
// stop at any point therefore leaves the full plus a prefix of the binlog,
// and the target's own binlog gets the transactions in their order.
// Statements (DDL, statement-logged changes) are barriers: every earlier
// transaction commits, then mariadb-binlog and the client replay them.

// replayLockWait is the lock wait timeout of a replay connection, in
// seconds. A transaction waiting for its turn to commit keeps its locks;
// should an earlier one need them (a conflict the keys missed, such as a
// gap lock), the earlier one times out after this, the later ones roll
// back, and it runs again alone.
const replayLockWait = 2

// replayRetries is how often the oldest uncommitted transaction is run
// again after a deadlock or lock wait timeout before the replay stops.
const replayRetries = 5

// parallelReplay is the state of one parallel replay.
type parallelReplay struct {
	s       *Source
	to      replayTo
	pool    *sql.DB
	workers int

	mu sync.Mutex
	// abort is closed to make the transactions waiting to commit roll
	// back, when the oldest uncommitted one needs their locks; retrying
	// is that transaction, which later ones wait for before starting.
	abort    chan struct{}
	retrying *ptxn
	failed   error
	lastDone *ptxn
	cancel   context.CancelFunc
}

// replayParallel replays plan's binlog over workers connections.
func (s *Source) replayParallel(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, to replayTo, workers int) (*binlog.Result, error) {
	outer := ctx

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pool, err := connect(ctx, s.cfg.Name, s.cfg.MySQL, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	pool.SetMaxOpenConns(workers + 1)

	pr, pw := io.Pipe()

	var (
		res     *binlog.Result
		feedErr error
		fed     = make(chan struct{})
	)

	go func() {
		defer close(fed)

		res, feedErr = arch.ReplayCounted(ctx, r, plan, to.dbs, to.rename, pw, to.progress)
		pw.CloseWithError(feedErr)
	}()

	txns := make(chan *ptxn, 8*workers)

	var splitErr error

	split := make(chan struct{})

	go func() {
		defer close(split)

		splitErr = splitTxns(ctx, pr, txns, to.rename)
		pr.CloseWithError(errors.New("the parallel replay stopped"))
	}()

	p := &parallelReplay{s: s, to: to, pool: pool, workers: workers, abort: make(chan struct{}), cancel: cancel}
	applyErr := p.run(ctx, txns)

	cancel()
	<-fed

	for range txns { //nolint:revive // drain so the splitter ends
	}

	<-split // splitErr is set after txns closes

	switch {
	case outer.Err() != nil:
		return res, fmt.Errorf("source %s: the binlog replay was stopped after the full backup was restored (the database holds the full plus the transactions committed so far, in their order): %w", s.cfg.Name, outer.Err())
	case applyErr != nil && !errors.Is(applyErr, context.Canceled):
		return res, applyErr
	case feedErr != nil:
		return res, fmt.Errorf("source %s: read the binlog archive: %w", s.cfg.Name, feedErr)
	case splitErr != nil:
		return res, fmt.Errorf("source %s: the parallel replay stopped after the full backup was restored (the database holds the full plus part of the binlog): %w", s.cfg.Name, splitErr)
	}

	return res, nil
}

// run schedules the transactions onto the workers, in order.
func (p *parallelReplay) run(ctx context.Context, txns <-chan *ptxn) error {
	schemaConn, err := p.pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer schemaConn.Close()

	ws, err := loadWriteSchema(ctx, schemaConn, p.targets())
	if err != nil {
		return err
	}

	jobs := make(chan *ptxn)

	var wg sync.WaitGroup

	for range p.workers {
		wg.Add(1)

		go func() {
			defer wg.Done()
			p.work(ctx, jobs)
		}()
	}

	defer func() {
		close(jobs)
		wg.Wait()
	}()

	tr := newTracker()
	b := &batcher{}

	var prev *ptxn

	var pending *ptxn

	for {
		t := pending
		pending = nil

		if t == nil {
			var ok bool
			if t, ok = <-txns; !ok {
				break
			}

			t.prev = prev
		}

		prev = t

		if t.barrier {
			if err := b.flush(ctx, p, jobs); err != nil {
				return err
			}

			if pending, err = p.barrier(ctx, t, txns); err != nil {
				return err
			}

			if ws, err = loadWriteSchema(ctx, schemaConn, p.targets()); err != nil {
				return err
			}

			tr = newTracker()
			prev = p.last()

			continue
		}

		tr.depend(t, ws.writeSetOf(t.changes))
		t.changes = nil

		if b.full(t) {
			if err := b.flush(ctx, p, jobs); err != nil {
				return err
			}
		}

		b.add(t)

		if len(txns) == 0 {
			// Nothing more to gather now: let the workers have it.
			if err := b.flush(ctx, p, jobs); err != nil {
				return err
			}
		}
	}

	if err := b.flush(ctx, p, jobs); err != nil {
		return err
	}

	return p.finish(ctx)
}

// finish waits for the last transaction to commit.
func (p *parallelReplay) finish(ctx context.Context) error {
	if last := p.last(); last != nil {
		select {
		case <-last.done:
		case <-ctx.Done():
		}
	}

	return p.stopped(ctx)
}

func (p *parallelReplay) last() *ptxn {
	p.mu.Lock()
	defer p.mu.Unlock()

	return p.lastDone
}

func (p *parallelReplay) setLast(t *ptxn) {
	p.mu.Lock()
	p.lastDone = t
	p.mu.Unlock()
}

// stopped is the replay's error: the first transaction that failed, or the
// context's end.
func (p *parallelReplay) stopped(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.failed != nil {
		return p.failed
	}

	return ctx.Err()
}

// fail records the replay's first error and stops every worker: the
// transactions after the failed one never commit.
func (p *parallelReplay) fail(t *ptxn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.failed == nil {
		held := "the full backup alone"
		if t.prev != nil {
			held = "the full backup plus every transaction before it"
			if t.prev.gtid != "" {
				held += " (the last one applied had GTID " + t.prev.gtid + ")"
			}
		}

		p.failed = fmt.Errorf("source %s: replaying the binlog failed at %s: %s; the database holds %s: restore again once the cause is fixed",
			p.s.cfg.Name, t.describe(), cleanDriverError(err), held)
	}

	p.cancel()
}

func cleanDriverError(err error) string {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		return fmt.Sprintf("ERROR %d: %s", me.Number, me.Message)
	}

	return err.Error()
}

// work applies the transactions it is given on one connection.
func (p *parallelReplay) work(ctx context.Context, jobs <-chan *ptxn) {
	w := &replayConn{p: p}
	defer w.close()

	for t := range jobs {
		if ctx.Err() != nil {
			continue
		}

		if err := w.apply(ctx, t); err != nil && ctx.Err() == nil {
			var te *txnError
			if errors.As(err, &te) {
				p.fail(te.t, te.err)
			} else {
				p.fail(t, err)
			}
		}
	}
}

// replayConn is one worker's connection and the format description its
// session last read.
type replayConn struct {
	p    *parallelReplay
	conn *sql.Conn
	fde  []byte
}

func (w *replayConn) close() {
	if w.conn != nil {
		w.conn.Close()
	}
}

// open connects with the session settings mariadb-binlog's output sets.
func (w *replayConn) open(ctx context.Context) error {
	if w.conn != nil {
		return nil
	}

	c, err := w.p.pool.Conn(ctx)
	if err != nil {
		return err
	}

	set := []string{
		"SET SESSION pseudo_slave_mode = 1",
		"SET SESSION completion_type = 0",
		fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", replayLockWait),
	}
	if !w.p.to.logged {
		set = append(set, "SET SESSION sql_log_bin = 0")
	}

	for _, q := range set {
		if _, err := c.ExecContext(ctx, q); err != nil {
			c.Close()
			return fmt.Errorf("%s: %w", q, err)
		}
	}

	w.conn = c

	return nil
}

// apply runs t until it commits: speculatively while earlier ones run,
// again once they committed if that failed, and again after a deadlock or
// lock wait timeout once the later ones rolled back.
func (w *replayConn) apply(ctx context.Context, t *ptxn) error {
	if err := waitFor(ctx, t.dep); err != nil {
		return err
	}

	tries := 0

	for {
		if err := w.p.waitRetrying(ctx, t); err != nil {
			return err
		}

		head := t.prev == nil || t.prev.committed()
		abort := w.p.abortChan()

		err := w.attempt(ctx, t, abort)
		if err == nil {
			w.committed(t)
			return nil
		}

		if ctx.Err() != nil {
			return ctx.Err()
		}

		if !head {
			// It ran beside earlier transactions: whatever failed, run it
			// again once they committed.
			if err := waitFor(ctx, t.prev); err != nil {
				return err
			}

			continue
		}

		if (!retryable(err) || tries >= replayRetries) && len(t.members) > 1 {
			// Find the transaction that fails: one at a time, each
			// committed, so the error names it and all before it hold.
			return w.oneByOne(ctx, t)
		}

		if !retryable(err) || tries >= replayRetries {
			return err
		}

		tries++
		w.p.abortLater(t)
	}
}

// committed marks t (a batch and its transactions) committed.
func (w *replayConn) committed(t *ptxn) {
	if hook := w.p.s.replayCommitted; hook != nil {
		hook(t.gtid)
	}

	w.p.doneRetrying(t)

	for _, m := range t.members {
		if !m.committed() {
			close(m.done)
		}

		m.release()
	}

	close(t.done)
	t.release()
}

// txnError is the error of one transaction of a batch.
type txnError struct {
	t   *ptxn
	err error
}

func (e *txnError) Error() string { return e.err.Error() }
func (e *txnError) Unwrap() error { return e.err }

// oneByOne runs a failed batch's transactions one at a time, once every
// earlier batch committed.
func (w *replayConn) oneByOne(ctx context.Context, b *ptxn) error {
	for _, m := range b.members {
		if err := w.attempt(ctx, m, w.p.abortChan()); err != nil {
			return &txnError{t: m, err: err}
		}

		close(m.done)
	}

	w.committed(b)

	return nil
}

// attempt runs t once; it rolls back when anything fails or the later
// transactions are told to make way.
func (w *replayConn) attempt(ctx context.Context, t *ptxn, abort <-chan struct{}) error {
	if err := w.open(ctx); err != nil {
		return err
	}

	err := w.statements(ctx, t)
	if err == nil {
		select {
		case <-t.prevDone():
		default:
			select {
			case <-t.prevDone():
			case <-abort:
				err = errMakeWay
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
	}

	if err == nil {
		if _, err = w.conn.ExecContext(ctx, "COMMIT"); err == nil {
			return nil
		}
	}

	if _, rerr := w.conn.ExecContext(ctx, "ROLLBACK"); rerr != nil {
		// The session is gone or unusable: start a fresh one.
		w.conn.Close()
		w.conn, w.fde = nil, nil
	}

	return err
}

var errMakeWay = errors.New("rolled back to let an earlier transaction run")

// closedChan is what a transaction with nothing before it waits for.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (t *ptxn) prevDone() <-chan struct{} {
	if t.prev == nil {
		return closedChan
	}

	return t.prev.done
}

// statements sends t's BEGIN and BINLOG statements.
func (w *replayConn) statements(ctx context.Context, t *ptxn) error {
	if string(w.fde) != string(t.fde) {
		if _, err := w.conn.ExecContext(ctx, binlogStatement(t.fde)); err != nil {
			return fmt.Errorf("format description: %w", err)
		}

		w.fde = t.fde
	}

	if _, err := w.conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}

	for _, g := range t.groups {
		if _, err := w.conn.ExecContext(ctx, binlogStatement(g)); err != nil {
			return err
		}
	}

	return nil
}

func binlogStatement(raw []byte) string {
	var b strings.Builder

	b.Grow(base64.StdEncoding.EncodedLen(len(raw)) + 10)
	b.WriteString("BINLOG '")
	b.WriteString(base64.StdEncoding.EncodeToString(raw))
	b.WriteByte('\'')

	return b.String()
}

// retryable errors are those a run alone may not meet: a deadlock or a
// lock wait timeout.
func retryable(err error) bool {
	if errors.Is(err, errMakeWay) {
		return true
	}

	var me *driver.MySQLError

	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

func waitFor(ctx context.Context, t *ptxn) error {
	if t == nil {
		return nil
	}

	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *parallelReplay) abortChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()

	return p.abort
}

// abortLater makes the transactions after t waiting to commit roll back,
// and holds back new ones until t committed.
func (p *parallelReplay) abortLater(t *ptxn) {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.retrying = t
	close(p.abort)
	p.abort = make(chan struct{})
}

func (p *parallelReplay) doneRetrying(t *ptxn) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.retrying == t {
		p.retrying = nil
	}
}

// waitRetrying holds t back while an earlier transaction runs again alone.
func (p *parallelReplay) waitRetrying(ctx context.Context, t *ptxn) error {
	p.mu.Lock()
	r := p.retrying
	p.mu.Unlock()

	if r == nil || r.seq >= t.seq {
		return nil
	}

	return waitFor(ctx, r)
}

// barrier replays t, and the barriers right after it, through
// mariadb-binlog and the client once every earlier transaction committed,
// and returns the transaction after them (nil at the end). A statement
// about a temporary table makes the rest of the replay serial, in that one
// client session, so the table lives on.
func (p *parallelReplay) barrier(ctx context.Context, t *ptxn, txns <-chan *ptxn) (*ptxn, error) {
	if err := waitFor(ctx, p.last()); err != nil {
		return nil, p.stopped(ctx)
	}

	var next *ptxn

	last, rest := t, t.temporary

	feed := func(w io.Writer) error {
		fde, err := writeTxn(w, nil, t)

		for err == nil {
			n, ok := <-txns
			if !ok {
				break
			}

			n.prev = last
			if !rest && !n.barrier {
				next = n
				break
			}

			rest = rest || n.temporary
			last = n
			fde, err = writeTxn(w, fde, n)
		}

		return err
	}

	if err := p.s.replayPiece(ctx, p.to, feed); err != nil {
		p.fail(t, err)
		return nil, p.stopped(ctx)
	}

	for x := last; x != nil && !x.committed(); {
		close(x.done)

		prev := x.prev
		x.release()
		x = prev
	}

	p.setLast(last)

	return next, nil
}

// replayWorkers is how many connections replay: the recovery's choice, else
// the source's workers.
func (s *Source) replayWorkers(to replayTo) int {
	if to.workers > 0 {
		return to.workers
	}

	return s.cfg.MySQL.Workers
}

// targets are the databases replayed into: the renamed ones' new names.
func (p *parallelReplay) targets() []string {
	out := make([]string, len(p.to.dbs))
	for i, d := range p.to.dbs {
		out[i] = d
		if to, ok := p.to.rename[d]; ok {
			out[i] = to
		}
	}

	return out
}

// A batch is consecutive transactions applied and committed as one: a
// commit waits for the disk, and commits in order cannot share one flush
// unless they are one. A batch commits whole or not at all, so a stop
// still leaves a prefix.
const (
	batchTxns  = 32
	batchBytes = 4 << 20
)

// batcher gathers the transactions of the next batch.
type batcher struct {
	cur   *ptxn
	bytes int
}

// full reports whether t must start a new batch.
func (b *batcher) full(t *ptxn) bool {
	return b.cur != nil && (len(b.cur.members) >= batchTxns || b.bytes >= batchBytes || string(b.cur.fde) != string(t.fde))
}

func (b *batcher) add(t *ptxn) {
	if b.cur == nil {
		b.cur, b.bytes = &ptxn{fde: t.fde, done: make(chan struct{})}, 0
	}

	c := b.cur
	c.members = append(c.members, t)
	c.groups = append(c.groups, t.groups...)
	c.seq, c.gtid, c.when = t.seq, t.gtid, t.when

	for _, g := range t.groups {
		b.bytes += len(g)
	}

	// A transaction waiting for one in its own batch waits for nothing:
	// the batch applies them in order.
	if t.dep != nil && (len(c.members) == 1 || t.dep.seq < c.members[0].seq) {
		c.dep = later(c, c.dep, t.dep)
	}
}

// flush hands the batch to the workers.
func (b *batcher) flush(ctx context.Context, p *parallelReplay, jobs chan<- *ptxn) error {
	c := b.cur
	if c == nil {
		return nil
	}

	b.cur = nil
	c.prev = p.last()

	select {
	case jobs <- c:
		p.setLast(c)
		return nil
	case <-ctx.Done():
		return p.stopped(ctx)
	}
}
