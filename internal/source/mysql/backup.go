package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Source is a configured `type: mysql` source.
type Source struct {
	cfg    *config.Source
	getenv func(string) string

	// Clock is the time a recovery's "now", the archiver's segments and the
	// durations reported read; nil is the repository's clock.
	Clock clock.Clock

	// beforeReplay runs in a point-in-time recovery once the full is
	// restored, before the binlog is replayed (tests compact the archive
	// there).
	beforeReplay func()
	// replayCommitted runs in a parallel replay after each transaction
	// committed, before the next may commit (tests stop the replay there).
	replayCommitted func(gtid string)

	// copies are drills' copies served by private servers.
	copies servedCopies
}

// New returns the mysql source for cfg; getenv reads password_env.
func New(cfg *config.Source, getenv func(string) string) *Source {
	if getenv == nil {
		getenv = os.Getenv
	}

	return &Source{cfg: cfg, getenv: getenv}
}

// clock is s.Clock, else r's.
func (s *Source) clock(r *repo.Repository) clock.Clock {
	if s.Clock == nil && r != nil {
		return r.Clock()
	}

	return clock.Or(s.Clock)
}

// Name is the source's configured name.
func (s *Source) Name() string { return s.cfg.Name }

// Kind is "mysql".
func (s *Source) Kind() string { return config.KindMySQL }

// Contains is false: a database restore target is a database, not a path.
func (s *Source) Contains(string) bool { return false }

const metaLabel = "mysql"

// Backup takes a consistent logical backup of the source's databases (a
// full), or archives the binlog since the previous backup (an incremental)
// or since the last full (a differential). With mode: physical it takes
// mariadb-backup's hot copy instead, its incrementals the pages changed
// since the previous one.
func (s *Source) Backup(ctx context.Context, r *repo.Repository, opt source.BackupOptions) (*repo.Snapshot, error) {
	typ, base, err := source.ResolveBase(ctx, r, s.cfg.Name, opt.Type, opt.Log)
	if err != nil {
		return nil, err
	}

	if s.physicalFor(opt) {
		if typ != repo.TypeFull {
			if base, err = s.physicalBase(ctx, r, typ); err != nil {
				return nil, err
			}
		}

		return s.backupPhysical(ctx, r, typ, base, opt)
	}

	// An imported dump has no binlog position to continue from.
	if typ != repo.TypeFull && base.Extra[importedLabel] != "" {
		if opt.Log != nil {
			opt.Log.Warn("the previous full is an imported dump, with no binlog position to continue from: taking a full backup instead", "source", s.cfg.Name, "requested", typ)
		}

		typ = repo.TypeFull
	}

	if typ != repo.TypeFull {
		return s.backupBinlog(ctx, r, typ, base, opt)
	}

	return s.backup(ctx, r, nil, repo.RoleBackup, opt, nil)
}

// backup dumps dbs (nil: the configured ones) as one snapshot with role;
// imp, for an import, records its scratch database as what the file held.
func (s *Source) backup(ctx context.Context, r *repo.Repository, dbs []string, role string, opt source.BackupOptions, imp *imported) (*repo.Snapshot, error) {
	name, my := s.cfg.Name, s.cfg.MySQL

	pool, err := connect(ctx, name, my, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	if dbs == nil {
		if dbs, err = userDatabases(ctx, pool, my.Databases); err != nil {
			return nil, explain(name, my, err)
		}
	}

	// The dump's own context: when the upload fails, cancelling it stops
	// every table read at once instead of draining the rest of the rows.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()

	d, err := startDump(dctx, pool, name, my, dbs, opt.Log, s.clock(r))
	if err != nil {
		return nil, err
	}

	d.cancel = cancel
	defer d.close()

	if imp != nil {
		imp.record(d.meta)
	}

	for _, db := range d.meta.Databases {
		nameFiles(db)
	}

	streams := []repo.Stream{}

	for _, db := range d.meta.Databases {
		// Non-transactional tables first: writes stay blocked until they are dumped.
		tables := append([]*Table(nil), db.Tables...)
		sort.SliceStable(tables, func(i, j int) bool { return !tables[i].transactional() && tables[j].transactional() })

		for _, t := range tables {
			for i, f := range t.Files(db) {
				chunk := i
				if len(t.Bounds) < 2 {
					chunk = wholeTable
				}

				streams = append(streams, repo.Stream{Path: f, Open: d.opener(db.liveName(), t, chunk)})
			}
		}
	}

	paths := make([]string, len(d.meta.Databases))
	for i, db := range d.meta.Databases {
		paths[i] = "mysql:" + db.Name
	}

	snap, err := r.BackupStreams(ctx, repo.StreamSpec{
		Source: name, Kind: config.KindMySQL, Type: repo.TypeFull, Role: role, Version: opt.Version,
		Paths: paths, Parallel: my.Workers, Progress: opt.Progress, Extra: opt.Extra, At: opt.At,
		Finish: func(context.Context) (map[string]string, error) {
			if err := d.finish(); err != nil {
				return nil, err
			}

			b, err := json.Marshal(d.meta)
			if err != nil {
				return nil, err
			}

			return map[string]string{metaLabel: string(b)}, nil
		},
	}, streams)
	if err != nil {
		var se *repo.StreamError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("source %s: the dump failed, %w: check the server is up and the tables exist, then back up again", name, se)
		}

		return nil, err
	}

	return snap, nil
}

// tableAcc adds up a chunked table's rows and checksum as its chunks finish.
type tableAcc struct {
	rows   int64
	sum    rowSum
	chunks int
}

// dump is one consistent dump in progress: workers in a consistent-snapshot
// transaction each, taken while writes were blocked.
type dump struct {
	name    string
	my      config.MySQL
	log     *slog.Logger
	meta    *Meta
	workers chan *sql.Conn
	all     []*sql.Conn
	// lock holds the global read lock while non-transactional tables remain.
	lock      *sql.Conn
	lockStart time.Time
	clock     clock.Clock
	pending   sync.WaitGroup
	running   sync.WaitGroup
	pipes     []*io.PipeReader
	ctx       context.Context
	cancel    context.CancelFunc
	mu        sync.Mutex
	done      map[*Table]bool
	partial   map[*Table]*tableAcc
	errs      []error
}

func startDump(ctx context.Context, pool *sql.DB, name string, my config.MySQL, dbs []string, log *slog.Logger, clk clock.Clock) (*dump, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	d := &dump{name: name, my: my, log: log, clock: clk, meta: &Meta{}, workers: make(chan *sql.Conn, my.Workers), done: map[*Table]bool{}, partial: map[*Table]*tableAcc{}, ctx: ctx}

	lock, err := pool.Conn(ctx)
	if err != nil {
		return nil, explain(name, my, err)
	}

	d.lock = lock

	fail := func(err error) (*dump, error) {
		d.close()
		return nil, explain(name, my, err)
	}

	// Open the workers first, so the lock is held only for the moment the
	// snapshots start.
	for i := 0; i < my.Workers; i++ {
		c, err := pool.Conn(ctx)
		if err != nil {
			return fail(err)
		}

		d.all = append(d.all, c)
	}

	if _, err := lock.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return fail(err)
	}

	d.lockStart = d.clock.Now()

	for _, c := range d.all {
		for _, stmt := range []string{
			"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
			"START TRANSACTION WITH CONSISTENT SNAPSHOT",
		} {
			if _, err := c.ExecContext(ctx, stmt); err != nil {
				return fail(err)
			}
		}

		d.workers <- c
	}

	m := d.meta
	if err := lock.QueryRowContext(ctx, "SELECT VERSION(), @@SESSION.sql_mode, DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')").
		Scan(&m.ServerVersion, &m.SQLMode, &m.ConsistentAt); err != nil {
		return fail(err)
	}

	if err := readBinlogPosition(ctx, lock, m); err != nil {
		return fail(err)
	}

	nonTx := 0

	for _, db := range dbs {
		schema, err := readSchema(ctx, lock, db)
		if err != nil {
			return fail(err)
		}

		for _, t := range schema.Tables {
			if !t.transactional() {
				nonTx++
			}
		}

		m.Databases = append(m.Databases, schema)
	}

	if my.Accounts {
		if m.Accounts, err = readAccounts(ctx, lock); err != nil {
			return fail(err)
		}
	}

	if nonTx == 0 {
		d.unlock(ctx)
	} else {
		// Tables without transactions (MyISAM, Aria, ...) are consistent
		// only under the lock: keep it until each of them is dumped.
		log.Warn("non-transactional tables: writes stay blocked until they are dumped", "source", name, "tables", nonTx)
		d.pending.Add(nonTx)

		go func() {
			d.pending.Wait()
			d.unlock(context.Background())
		}()
	}

	return d, nil
}

func readBinlogPosition(ctx context.Context, c *sql.Conn, m *Meta) error {
	rows, err := c.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		// MySQL 8.4 renamed it.
		if rows, err = c.QueryContext(ctx, "SHOW BINARY LOG STATUS"); err != nil {
			return err
		}
	}

	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))

	for i := range vals {
		ptrs[i] = &vals[i]
	}

	if rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return err
		}

		m.BinlogFile = vals[0].String
		if _, err := fmt.Sscan(vals[1].String, &m.BinlogPos); err != nil {
			rows.Close()
			return fmt.Errorf("read binlog position %q: %w", vals[1].String, err)
		}
	}

	rows.Close()

	var gtid sql.NullString
	if strings.Contains(strings.ToLower(m.ServerVersion), "mariadb") {
		err = c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&gtid)
	} else {
		err = c.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_executed").Scan(&gtid)
	}

	m.GTID = gtid.String

	return err
}

func (d *dump) unlock(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()

	if d.lock == nil {
		return
	}

	if _, err := d.lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		d.log.Warn("unlock tables", "source", d.name, "err", err)
	}

	d.meta.LockedMillis = clock.Since(d.clock, d.lockStart).Milliseconds()
	d.lock.Close()
	d.lock = nil
}

// opener returns the stream of one table: a worker is taken when the uploader
// reaches the table, and the rows flow through a pipe as they are read.
func (d *dump) opener(db string, t *Table, chunk int) func(ctx context.Context) (io.ReadCloser, error) {
	return func(ctx context.Context) (io.ReadCloser, error) {
		var c *sql.Conn

		select {
		case c = <-d.workers:
		case <-ctx.Done():
			return nil, ctx.Err()
		}

		pr, pw := io.Pipe()

		d.mu.Lock()
		d.pipes = append(d.pipes, pr)
		d.mu.Unlock()

		d.running.Add(1)

		go func() {
			defer d.running.Done()
			defer func() { d.workers <- c }()

			n, sum, err := dumpTable(d.ctx, c, db, t, chunk, pw)

			if !t.transactional() {
				defer d.pending.Done()
			}

			d.mu.Lock()
			if err == nil {
				acc := d.partial[t]
				if acc == nil {
					acc = &tableAcc{}
					d.partial[t] = acc
				}

				acc.rows += n
				acc.sum.merge(sum)
				acc.chunks++

				if acc.chunks == max(1, len(t.Bounds)-1) {
					t.Rows, t.Checksum = acc.rows, acc.sum.String()
					d.done[t] = true
				}
			} else {
				d.errs = append(d.errs, err)
			}
			d.mu.Unlock()

			pw.CloseWithError(err)
		}()

		return pr, nil
	}
}

// finish checks every table was dumped, and releases the lock and workers.
func (d *dump) finish() error {
	d.mu.Lock()
	errs := d.errs

	var missing []string

	for _, db := range d.meta.Databases {
		for _, t := range db.Tables {
			if !d.done[t] {
				missing = append(missing, db.Name+"."+t.Name)
			}
		}
	}
	d.mu.Unlock()

	if len(errs) > 0 {
		return fmt.Errorf("source %s: %w", d.name, errors.Join(errs...))
	}

	if len(missing) > 0 {
		return fmt.Errorf("source %s: tables not dumped: %s", d.name, strings.Join(missing, ", "))
	}

	d.unlock(context.Background())

	return nil
}

func (d *dump) close() {
	// Stop and wait for the table reads before their connections are
	// rolled back and closed under them.
	if d.cancel != nil {
		d.cancel()
	}

	// A reader the uploader abandoned would leave its writer blocked.
	d.mu.Lock()
	for _, pr := range d.pipes {
		pr.CloseWithError(context.Canceled)
	}
	d.mu.Unlock()

	d.running.Wait()
	d.unlock(context.Background())

	for _, c := range d.all {
		c.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck
		c.Close()
	}

	d.all = nil
}

// Preview names the databases and server a backup would dump, from the
// configuration: it does not connect.
func (s *Source) Preview(context.Context) (string, error) {
	m := s.cfg.MySQL

	dbs := "every user database"
	if len(m.Databases) > 0 {
		dbs = "databases " + strings.Join(m.Databases, ", ")
	}

	server := m.Socket
	if server == "" {
		server = net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	}

	if s.physicalMode() {
		return fmt.Sprintf("mariadb-backup's hot copy of the whole server on %s as %s (mode: physical)", server, m.User), nil
	}

	return fmt.Sprintf("%s on %s as %s", dbs, server, m.User), nil
}
