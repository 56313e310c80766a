package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"strings"
)

// Meta is what a backup records for restore, verification and point-in-time
// recovery. It is stored as a label of the snapshot and as _meta.json in it.
type Meta struct {
	ServerVersion string `json:"server_version"`
	SQLMode       string `json:"sql_mode"`
	BinlogFile    string `json:"binlog_file,omitempty"`
	BinlogPos     uint64 `json:"binlog_pos,omitempty"`
	GTID          string `json:"gtid,omitempty"`
	// ConsistentAt is the server's UTC time at the consistent point.
	ConsistentAt string `json:"consistent_at"`
	// LockedMillis is how long writes were blocked to reach the consistent point.
	LockedMillis int64       `json:"locked_ms"`
	Databases    []*Database `json:"databases"`
	// Accounts are the server's users and grants, kept when the source says
	// accounts: true, so a blank server can be rebuilt.
	Accounts []*Account `json:"accounts,omitempty"`
}

// Account is one user with its grants, as the server prints them.
type Account struct {
	User   string   `json:"user"`
	Host   string   `json:"host"`
	Create string   `json:"create"`
	Grants []string `json:"grants"`
}

// readAccounts reads every account but the server's own.
func readAccounts(ctx context.Context, q querier) ([]*Account, error) {
	const list = "SELECT User, Host FROM mysql.user WHERE User <> '' AND User NOT IN ('root', 'mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'PUBLIC')"

	// MariaDB keeps roles in mysql.user too; SHOW CREATE USER refuses them.
	rows, err := q.QueryContext(ctx, list+" AND is_role = 'N' ORDER BY User, Host")
	if err != nil {
		rows, err = q.QueryContext(ctx, list+" ORDER BY User, Host")
	}

	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}

	var out []*Account

	for rows.Next() {
		a := &Account{}
		if err := rows.Scan(&a.User, &a.Host); err != nil {
			rows.Close()
			return nil, err
		}

		out = append(out, a)
	}

	rows.Close()

	for _, a := range out {
		// Quoted as names: a string's escapes depend on the server's
		// NO_BACKSLASH_ESCAPES, a quoted name's do not.
		who := quoteIdent(a.User) + "@" + quoteIdent(a.Host)

		if err := q.QueryRowContext(ctx, "SHOW CREATE USER "+who).Scan(&a.Create); err != nil {
			return nil, fmt.Errorf("show create user %s: %w", who, err)
		}

		grants, err := strings1(ctx, q, "SHOW GRANTS FOR "+who)
		if err != nil {
			return nil, fmt.Errorf("show grants for %s: %w", who, err)
		}

		a.Grants = grants
	}

	return out, rows.Err()
}

// Database is one backed-up database.
type Database struct {
	Name      string    `json:"name"`
	Charset   string    `json:"charset"`
	Collation string    `json:"collation"`
	Tables    []*Table  `json:"tables"`
	Objects   []*Object `json:"objects"`
	// Dir is the folder of the snapshot holding the tables' data, when it
	// differs from Name (see fileName; earlier backups used the name).
	Dir string `json:"dir,omitempty"`
	// live is the name the data is read from when it differs from Name
	// (an import dumps a scratch database under the name it will restore as).
	live string
}

func (d *Database) liveName() string {
	if d.live != "" {
		return d.live
	}

	return d.Name
}

// dir is the folder of the snapshot that holds the database's tables.
func (d *Database) dir() string {
	if d.Dir != "" {
		return d.Dir
	}

	return d.Name
}

// Table is one base table.
type Table struct {
	Name   string   `json:"name"`
	Engine string   `json:"engine"`
	Create string   `json:"create"`
	Cols   []Column `json:"columns"`
	PK     []string `json:"pk,omitempty"`
	// Bounds split a big table into primary-key ranges dumped and loaded in
	// parallel: chunk i holds Bounds[i] <= pk < Bounds[i+1].
	Bounds []int64 `json:"bounds,omitempty"`
	// Rows and Checksum are computed over the rows as they were dumped.
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
	// File names the table's data files, when it differs from Name (see
	// fileName; earlier backups used the name).
	File string `json:"file,omitempty"`
}

// nameFiles records the file names the data of every table of db is stored
// under, so no name can reach outside its folder or clash with another.
func nameFiles(db *Database) {
	if f := fileName(db.Name); f != db.Name {
		db.Dir = f
	}

	for _, t := range db.Tables {
		if f := fileName(t.Name); f != t.Name {
			t.File = f
		}
	}
}

// Column is a stored (not generated) column and how its values are written.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// chunkRows is about how many rows one chunk of a big table holds (a
// variable so tests can chunk small tables).
var chunkRows int64 = 500_000

// Files lists the table's data files in db's folder, in order.
func (t *Table) Files(db *Database) []string {
	name := t.Name
	if t.File != "" {
		name = t.File
	}

	if len(t.Bounds) < 2 {
		return []string{path.Join(db.dir(), name+".sql")}
	}

	out := make([]string, len(t.Bounds)-1)
	for i := range out {
		out[i] = path.Join(db.dir(), fmt.Sprintf("%s.%04d.sql", name, i))
	}

	return out
}

// planChunks splits a big table with a single integer primary key into
// ranges of about chunkRows rows. It runs under the lock, so the range is the
// one every worker's snapshot sees.
func planChunks(ctx context.Context, q querier, db string, t *Table) error {
	if len(t.PK) != 1 || !t.transactional() {
		return nil
	}

	var pkType string

	for _, c := range t.Cols {
		if c.Name == t.PK[0] {
			pkType = c.Type
		}
	}

	switch pkType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
	default:
		return nil
	}

	var est int64
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, t.Name).Scan(&est); err != nil {
		return err
	}

	if est < 2*chunkRows {
		return nil
	}

	var lo, hi sql.NullInt64

	pk := quoteIdent(t.PK[0])
	if err := q.QueryRowContext(ctx, "SELECT MIN("+pk+"), MAX("+pk+") FROM "+quoteIdent(db)+"."+quoteIdent(t.Name)).Scan(&lo, &hi); err != nil {
		return err
	}

	if !lo.Valid || hi.Int64 <= lo.Int64 {
		return nil
	}

	n := (est + chunkRows - 1) / chunkRows
	step := (hi.Int64 - lo.Int64 + 1 + n - 1) / n

	for b := lo.Int64; b <= hi.Int64; b += step {
		t.Bounds = append(t.Bounds, b)
	}

	t.Bounds = append(t.Bounds, hi.Int64+1)

	return nil
}

// Object is a view, routine, trigger or event, with the session settings it
// was created under.
type Object struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Table is the table a trigger belongs to.
	Table     string `json:"table,omitempty"`
	Create    string `json:"create"`
	SQLMode   string `json:"sql_mode"`
	Charset   string `json:"charset,omitempty"`
	Collation string `json:"collation,omitempty"`
}

// Object kinds, in the order a restore creates them.
var objectKinds = []string{"view", "function", "procedure", "trigger", "event"}

func (t *Table) transactional() bool {
	switch strings.ToLower(t.Engine) {
	case "innodb", "rocksdb", "tokudb", "xtradb":
		return true
	}

	return false
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// userDatabases lists the databases to back up: the configured ones, which
// must exist, or every database but the server's own.
func userDatabases(ctx context.Context, q querier, wanted []string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	have := map[string]bool{}

	var all []string

	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}

		have[n] = true

		switch n {
		case "information_schema", "performance_schema", "mysql", "sys":
		default:
			all = append(all, n)
		}
	}

	if err := rows.Err(); err != nil {
		return nil, err
	}

	if len(wanted) == 0 {
		return all, nil
	}

	for _, w := range wanted {
		if !have[w] {
			return nil, fmt.Errorf("database %q does not exist on the server (it has: %s): check the source's databases", w, strings.Join(all, ", "))
		}
	}

	return wanted, nil
}

// readSchema captures a database's definition. It runs while writes are
// blocked, so the definitions match the data of the consistent point.
func readSchema(ctx context.Context, q querier, name string) (*Database, error) {
	db := &Database{Name: name}

	// With the database current, SHOW CREATE leaves references inside it
	// unqualified, so a restore under another name refers to itself.
	if _, err := q.ExecContext(ctx, "USE "+quoteIdent(name)); err != nil {
		return nil, fmt.Errorf("use %s: %w", name, err)
	}

	err := q.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).
		Scan(&db.Charset, &db.Collation)
	if err != nil {
		return nil, fmt.Errorf("read database %s: %w", name, err)
	}

	rows, err := q.QueryContext(ctx, "SELECT TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, '') FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", name)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", name, err)
	}

	var views []string

	for rows.Next() {
		var n, typ, engine string
		if err := rows.Scan(&n, &typ, &engine); err != nil {
			rows.Close()
			return nil, err
		}

		switch typ {
		case "VIEW":
			views = append(views, n)
		case "BASE TABLE":
			db.Tables = append(db.Tables, &Table{Name: n, Engine: engine})
		}
	}

	rows.Close()

	if err := rows.Err(); err != nil {
		return nil, err
	}

	for _, t := range db.Tables {
		if err := readTable(ctx, q, name, t); err != nil {
			return nil, err
		}
	}

	for _, v := range views {
		o, err := showCreate(ctx, q, "view", name, v)
		if err != nil {
			return nil, err
		}

		db.Objects = append(db.Objects, o)
	}

	// Each listing gives a trigger's table and the object's name.
	for _, kind := range []struct{ kind, query string }{
		{"function", "SELECT '', ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'FUNCTION' ORDER BY ROUTINE_NAME"},
		{"procedure", "SELECT '', ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'PROCEDURE' ORDER BY ROUTINE_NAME"},
		{"trigger", "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER"},
		{"event", "SELECT '', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME"},
	} {
		names, err := pairs(ctx, q, kind.query, name)
		if err != nil {
			return nil, fmt.Errorf("list %ss of %s: %w", kind.kind, name, err)
		}

		for _, n := range names {
			o, err := showCreate(ctx, q, kind.kind, name, n[1])
			if err != nil {
				return nil, err
			}

			o.Table = n[0]

			db.Objects = append(db.Objects, o)
		}
	}

	return db, nil
}

func readTable(ctx context.Context, q querier, db string, t *Table) error {
	var ignored string
	if err := q.QueryRowContext(ctx, "SHOW CREATE TABLE "+quoteIdent(db)+"."+quoteIdent(t.Name)).Scan(&ignored, &t.Create); err != nil {
		return fmt.Errorf("show create table %s.%s: %w", db, t.Name, err)
	}

	// A generated column has a generation expression (MySQL 8's EXTRA also
	// says DEFAULT_GENERATED for plain DEFAULT CURRENT_TIMESTAMP columns,
	// which must be kept).
	rows, err := q.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE, COALESCE(GENERATION_EXPRESSION, '') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", db, t.Name)
	if err != nil {
		return fmt.Errorf("columns of %s.%s: %w", db, t.Name, err)
	}
	defer rows.Close()

	for rows.Next() {
		var c Column

		var genExpr string
		if err := rows.Scan(&c.Name, &c.Type, &genExpr); err != nil {
			return err
		}

		// Generated columns are computed by the server on insert; writing
		// them is an error, so they are neither dumped nor loaded.
		if genExpr != "" {
			continue
		}

		c.Type = strings.ToLower(c.Type)
		t.Cols = append(t.Cols, c)
	}

	if err := rows.Err(); err != nil {
		return err
	}

	t.PK, err = strings1(ctx, q, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX", db, t.Name)
	if err != nil {
		return err
	}

	return planChunks(ctx, q, db, t)
}

// showCreate reads an object's definition with the settings it was created under.
func showCreate(ctx context.Context, q querier, kind, db, name string) (*Object, error) {
	o := &Object{Kind: kind, Name: name}
	stmt := fmt.Sprintf("SHOW CREATE %s %s.%s", strings.ToUpper(kind), quoteIdent(db), quoteIdent(name))

	rows, err := q.QueryContext(ctx, stmt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stmt, err)
	}
	defer rows.Close()

	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}

	if !rows.Next() {
		return nil, fmt.Errorf("%s: no result", stmt)
	}

	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))

	for i := range vals {
		ptrs[i] = &vals[i]
	}

	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("%s: %w", stmt, err)
	}

	for i, c := range cols {
		v := vals[i].String

		switch strings.ToLower(c) {
		case "create view", "create function", "create procedure", "sql original statement", "create event":
			o.Create = v
		case "sql_mode":
			o.SQLMode = v
		case "character_set_client":
			o.Charset = v
		case "collation_connection":
			o.Collation = v
		}
	}

	if o.Create == "" {
		return nil, fmt.Errorf("%s: the definition is hidden: the backup user needs SHOW VIEW, TRIGGER, EVENT and SELECT on mysql.proc (or SHOW CREATE ROUTINE) to read it", stmt)
	}

	return o, rows.Err()
}

func strings1(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var out []string

	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}

		out = append(out, s)
	}

	return out, rows.Err()
}

// pairs returns the two columns of every row of a query.
func pairs(ctx context.Context, q querier, query string, args ...any) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var out [][2]string

	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}

		out = append(out, p)
	}

	return out, rows.Err()
}
