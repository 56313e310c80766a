package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// RestoreTest restores a full database snapshot into a scratch database
// (on verify.server when the source names one), compares every table's row
// count and checksum with what the backup recorded, runs the source's
// assertions in it, and drops it.
func (s *Source) RestoreTest(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	if _, ok := LoadPhysical(snap); ok {
		return s.restoreTestPhysical(ctx, r, snap, opt)
	}

	return s.restoreTestLogical(ctx, r, snap, opt)
}

func (s *Source) restoreTestLogical(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	clk := s.clock(r)
	start := clk.Now()
	name := s.cfg.Name
	rep := &source.TestReport{Snapshot: snap, What: "tables"}

	if snap.Type != repo.TypeFull {
		return nil, fmt.Errorf("restore test of %s: snapshot %s is a %s backup (binlog only); test a full backup, or recover to its point with `lifeboat restore %s --to-time ... --target-database NAME`", name, snap.ID, snap.Type, name)
	}

	meta, err := LoadMeta(snap)
	if err != nil {
		return nil, err
	}

	if err := s.checkReplayLogin(ctx, r, snap); err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}

	// The scratch copy goes to the verify server when there is one, else
	// next to the original under a name nobody uses.
	target := s.verifyTarget()

	opts, err := s.testRun(ctx, r, meta, opt, rep)
	if err != nil {
		return nil, err
	}

	rename, err := s.scratchNames(meta, &opts)
	if err != nil {
		return nil, err
	}

	pool, err := connect(ctx, target.cfg.Name, target.cfg.MySQL, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	// Only what this test creates is dropped: a database that exists
	// already (a verify server shared with something else) is refused below
	// and never touched.
	existed, err := target.databases(ctx, pool)
	if err != nil {
		return nil, err
	}

	for _, db := range rename {
		if existed[db] {
			return nil, fmt.Errorf("restore test of %s: %w: database %s exists on the verify server; the test restores into databases of its own and drops them after, so it will not use that server while %s is there", name, source.ErrTargetNotEmpty, db, db)
		}
	}

	defer func() {
		for _, db := range rename {
			if _, err := pool.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(db)); err != nil && opt.Log != nil {
				opt.Log.Warn("drop the restore test's scratch database", "source", name, "database", db, "err", err)
			}
		}
	}()

	if _, err := target.restoreDatabase(ctx, r, snap, opts); err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}

	rep.Restore = clock.Since(clk, start)

	plan, err := planRestore(meta, RestoreOptions{Database: opts.Database})
	if err != nil {
		return nil, err
	}

	if len(plan) == 0 {
		return nil, fmt.Errorf("restore test of %s: snapshot %s holds no database", name, snap.ID)
	}

	for _, p := range plan {
		if opt.Tamper != nil {
			if err := opt.Tamper(ctx, p.target); err != nil {
				return nil, err
			}
		}

		bad, _, err := target.checkTables(ctx, pool, p, opts.mask)
		if err != nil {
			return nil, fmt.Errorf("restore test of %s: %w", name, err)
		}

		rep.Checked += int64(len(p.tables))

		for _, b := range bad {
			rep.Problems = append(rep.Problems, "table "+b)
		}
	}

	// The assertions run once, in the first database (the one a
	// one-database source has), as an account that can read only it: an
	// assertion naming another database would check production instead.
	probs, err := target.assertInCopy(ctx, pool, plan[0].target, s.cfg.Verify.Assertions)
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}

	rep.Assertions = len(s.cfg.Verify.Assertions)
	rep.Problems = append(rep.Problems, probs...)

	rep.Total = clock.Since(clk, start)

	return rep, nil
}

// testRun is how a restore test restores; with verify.masked it restores
// what developers would get: no personal data reaches the scratch copy (or
// the verify server).
func (s *Source) testRun(ctx context.Context, r *repo.Repository, meta *Meta, opt source.TestOptions, rep *source.TestReport) (restoreRun, error) {
	run := restoreRun{RestoreOptions: RestoreOptions{Version: opt.Version, Progress: opt.Progress}, skipCheck: true}
	if !s.cfg.Verify.Masked {
		return run, nil
	}

	m, err := s.newMasking(ctx, r, meta)
	if err != nil {
		return run, fmt.Errorf("restore test of %s: %w", s.cfg.Name, err)
	}

	run.mask, run.Masked, rep.What = m, true, "masked tables"

	return run, nil
}

// verifyTarget is the source a restore test restores into: the verify
// server when the source names one, with the source's databases and
// settings, else the source itself.
func (s *Source) verifyTarget() *Source {
	srv := s.cfg.Verify.Server
	if srv == nil {
		return s
	}

	cfg := *s.cfg
	conn := *srv
	conn.Databases, conn.Workers, conn.Binlog, conn.Accounts = s.cfg.MySQL.Databases, s.cfg.MySQL.Workers, s.cfg.MySQL.Binlog, false
	cfg.MySQL = conn
	cfg.Name = s.cfg.Name + " (verify server)"

	return &Source{cfg: &cfg, getenv: s.getenv}
}

// scratchNames chooses the databases a restore test restores the snapshot
// meta describes into, by their names in the backup, and sets opts to
// restore into them.
func (s *Source) scratchNames(meta *Meta, opts *restoreRun) (map[string]string, error) {
	name := s.cfg.Name

	suffix := make([]byte, 4)
	rand.Read(suffix) //nolint:errcheck

	rename := map[string]string{}

	switch {
	case len(meta.Databases) == 1:
		opts.Database = "lifeboat_verify_" + hex.EncodeToString(suffix)
		rename[meta.Databases[0].Name] = opts.Database
	case s.cfg.Verify.Server != nil:
		// A server of its own: the databases keep their names there. They
		// must not exist yet: the test drops what it restored.
		for _, d := range meta.Databases {
			rename[d.Name] = d.Name
		}
	default:
		return nil, fmt.Errorf("restore test of %s: the snapshot holds %d databases and a scratch copy renames only one; set sources.%s.verify.server to a server the test may restore them into", name, len(meta.Databases), name)
	}

	return rename, nil
}

// databases are the databases on the source's server.
func (s *Source) databases(ctx context.Context, pool *sql.DB) (map[string]bool, error) {
	existed := map[string]bool{}

	rows, err := pool.QueryContext(ctx, "SHOW DATABASES")
	if err != nil {
		return nil, explain(s.cfg.Name, s.cfg.MySQL, err)
	}

	for rows.Next() {
		var db string
		if rows.Scan(&db) == nil {
			existed[db] = true
		}
	}

	rows.Close()

	return existed, nil
}

// assertInCopy runs the assertions in the restored copy db as a temporary
// account that can read only db.
func (s *Source) assertInCopy(ctx context.Context, admin *sql.DB, db string, assertions []string) ([]string, error) {
	if len(assertions) == 0 {
		return nil, nil
	}

	acct, err := confine(ctx, admin, s.cfg.Name, s.cfg.MySQL, db, "SELECT, SHOW VIEW, EXECUTE")
	if err != nil {
		return nil, err
	}
	defer acct.close()

	probs, err := assert(ctx, acct.DB, db, assertions)
	if err != nil {
		return nil, explain(s.cfg.Name, s.cfg.MySQL, err)
	}

	return probs, nil
}

// assert runs each assertion in db; one holds when its first column is true
// (neither 0, empty nor NULL).
func assert(ctx context.Context, pool *sql.DB, db string, assertions []string) ([]string, error) {
	if len(assertions) == 0 {
		return nil, nil
	}

	c, err := pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	if _, err := c.ExecContext(ctx, "USE "+quoteIdent(db)); err != nil {
		return nil, err
	}

	var probs []string

	for _, a := range assertions {
		var v sql.NullString

		q := a
		if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(a)), "SELECT") {
			q = "SELECT " + a
		}

		if err := c.QueryRowContext(ctx, q).Scan(&v); err != nil {
			hint := ""
			if deniedElsewhere(err) {
				hint = ": assertions can see only the restored copy; name its tables without a database (users, not app.users)"
			}

			probs = append(probs, fmt.Sprintf("assertion %q: %v%s", a, err, hint))

			continue
		}

		if !v.Valid || v.String == "" || v.String == "0" {
			probs = append(probs, fmt.Sprintf("assertion %q is false in the restored copy (it returned %s)", a, map[bool]string{true: v.String, false: "NULL"}[v.Valid]))
		}
	}

	return probs, nil
}

// Assert runs SQL assertions against a database of the source's server
// (a recovery plan's SQL check). A copy's (a drill's scratch database) run
// as a temporary account that can read only that copy, so a check naming
// the production database cannot read it.
func (s *Source) Assert(ctx context.Context, db string, assertions []string, copy bool) ([]string, error) {
	if probs, served, err := s.assertServed(ctx, db, assertions); served {
		return probs, err
	}

	pool, err := connect(ctx, s.cfg.Name, s.cfg.MySQL, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	if copy {
		return s.assertInCopy(ctx, pool, db, assertions)
	}

	probs, err := assert(ctx, pool, db, assertions)
	if err != nil {
		return nil, explain(s.cfg.Name, s.cfg.MySQL, err)
	}

	return probs, nil
}

// Databases are the databases the source backs up (as configured; empty
// means every user database).
func (s *Source) Databases() []string { return s.cfg.MySQL.Databases }
