package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// keyIndex is one set of a table's columns whose values identify what a
// change touches: a unique key (the primary key among them), or the
// referenced columns of a foreign key seen from either side.
type keyIndex struct {
	// name is the key's name in write sets: the parent table and its
	// referenced columns for a foreign key, so the parent's rows and the
	// children pointing at them meet under one name.
	name string
	cols []int
}

// tableKeys is what the write sets of one table's rows are made of.
type tableKeys struct {
	columns int
	keys    []keyIndex
	// whole makes every change to the table conflict with every other one:
	// no primary key, or a unique key on a column prefix.
	whole bool
}

// writeSchema is the target's keys of every replayed table, read from the
// server (the full is restored there, and barriers read it again after
// DDL), since the binlog may carry no column names.
type writeSchema map[string]*tableKeys

// loadWriteSchema reads the columns, unique keys and foreign keys of the
// tables in dbs.
func loadWriteSchema(ctx context.Context, c *sql.Conn, dbs []string) (writeSchema, error) {
	ws := writeSchema{}
	if len(dbs) == 0 {
		return ws, nil
	}

	in := make([]string, len(dbs))
	for i, d := range dbs {
		in[i] = quoteString(d)
	}

	list := strings.Join(in, ",")

	if err := ws.columns(ctx, c, list); err != nil {
		return nil, err
	}

	if err := ws.unique(ctx, c, list); err != nil {
		return nil, err
	}

	if err := ws.foreign(ctx, c, list); err != nil {
		return nil, err
	}

	for _, tk := range ws {
		if !tk.hasPrimary() {
			tk.whole = true
		}
	}

	return ws, nil
}

func (tk *tableKeys) hasPrimary() bool {
	for _, k := range tk.keys {
		if strings.HasSuffix(k.name, "\x00PRIMARY") {
			return true
		}
	}

	return false
}

func tableName(db, table string) string { return db + "." + table }

func (ws writeSchema) columns(ctx context.Context, c *sql.Conn, list string) error {
	rows, err := c.QueryContext(ctx, "SELECT table_schema, table_name, column_name, ordinal_position FROM information_schema.columns WHERE table_schema IN ("+list+")")
	if err != nil {
		return fmt.Errorf("read the target's columns: %w", err)
	}
	defer rows.Close()

	for rows.Next() {
		var db, table, col string
		var pos int

		if err := rows.Scan(&db, &table, &col, &pos); err != nil {
			return err
		}

		tk := ws[tableName(db, table)]
		if tk == nil {
			tk = &tableKeys{}
			ws[tableName(db, table)] = tk
		}

		tk.columns = max(tk.columns, pos)
	}

	return rows.Err()
}

// ordinal is a column's place in a table's row image (-1 when unknown).
func ordinal(ctx context.Context, c *sql.Conn, db, table, col string) int {
	var pos int
	if err := c.QueryRowContext(ctx, "SELECT ordinal_position FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND column_name = ?", db, table, col).Scan(&pos); err != nil {
		return -1
	}

	return pos - 1
}

func (ws writeSchema) unique(ctx context.Context, c *sql.Conn, list string) error {
	rows, err := c.QueryContext(ctx, `SELECT s.table_schema, s.table_name, s.index_name, c.ordinal_position, s.sub_part IS NOT NULL
		FROM information_schema.statistics s JOIN information_schema.columns c
		  ON c.table_schema = s.table_schema AND c.table_name = s.table_name AND c.column_name = s.column_name
		WHERE s.non_unique = 0 AND s.table_schema IN (`+list+`)
		ORDER BY s.table_schema, s.table_name, s.index_name, s.seq_in_index`)
	if err != nil {
		return fmt.Errorf("read the target's unique keys: %w", err)
	}
	defer rows.Close()

	for rows.Next() {
		var db, table, index string
		var pos int
		var prefix bool

		if err := rows.Scan(&db, &table, &index, &pos, &prefix); err != nil {
			return err
		}

		tk := ws[tableName(db, table)]
		if tk == nil {
			continue
		}

		if prefix {
			tk.whole = true
		}

		name := "u\x00" + tableName(db, table) + "\x00" + index
		tk.addColumn(name, pos-1)
	}

	return rows.Err()
}

// addColumn appends a column to the key called name, creating it.
func (tk *tableKeys) addColumn(name string, col int) {
	for i := range tk.keys {
		if tk.keys[i].name == name {
			tk.keys[i].cols = append(tk.keys[i].cols, col)
			return
		}
	}

	tk.keys = append(tk.keys, keyIndex{name: name, cols: []int{col}})
}

// foreign adds, for every foreign key, the referenced columns' values to
// the child's write sets (its parent row) and to the parent's, under one
// name, so deleting a parent and changing a child of it conflict.
func (ws writeSchema) foreign(ctx context.Context, c *sql.Conn, list string) error {
	rows, err := c.QueryContext(ctx, `SELECT k.table_schema, k.table_name, k.constraint_name, c.ordinal_position,
		  k.referenced_table_schema, k.referenced_table_name, k.referenced_column_name
		FROM information_schema.key_column_usage k JOIN information_schema.columns c
		  ON c.table_schema = k.table_schema AND c.table_name = k.table_name AND c.column_name = k.column_name
		WHERE k.referenced_table_name IS NOT NULL AND k.table_schema IN (`+list+`)
		ORDER BY k.table_schema, k.table_name, k.constraint_name, k.position_in_unique_constraint`)
	if err != nil {
		return fmt.Errorf("read the target's foreign keys: %w", err)
	}

	type ref struct{ child, parent, pdb, ptable, pcol string }

	var refs []ref

	for rows.Next() {
		var db, table, constraint, pdb, ptable, pcol string
		var pos int

		if err := rows.Scan(&db, &table, &constraint, &pos, &pdb, &ptable, &pcol); err != nil {
			rows.Close()
			return err
		}

		tk := ws[tableName(db, table)]
		if tk == nil {
			continue
		}

		name := "f\x00" + tableName(pdb, ptable) + "\x00" + constraint + "@" + tableName(db, table)
		tk.addColumn(name, pos-1)
		refs = append(refs, ref{child: name, parent: tableName(pdb, ptable), pdb: pdb, ptable: ptable, pcol: pcol})
	}

	rows.Close()

	if err := rows.Err(); err != nil {
		return err
	}

	// The parent's side of each foreign key: its referenced columns.
	for _, rf := range refs {
		if ptk := ws[rf.parent]; ptk != nil {
			ptk.addColumn(rf.child, ordinal(ctx, c, rf.pdb, rf.ptable, rf.pcol))
		}
	}

	return nil
}

// writeSet is what one transaction touches.
type writeSet struct {
	keys []string
	// whole are the tables it conflicts on as a whole; tables are every
	// table it changes.
	whole  []string
	tables []string
}

// writeSetOf turns a transaction's decoded rows into keys.
func (ws writeSchema) writeSetOf(changes []rowChange) writeSet {
	var set writeSet

	seen := map[string]bool{}

	for _, ch := range changes {
		name := tableName(ch.db, ch.table)
		tk := ws[name]

		if !seen[name] {
			seen[name] = true
			set.tables = append(set.tables, name)
		}

		if tk == nil || tk.whole || tk.columns != ch.columns {
			set.whole = append(set.whole, name)
			continue
		}

		for i, row := range ch.rows {
			var skipped []int
			if i < len(ch.skipped) {
				skipped = ch.skipped[i]
			}

			if !tk.rowKeys(row, skipped, &set.keys) {
				set.whole = append(set.whole, name)
				break
			}
		}
	}

	return set
}

// rowKeys appends one row image's keys; false when a key column is not in
// the image (a minimal row image), so the table counts as a whole.
func (tk *tableKeys) rowKeys(row []any, skipped []int, out *[]string) bool {
	var b strings.Builder

	for _, k := range tk.keys {
		b.Reset()
		b.WriteString(k.name)

		null := false

		for _, col := range k.cols {
			if col < 0 || col >= len(row) || contains(skipped, col) {
				return false
			}

			if row[col] == nil {
				null = true
				break
			}

			b.WriteByte(0)
			b.WriteString(keyValue(row[col]))
		}

		// NULLs never collide in a unique key, nor reference a parent.
		if !null {
			*out = append(*out, b.String())
		}
	}

	return true
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}

	return false
}

// keyValue is a value as a key compares it. Strings are folded to lower
// case without trailing spaces, as the usual collations compare them: a
// fold that misses an equality (an accent-insensitive one) costs a retry,
// since the server's locks and unique checks still order the two.
func keyValue(v any) string {
	switch x := v.(type) {
	case string:
		return strings.ToLower(strings.TrimRight(x, " "))
	case []byte:
		return strings.ToLower(strings.TrimRight(string(x), " "))
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	}

	return fmt.Sprint(v)
}

// tracker finds each transaction's latest earlier conflicting one: with
// commits in order, waiting for that one is waiting for all of them.
type tracker struct {
	last   map[string]*ptxn
	whole  map[string]*ptxn
	shared map[string]*ptxn
}

func newTracker() *tracker {
	return &tracker{last: map[string]*ptxn{}, whole: map[string]*ptxn{}, shared: map[string]*ptxn{}}
}

// trackLimit is how many keys the tracker holds before it forgets those of
// committed transactions.
const trackLimit = 1 << 16

// later is the later of a and b, leaving out t itself (a key it touches
// twice).
func later(t, a, b *ptxn) *ptxn {
	if b == t {
		return a
	}

	if a == nil || b != nil && b.seq > a.seq {
		return b
	}

	return a
}

// depend sets t.dep from its write set and records t as the latest writer.
func (tr *tracker) depend(t *ptxn, set writeSet) {
	var dep *ptxn

	isWhole := map[string]bool{}
	for _, name := range set.whole {
		isWhole[name] = true
	}

	for _, k := range set.keys {
		dep = later(t, dep, tr.last[k])
		tr.last[k] = t
	}

	for _, name := range set.tables {
		dep = later(t, dep, tr.whole[name])

		if isWhole[name] {
			// Every earlier change to the table, row-keyed or not.
			dep = later(t, dep, tr.shared[name])
			tr.whole[name] = t
		}

		tr.shared[name] = t
	}

	if dep != nil && !dep.committed() {
		t.dep = dep
	}

	if len(tr.last) > trackLimit {
		for k, p := range tr.last {
			if p.committed() {
				delete(tr.last, k)
			}
		}
	}
}
