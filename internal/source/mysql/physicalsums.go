package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"lifeboat/internal/repo"
	"lifeboat/internal/scratchdb"
)

// tableSumsKind is the repository record that holds, per physical
// snapshot (its ID is the key), the row count and CHECKSUM TABLE of every
// table of the copy the first restore test started. A physical backup
// records none at backup time (that would read every row of the source,
// which a physical copy exists to avoid), so the first test is the
// reference later tests and restores of the same snapshot compare with.
const tableSumsKind = "mysql-physical-tables"

// tableSum is one table's row count and checksum, stored as "rows checksum".
type tableSum struct {
	Rows int64
	Sum  string
}

func (t tableSum) String() string { return strconv.FormatInt(t.Rows, 10) + " " + t.Sum }

func parseTableSum(v string) (tableSum, bool) {
	rows, sum, ok := strings.Cut(v, " ")
	n, err := strconv.ParseInt(rows, 10, 64)

	return tableSum{Rows: n, Sum: sum}, ok && err == nil
}

// readTableSums reads the row count and checksum of each of tables.
func readTableSums(ctx context.Context, db *sql.DB, tables []string) (map[string]tableSum, error) {
	out := make(map[string]tableSum, len(tables))

	for _, t := range tables {
		var (
			name, sum sql.NullString
			n         int64
		)

		if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+t).Scan(&name, &sum); err != nil {
			return nil, fmt.Errorf("table %s: CHECKSUM TABLE: %w", t, err)
		}

		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("table %s: count its rows: %w", t, err)
		}

		out[t] = tableSum{Rows: n, Sum: sum.String}
	}

	return out, nil
}

// recordedSums is the record of snapshot id, or nil when none was taken.
func recordedSums(ctx context.Context, r *repo.Repository, id string) (map[string]tableSum, error) {
	all, err := r.Records(ctx, tableSumsKind)
	if err != nil {
		return nil, err
	}

	rec, ok := all[id]
	if !ok {
		return nil, nil
	}

	out := make(map[string]tableSum, len(rec))

	for t, v := range rec {
		if ts, ok := parseTableSum(v); ok {
			out[t] = ts
		}
	}

	return out, nil
}

func putSums(ctx context.Context, r *repo.Repository, id string, sums map[string]tableSum) error {
	v := make(map[string]string, len(sums))
	for t, s := range sums {
		v[t] = s.String()
	}

	return r.PutRecord(ctx, tableSumsKind, id, v)
}

// compareSums names each table of want that got lacks or holds otherwise,
// and each table got holds that want lacks.
func compareSums(want, got map[string]tableSum) []string {
	var probs []string

	for t, w := range want {
		g, ok := got[t]

		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("table %s: missing from the restored copy (recorded at the first restore test: %d rows)", t, w.Rows))
		case g.Rows != w.Rows:
			probs = append(probs, fmt.Sprintf("table %s: %d rows, but %d were recorded at the first restore test of this snapshot", t, g.Rows, w.Rows))
		case g.Sum != w.Sum:
			probs = append(probs, fmt.Sprintf("table %s: CHECKSUM TABLE %s, but %s was recorded at the first restore test of this snapshot", t, g.Sum, w.Sum))
		}
	}

	for t := range got {
		if _, ok := want[t]; !ok {
			probs = append(probs, fmt.Sprintf("table %s: not in the record of the first restore test of this snapshot", t))
		}
	}

	sort.Strings(probs)

	return probs
}

// checkAgainstRecord compares the tables of a running copy of snap with
// its record. It records them when none exists and record is set (a
// restore test whose checks passed); recorded says it did. compared is how
// many tables were compared.
func (s *Source) checkAgainstRecord(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, db *sql.DB, record bool) (probs []string, compared int, recorded bool, err error) {
	want, err := recordedSums(ctx, r, snap.ID)
	if err != nil || want == nil && !record {
		return nil, 0, false, err
	}

	tables, err := userTables(ctx, db, s.cfg.MySQL.Databases)
	if err != nil {
		return nil, 0, false, err
	}

	got, err := readTableSums(ctx, db, tables)
	if err != nil {
		return nil, 0, false, err
	}

	if want == nil {
		if err := putSums(ctx, r, snap.ID, got); err != nil {
			return nil, 0, false, fmt.Errorf("record the tables' row counts and checksums: %w", err)
		}

		return nil, 0, true, nil
	}

	return compareSums(want, got), len(want), false, nil
}

// checkRestoredDatadir compares a data directory restored from snap with
// the record of its first restore test, on a private server started and
// stopped for it; without a record it does nothing.
func (s *Source) checkRestoredDatadir(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, datadir string) (int, error) {
	want, err := recordedSums(ctx, r, snap.ID)
	if err != nil || want == nil {
		return 0, err
	}

	srv, err := scratchdb.Start(ctx, datadir, scratchdb.Options{})
	if err != nil {
		return 0, fmt.Errorf("start a private server on %s to compare its tables with the record of snapshot %s: %w", datadir, shortID(snap.ID), err)
	}

	probs, n, _, err := s.checkAgainstRecord(ctx, r, snap, srv.DB(), false)
	if stopErr := srv.Stop(context.WithoutCancel(ctx)); err == nil && stopErr != nil {
		err = stopErr
	}

	// What the private server wrote belongs to the data directory's owner.
	if ownErr := matchOwner(datadir); err == nil {
		err = ownErr
	}

	if err != nil {
		return 0, err
	}

	if len(probs) > 0 {
		return n, fmt.Errorf("the data restored into %s differs from what the first restore test of snapshot %s recorded: %s", datadir, shortID(snap.ID), strings.Join(probs, "; "))
	}

	return n, nil
}
