package mysql

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// ErrNotInSnapshot means a restore named a table the snapshot does not hold.
var ErrNotInSnapshot = source.ErrNotInSnapshot

// ErrChecksumMismatch means a restored table differs from what was backed up.
var ErrChecksumMismatch = errors.New("restored data differs from the backup")

// RestoreOptions choose what a database restore writes where.
type RestoreOptions = source.DatabaseRestoreOptions

// restoreRun is a restore's options with the choices only this package makes.
type restoreRun struct {
	RestoreOptions
	// noBinlog keeps a copy under another name out of the server's binlog.
	noBinlog bool
	// skipCheck leaves the comparison with the backup to the caller (a
	// restore test compares separately).
	skipCheck bool
	// mask, for a masked restore, masks the rows on their way in.
	mask *masking
}

// RestoreReport says what a database restore did and what it checked.
type RestoreReport = source.DatabaseRestoreReport

// LoadMeta reads what a snapshot recorded about the dump.
func LoadMeta(snap *repo.Snapshot) (*Meta, error) {
	raw, ok := snap.Extra[metaLabel]
	if !ok {
		return nil, fmt.Errorf("snapshot %s is not a database backup", snap.ID)
	}

	var m Meta
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("snapshot %s: read its recorded metadata: %w", snap.ID, err)
	}

	return &m, nil
}

// Restore implements source.Source: target is the database name ("" keeps it).
func (s *Source) Restore(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, target string, opt source.RestoreOptions) (*source.RestoreResult, error) {
	rep, err := s.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: target, Overwrite: opt.Overwrite, Version: opt.Version, Progress: opt.Progress})
	if err != nil {
		return nil, err
	}

	return &source.RestoreResult{Safety: rep.Safety, Stats: repo.RestoreStats{Files: int64(rep.Tables)}}, nil
}

type plannedDB struct {
	src    *Database
	target string
	tables []*Table
}

// RestoreDatabase restores a database snapshot onto the source's server, then
// compares every restored table's row count and checksum with the backup's.
func (s *Source) RestoreDatabase(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt RestoreOptions) (*RestoreReport, error) {
	if _, ok := LoadPhysical(snap); ok {
		return s.restorePhysicalReport(ctx, r, snap, opt)
	}

	if opt.Datadir != "" {
		return nil, fmt.Errorf("snapshot %s is a logical backup: it restores into a running server (--target-database), not a data directory; --target-datadir takes a physical backup (mode: physical)", shortID(snap.ID))
	}

	return s.restoreDatabase(ctx, r, snap, restoreRun{RestoreOptions: opt})
}

func (s *Source) restoreDatabase(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt restoreRun) (*RestoreReport, error) {
	name, my := s.cfg.Name, s.cfg.MySQL

	meta, err := LoadMeta(snap)
	if err != nil {
		return nil, err
	}

	plan, err := planRestore(meta, opt.RestoreOptions)
	if err != nil {
		return nil, err
	}

	if opt.Masked && opt.mask == nil {
		if opt.mask, err = s.maskedRestore(ctx, r, meta, plan, opt.RestoreOptions); err != nil {
			return nil, err
		}
	}

	// Rules compiled by the caller were read from its own copy of meta.
	opt.mask.bind(meta)

	pool, err := connect(ctx, name, my, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	pool.SetMaxOpenConns(my.Workers + 2)

	// A copy under another name is a scratch copy: replicas and the binlog
	// archive have no use for it, and not logging it makes it faster. The
	// original name is restored logged, so replicas follow.
	if opt.Database != "" && len(meta.Databases) == 1 && opt.Database != meta.Databases[0].Name && canSkipBinlog(ctx, pool) {
		opt.noBinlog = true
	}

	rep := &RestoreReport{}

	// Refuse, or save first, whatever the restore would replace.
	var replace []string

	for _, p := range plan {
		clash, err := existing(ctx, pool, p, opt.Tables != nil)
		if err != nil {
			return nil, explain(name, my, err)
		}

		if clash != "" {
			if !opt.Overwrite {
				return nil, fmt.Errorf("%w: %s; restore under another name with --target-database, or pass --overwrite (what it replaces is saved as a safety snapshot first)", source.ErrTargetNotEmpty, clash)
			}

			replace = append(replace, p.target)
		}
	}

	if len(replace) > 0 && !opt.Saved {
		safety, err := s.backup(ctx, r, replace, repo.RoleSafety, source.BackupOptions{Type: repo.TypeFull, Version: opt.Version}, nil)
		if err != nil {
			return nil, fmt.Errorf("safety backup of %s before overwriting it: %w", strings.Join(replace, ", "), err)
		}

		rep.Safety = safety
	}

	if opt.Progress != nil {
		opt.Progress.SetTotal(snap.Bytes)
	}

	for _, p := range plan {
		if err := s.restoreOne(ctx, r, snap, pool, meta, p, opt, rep); err != nil {
			return rep, err
		}
	}

	// Accounts name databases in their grants, so they come back only when
	// the databases keep their names.
	if len(meta.Accounts) > 0 && opt.Database == "" && opt.Tables == nil {
		n, err := restoreAccounts(ctx, pool, meta.Accounts)
		if err != nil {
			return rep, explain(name, my, err)
		}

		rep.Accounts = n
	}

	if opt.mask != nil {
		if err := s.remember(ctx, r, opt.mask); err != nil {
			return rep, err
		}
	}

	return rep, nil
}

func planRestore(meta *Meta, opt RestoreOptions) ([]plannedDB, error) {
	if opt.Database != "" && len(meta.Databases) != 1 {
		return nil, fmt.Errorf("the snapshot holds %d databases; --target-database renames only a one-database snapshot: %w", len(meta.Databases), ErrNotInSnapshot)
	}

	var plan []plannedDB

	for _, db := range meta.Databases {
		p := plannedDB{src: db, target: db.Name, tables: db.Tables}
		flag := ""

		if opt.Database != "" {
			p.target, flag = opt.Database, "--target-database"
		}

		if err := checkTarget(p.target, flag); err != nil {
			return nil, err
		}

		if opt.Tables != nil {
			p.tables = nil

			for _, want := range opt.Tables {
				var found *Table

				for _, t := range db.Tables {
					if t.Name == want {
						found = t
					}
				}

				if found == nil {
					return nil, fmt.Errorf("table %q is %w of %s", want, ErrNotInSnapshot, db.Name)
				}

				p.tables = append(p.tables, found)
			}
		}

		plan = append(plan, p)
	}

	return plan, nil
}

// existing describes what of the plan already exists on the server, or "".
func existing(ctx context.Context, db *sql.DB, p plannedDB, onlyTables bool) (string, error) {
	have, err := strings1(ctx, db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", p.target)
	if err != nil {
		return "", err
	}

	if !onlyTables {
		// Routines and events count too: dropping the database would lose them.
		var objects int
		if err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?)", p.target, p.target).Scan(&objects); err != nil {
			return "", err
		}

		if len(have)+objects > 0 {
			return fmt.Sprintf("database %s already exists and holds %d tables or views and %d routines or events", p.target, len(have), objects), nil
		}

		return "", nil
	}

	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}

	var clash []string

	for _, t := range p.tables {
		if set[t.Name] {
			clash = append(clash, t.Name)
		}
	}

	if len(clash) > 0 {
		return fmt.Sprintf("tables %s already exist in %s", strings.Join(clash, ", "), p.target), nil
	}

	return "", nil
}

func (s *Source) restoreOne(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, pool *sql.DB, meta *Meta, p plannedDB, opt restoreRun, rep *RestoreReport) error {
	name, my := s.cfg.Name, s.cfg.MySQL
	target := quoteIdent(p.target)

	c, err := sessionConn(ctx, pool, meta.SQLMode, p.target, false, opt.noBinlog)
	if err != nil {
		return explain(name, my, err)
	}
	defer c.Close()

	if opt.Tables == nil {
		if _, err := c.ExecContext(ctx, "DROP DATABASE IF EXISTS "+target); err != nil {
			return explain(name, my, err)
		}
	}

	create := fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s CHARACTER SET %s COLLATE %s", target, quoteIdent(p.src.Charset), quoteIdent(p.src.Collation))
	if _, err := c.ExecContext(ctx, create); err != nil {
		return explain(name, my, err)
	}

	if _, err := c.ExecContext(ctx, "USE "+target); err != nil {
		return explain(name, my, err)
	}

	for _, t := range p.tables {
		if opt.Tables != nil {
			if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteIdent(t.Name)); err != nil {
				return explain(name, my, err)
			}
		}

		create, _, _ := deferKeys(t)
		if _, err := c.ExecContext(ctx, create); err != nil {
			return fmt.Errorf("create table %s.%s: %w", p.target, t.Name, explain(name, my, err))
		}
	}

	if err := s.loadTables(ctx, r, snap, pool, meta, p, opt); err != nil {
		return err
	}

	// Foreign keys last: the keys they point at are all there now.
	for _, t := range p.tables {
		if _, _, fks := deferKeys(t); fks != "" {
			if _, err := c.ExecContext(ctx, fks); err != nil {
				return fmt.Errorf("add the foreign keys of %s.%s: %w", p.target, t.Name, explain(name, my, err))
			}
		}
	}

	rep.Databases = append(rep.Databases, p.target)
	rep.Tables += len(p.tables)

	// A whole database gets every object back; single tables get their
	// own triggers (dropping a table drops its triggers too).
	objs := p.src.Objects
	if opt.Tables != nil {
		objs = nil

		for _, o := range p.src.Objects {
			for _, t := range p.tables {
				if o.Kind == "trigger" && o.Table == t.Name {
					objs = append(objs, o)
				}
			}
		}
	}

	// Under another name, an event that names the original database would
	// run against it: such copies get their events disabled.
	if opt.Database != "" && opt.Database != p.src.Name {
		objs = disableEvents(objs)
	}

	n, err := createObjects(ctx, c, objs)
	if err != nil {
		return fmt.Errorf("restore into %s: %w", p.target, err)
	}

	rep.Objects += n

	if opt.skipCheck {
		return nil
	}

	// Check what was restored against what was recorded at backup time,
	// several tables at once.
	bad, rows, err := s.checkTables(ctx, pool, p, opt.mask)
	if err != nil {
		return err
	}

	rep.Rows += rows
	rep.Checked += len(p.tables)

	if len(bad) > 0 {
		return fmt.Errorf("%w in %s: %s", ErrChecksumMismatch, p.target, strings.Join(bad, "; "))
	}

	return nil
}

// sessionConn opens a connection set up to load a dump: the source's sql_mode
// (zero dates and the like load as they were), no per-row key checks.
func sessionConn(ctx context.Context, pool *sql.DB, sqlMode, db string, useDB, noBinlog bool) (*sql.Conn, error) {
	c, err := pool.Conn(ctx)
	if err != nil {
		return nil, err
	}

	mode := loadMode(sqlMode)

	stmts := []string{
		"SET NAMES utf8mb4",
		"SET SESSION foreign_key_checks = 0",
		"SET SESSION unique_checks = 0",
		"SET SESSION sql_mode = " + quoteString(mode),
	}
	if useDB {
		stmts = append(stmts, "USE "+quoteIdent(db))
	}

	if noBinlog {
		stmts = append(stmts, "SET SESSION sql_log_bin = 0")
	}

	for _, s := range stmts {
		if _, err := c.ExecContext(ctx, s); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}

	return c, nil
}

// loadTables streams every table's data from the repository into the server,
// several tables at once.
func (s *Source) loadTables(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, pool *sql.DB, meta *Meta, p plannedDB, opt restoreRun) error {
	progress, noBinlog := opt.Progress, opt.noBinlog

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type item struct {
		t    *Table
		file string
	}

	work := make(chan item)

	// A table's deferred keys are added by whichever worker loads its last file.
	remaining := map[*Table]int{}
	for _, t := range p.tables {
		remaining[t] = len(t.Files(p.src))
	}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)

	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
			cancel()
		}
		mu.Unlock()
	}

	for i := 0; i < s.cfg.MySQL.Workers; i++ {
		wg.Add(1)

		go func() {
			defer wg.Done()

			c, err := sessionConn(ctx, pool, meta.SQLMode, p.target, true, noBinlog)
			if err != nil {
				fail(explain(s.cfg.Name, s.cfg.MySQL, err))
				return
			}
			defer c.Close()

			for it := range work {
				if err := loadFile(ctx, r, snap, c, it.file, insertPrefix(it.t), progress, opt.mask.of(it.t)); err != nil {
					fail(fmt.Errorf("load %s.%s from %s: %w", p.target, it.t.Name, it.file, err))
					return
				}

				mu.Lock()
				remaining[it.t]--
				last := remaining[it.t] == 0
				mu.Unlock()

				if _, alter, _ := deferKeys(it.t); last && alter != "" {
					if _, err := c.ExecContext(ctx, alter); err != nil {
						fail(fmt.Errorf("add the keys of %s.%s: %w", p.target, it.t.Name, err))
						return
					}
				}
			}
		}()
	}

feed:
	for _, t := range p.tables {
		for _, f := range t.Files(p.src) {
			select {
			case work <- item{t, f}:
			case <-ctx.Done():
				break feed
			}
		}
	}

	close(work)
	wg.Wait()

	if first != nil {
		return first
	}

	return ctx.Err()
}

// execRetrying runs one statement of a dump. Workers loading chunks of the
// same table in parallel can deadlock in InnoDB, which then rolls back one
// statement (each is its own transaction here) and asks for it again.
func execRetrying(ctx context.Context, c *sql.Conn, stmt string) error {
	for attempt := 1; ; attempt++ {
		_, err := c.ExecContext(ctx, stmt)

		var me *driver.MySQLError
		if err == nil || attempt == 5 || !errors.As(err, &me) || (me.Number != 1213 && me.Number != 1205) {
			return err
		}

		select {
		case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// loadFile runs the INSERT statements of one data file. Each starts with
// prefix (the table's INSERT INTO ... VALUES) and its values hold no line
// break, so a statement ends at the first line break after its prefix: a
// line break inside the table's or a column's name is not taken for the end.
func loadFile(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, c *sql.Conn, file, prefix string, progress repo.Progress, tm *tableMask) error {
	rd, err := r.OpenFile(ctx, snap.ID, file)
	if err != nil {
		return err
	}
	defer rd.Close()

	br := bufio.NewReaderSize(rd, 256<<10)
	head := make([]byte, len(prefix))

	var masked []byte

	for n := 1; ; n++ {
		got, err := io.ReadFull(br, head)
		if got == 0 && errors.Is(err, io.EOF) {
			return nil
		}

		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return err
		}

		if err != nil || string(head) != prefix {
			return fmt.Errorf("statement %d does not start with the table's INSERT (%q): the file is damaged or does not belong to this table", n, truncate(string(head[:got]), 60))
		}

		values, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}

		if progress != nil {
			progress.Add(int64(len(prefix) + len(values)))
		}

		values = bytes.TrimSuffix(bytes.TrimRight(values, "\n"), []byte(";"))

		// A masked table's rows are masked here, before the statement
		// leaves for the server.
		if tm != nil {
			var merr error

			masked = append(masked[:0], prefix...)
			if masked, merr = tm.rewrite(masked, values); merr != nil {
				return fmt.Errorf("statement %d: %w", n, merr)
			}

			values = masked[len(prefix):]
		}

		if xerr := execRetrying(ctx, c, prefix+string(values)); xerr != nil {
			return xerr
		}

		if err != nil {
			return nil
		}
	}
}

// createObjects creates views (in dependency order, by retrying those whose
// dependencies are not there yet), then routines, triggers and events, each
// under the sql_mode and character set it was defined with.
func createObjects(ctx context.Context, c *sql.Conn, objs []*Object) (int, error) {
	n := 0

	for _, kind := range objectKinds {
		var pending []*Object

		for _, o := range objs {
			if o.Kind == kind {
				pending = append(pending, o)
			}
		}

		for len(pending) > 0 {
			var (
				next    []*Object
				lastErr error
			)

			for _, o := range pending {
				if err := createObject(ctx, c, o); err != nil {
					next, lastErr = append(next, o), fmt.Errorf("create %s %s: %w", o.Kind, o.Name, err)
					continue
				}

				n++
			}

			if len(next) == len(pending) {
				return n, lastErr
			}

			pending = next
		}
	}

	return n, nil
}

func createObject(ctx context.Context, c *sql.Conn, o *Object) error {
	var stmts []string

	if o.SQLMode != "" || o.Kind != "view" {
		stmts = append(stmts, "SET SESSION sql_mode = "+quoteString(o.SQLMode))
	}

	if o.Charset != "" {
		stmts = append(stmts, "SET SESSION character_set_client = "+quoteString(o.Charset))
	}

	if o.Collation != "" {
		stmts = append(stmts, "SET SESSION collation_connection = "+quoteString(o.Collation))
	}

	stmts = append(stmts, o.Create, "SET NAMES utf8mb4")

	for _, s := range stmts {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return err
		}
	}

	return nil
}

// restoreAccounts creates the accounts the server lacks, with their grants.
// Existing accounts are left as they are: a restore never changes a live
// user's password.
func restoreAccounts(ctx context.Context, db *sql.DB, accounts []*Account) (int, error) {
	n := 0

	for _, a := range accounts {
		var exists int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?", a.User, a.Host).Scan(&exists); err != nil {
			return n, err
		}

		if exists > 0 {
			continue
		}

		if _, err := db.ExecContext(ctx, a.Create); err != nil {
			return n, fmt.Errorf("create user %s@%s: %w", a.User, a.Host, err)
		}

		for _, g := range a.Grants {
			if _, err := db.ExecContext(ctx, g); err != nil {
				return n, fmt.Errorf("grant for %s@%s: %w", a.User, a.Host, err)
			}
		}

		n++
	}

	return n, nil
}

// deferKeys splits an InnoDB table's definition into a CREATE without its
// secondary keys and foreign keys, the ALTER that adds the keys once the rows
// are in (InnoDB builds an index from sorted data several times faster than it
// maintains it row by row), and the ALTER that adds the foreign keys once
// every table is loaded (a foreign key may need another table's unique key).
// Full-text and spatial keys stay in the CREATE; a table whose AUTO_INCREMENT
// column does not lead its primary key, or a definition not in the default
// quoting, is created whole.
func deferKeys(t *Table) (create, alterKeys, alterFKs string) {
	if !strings.EqualFold(t.Engine, "InnoDB") || !strings.HasPrefix(t.Create, "CREATE TABLE `") {
		return t.Create, "", ""
	}

	lines := sqlLines(t.Create)
	if len(lines) < 3 {
		return t.Create, "", ""
	}

	var (
		keep, keys, fks []string
		autoInc, pkLine string
	)

	body, tail := lines[1:len(lines)-1], lines[len(lines)-1]

	for _, l := range body {
		item := strings.TrimSuffix(strings.TrimSpace(l), ",")

		switch {
		case strings.HasPrefix(item, "KEY "), strings.HasPrefix(item, "UNIQUE KEY "):
			keys = append(keys, item)
		case foreignKey(item):
			fks = append(fks, item)
		default:
			if strings.HasPrefix(item, "PRIMARY KEY ") {
				pkLine = item
			}

			if col := leadingIdent(item); col != "" && indexUnquoted(item[len(col):], " AUTO_INCREMENT") >= 0 {
				autoInc = col
			}

			keep = append(keep, "  "+item)
		}
	}

	if autoInc != "" && !strings.HasPrefix(pkLine, "PRIMARY KEY ("+autoInc+",") && !strings.HasPrefix(pkLine, "PRIMARY KEY ("+autoInc+")") {
		return t.Create, "", ""
	}

	if len(keys)+len(fks) == 0 || !strings.HasPrefix(tail, ")") {
		return t.Create, "", ""
	}

	create = lines[0] + "\n" + strings.Join(keep, ",\n") + "\n" + tail

	if len(keys) > 0 {
		alterKeys = "ALTER TABLE " + quoteIdent(t.Name) + " ADD " + strings.Join(keys, ", ADD ")
	}

	if len(fks) > 0 {
		alterFKs = "ALTER TABLE " + quoteIdent(t.Name) + " ADD " + strings.Join(fks, ", ADD ")
	}

	return create, alterKeys, alterFKs
}

// foreignKey reports whether a line of a table's definition is a foreign key,
// "CONSTRAINT `name` FOREIGN KEY ...", whatever the name holds.
func foreignKey(item string) bool {
	rest, ok := strings.CutPrefix(item, "CONSTRAINT ")

	return ok && strings.HasPrefix(rest[len(leadingIdent(rest)):], " FOREIGN KEY ")
}

// loadMode is the sql_mode rows are loaded under: the source's, so zero dates
// and the like load as they were, with NO_AUTO_VALUE_ON_ZERO so a stored 0 in
// an AUTO_INCREMENT column stays 0, and without NO_BACKSLASH_ESCAPES, under
// which the dump's backslash escapes would be read as literal backslashes.
func loadMode(source string) string {
	var out []string

	for _, m := range strings.Split(source, ",") {
		if m != "" && m != "NO_BACKSLASH_ESCAPES" && m != "NO_AUTO_VALUE_ON_ZERO" {
			out = append(out, m)
		}
	}

	return strings.Join(append(out, "NO_AUTO_VALUE_ON_ZERO"), ",")
}

// disableEvents returns objs with every enabled event created disabled.
func disableEvents(objs []*Object) []*Object {
	out := make([]*Object, len(objs))

	for i, o := range objs {
		out[i] = o

		if o.Kind != "event" {
			continue
		}

		// The status comes before DO, where the server prints every name
		// and string quoted: the first unquoted ENABLE there is the status.
		head := o.Create
		if do := indexUnquoted(head, " DO "); do >= 0 {
			head = head[:do]
		}

		if at := indexUnquoted(head, " ENABLE "); at >= 0 {
			c := *o
			c.Create = o.Create[:at] + " DISABLE " + o.Create[at+len(" ENABLE "):]
			out[i] = &c
		}
	}

	return out
}

// checkTables re-reads every restored table and compares its row count and
// checksum with the backup's; it returns the tables that differ.
func (s *Source) checkTables(ctx context.Context, pool *sql.DB, p plannedDB, m *masking) ([]string, int64, error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		bad   []string
		rows  int64
		first error
	)

	work := make(chan *Table, len(p.tables))
	for _, t := range p.tables {
		work <- t
	}

	close(work)

	for i := 0; i < min(s.cfg.MySQL.Workers, len(p.tables)); i++ {
		wg.Add(1)

		go func() {
			defer wg.Done()

			for t := range work {
				n, sum, err := scanTable(ctx, pool, p.target, t, wholeTable, func([]byte) error { return nil })
				want, exact := m.expected(t)

				mu.Lock()
				switch {
				case err != nil:
					if first == nil {
						first = fmt.Errorf("check %s.%s: %w", p.target, t.Name, err)
					}
				case n != t.Rows || (exact && sum.String() != want):
					bad = append(bad, fmt.Sprintf("%s: %d rows (backup had %d), checksum %s (backup had %s)", t.Name, n, t.Rows, sum.String(), t.Checksum))
				}

				rows += n
				mu.Unlock()
			}
		}()
	}

	wg.Wait()
	sort.Strings(bad)

	return bad, rows, first
}

// canSkipBinlog reports whether this user may turn the binlog off for its
// session (SUPER, or BINLOG ADMIN on MariaDB 10.5+).
func canSkipBinlog(ctx context.Context, pool *sql.DB) bool {
	c, err := pool.Conn(ctx)
	if err != nil {
		return false
	}
	defer c.Close()

	_, err = c.ExecContext(ctx, "SET SESSION sql_log_bin = 0")
	if err == nil {
		c.ExecContext(ctx, "SET SESSION sql_log_bin = 1") //nolint:errcheck
	}

	return err == nil
}
