package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
	"lifeboat/internal/scratchdb"
	"lifeboat/internal/source"
)

// restoreTestPhysical restores a physical snapshot (its chain) into a
// scratch data directory, starts a private server on it on a free port,
// has the server check every table (CHECK TABLE) and read every row
// (CHECKSUM TABLE), runs the source's assertions there, and removes it all.
// Nothing per table is recorded at backup time (a checksum would read every
// row of the source's tables during the backup, which a physical copy exists
// to avoid), so the report says what was checked and claims no comparison.
func (s *Source) restoreTestPhysical(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt source.TestOptions) (*source.TestReport, error) {
	clk := s.clock(r)
	start := clk.Now()
	name := s.cfg.Name
	rep := &source.TestReport{Snapshot: snap, What: "tables", Checks: physicalChecks}

	scratch, err := os.MkdirTemp("", "lifeboat-restore-test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)

	dir := filepath.Join(scratch, "datadir")
	if _, err := s.restorePhysical(ctx, r, snap, dir); err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}

	srv, err := scratchdb.Start(ctx, dir, scratchdb.Options{})
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: the restored copy does not start: %w", name, err)
	}
	defer srv.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // a scratch copy removed next

	rep.Restore = clock.Since(clk, start)

	tables, err := userTables(ctx, srv.DB(), s.cfg.MySQL.Databases)
	if err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}

	if opt.Tamper != nil && len(tables) > 0 {
		if err := opt.Tamper(ctx, strings.SplitN(tables[0], "`.`", 2)[0][1:]); err != nil {
			return nil, err
		}
	}

	for _, t := range tables {
		rep.Checked++

		if prob := checkTable(ctx, srv.DB(), t); prob != "" {
			rep.Problems = append(rep.Problems, prob)
		}
	}

	if dbs := s.cfg.MySQL.Databases; len(dbs) > 0 && len(s.cfg.Verify.Assertions) > 0 {
		probs, err := assert(ctx, srv.DB(), dbs[0], s.cfg.Verify.Assertions)
		if err != nil {
			return nil, fmt.Errorf("restore test of %s: %w", name, err)
		}

		rep.Assertions = len(s.cfg.Verify.Assertions)
		rep.Problems = append(rep.Problems, probs...)
	}

	if err := s.testAgainstRecord(ctx, r, snap, srv.DB(), rep); err != nil {
		return nil, fmt.Errorf("restore test of %s: %w", name, err)
	}

	rep.Total = clock.Since(clk, start)

	return rep, nil
}

// testAgainstRecord compares the copy's row counts and checksums with the
// record of the snapshot's first restore test, or, when this is the first
// and its checks passed, records them.
func (s *Source) testAgainstRecord(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, db *sql.DB, rep *source.TestReport) error {
	probs, compared, recorded, err := s.checkAgainstRecord(ctx, r, snap, db, len(rep.Problems) == 0)
	if err != nil {
		return err
	}

	switch {
	case recorded:
		rep.Checks = physicalChecks + "; their row counts and checksums recorded now, for later tests and restores of this snapshot to compare with"
	case compared > 0:
		rep.Checks = "started on a private server, CHECK TABLE, row counts and CHECKSUM TABLE compared with the record of this snapshot's first restore test"
	}

	rep.Problems = append(rep.Problems, probs...)

	return nil
}

// physicalChecks is what a restore test of a physical snapshot checks of
// each table when nothing was recorded of it before: exactly that, with no
// comparison against the source.
const physicalChecks = "started on a private server, every row readable, CHECK TABLE ok; no checksums recorded at backup time to compare with"

// userTables are the base tables of dbs (none: every user database) as
// quoted db.table names.
func userTables(ctx context.Context, db *sql.DB, dbs []string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1, 2")
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	want := map[string]bool{}
	for _, d := range dbs {
		want[d] = true
	}

	var out []string

	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			return nil, err
		}

		if len(want) == 0 || want[schema] {
			out = append(out, quoteIdent(schema)+"."+quoteIdent(table))
		}
	}

	return out, rows.Err()
}

// checkTable is what is wrong with table t, or "".
func checkTable(ctx context.Context, db *sql.DB, t string) string {
	rows, err := db.QueryContext(ctx, "CHECK TABLE "+t)
	if err != nil {
		return fmt.Sprintf("table %s: CHECK TABLE: %v", t, err)
	}

	var bad []string

	for rows.Next() {
		var tbl, op, typ, text string
		if err := rows.Scan(&tbl, &op, &typ, &text); err != nil {
			rows.Close()
			return fmt.Sprintf("table %s: %v", t, err)
		}

		if typ == "error" || (typ == "status" && text != "OK") {
			bad = append(bad, text)
		}
	}

	rows.Close()

	if len(bad) > 0 {
		return fmt.Sprintf("table %s: %s", t, strings.Join(bad, "; "))
	}

	var n, sum sql.NullString
	if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+t).Scan(&n, &sum); err != nil {
		return fmt.Sprintf("table %s: CHECKSUM TABLE: %v", t, err)
	}

	if !sum.Valid {
		return fmt.Sprintf("table %s: its rows cannot be read", t)
	}

	return ""
}
