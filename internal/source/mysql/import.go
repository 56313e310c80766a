package mysql

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

var (
	useStmt      = regexp.MustCompile("(?is)^USE\\s+(`.*`|[^`;\\s]+)\\s*;?$")
	createDBStmt = regexp.MustCompile("(?i)^(/\\*!\\d+\\s+)?CREATE\\s+DATABASE\\b[^`]*`")
	dumpHeader   = regexp.MustCompile(`^-- Host: .*Database: (\S+)`)
)

// Import takes an existing mysqldump/mariadb-dump file into the repository as a
// full backup of database dbName ("" to read the name from the file): the file
// is loaded into a scratch database on the source's server, dumped from there
// with counts and checksums like any backup, and the scratch database is
// dropped. The file is read as a stream, one statement at a time, and runs
// as a temporary account that can reach only the scratch database, so the
// server refuses whatever in it names another database.
func (s *Source) Import(ctx context.Context, r *repo.Repository, file io.Reader, fileName, dbName string, opt source.BackupOptions) (*repo.Snapshot, error) {
	name, my := s.cfg.Name, s.cfg.MySQL

	if dbName != "" {
		if err := checkTarget(dbName, "--database"); err != nil {
			return nil, fmt.Errorf("import %s: %w", fileName, err)
		}
	}

	pool, err := connect(ctx, name, my, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	rnd := make([]byte, 4)
	rand.Read(rnd)

	imp := &imported{scratch: "lifeboat_import_" + hex.EncodeToString(rnd), definers: map[string]string{}}

	// Objects the file creates without a definer were, before, created by
	// the source's user: they keep it.
	var me string
	if err := pool.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&me); err != nil {
		return nil, explain(name, my, err)
	}

	imp.importer = definerOf(me)

	// The scratch database, the account and everything the file does are
	// binlogged alike: the account cannot turn the binlog off, and replicas
	// must see the database it fills.
	if _, err := pool.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(imp.scratch)+" CHARACTER SET utf8mb4"); err != nil {
		return nil, explain(name, my, err)
	}

	defer pool.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(imp.scratch)) //nolint:errcheck

	acct, err := confine(ctx, pool, name, my, imp.scratch, "ALL PRIVILEGES")
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", fileName, err)
	}
	defer acct.close()

	imp.tmpDefiner = acct.Definer

	c, err := acct.DB.Conn(ctx)
	if err != nil {
		return nil, explain(name, my, err)
	}

	// The file's LOCK TABLES must be released and its connection closed
	// before the scratch database is dumped or dropped, or both would wait
	// on them forever.
	release := func() {
		if c != nil {
			c.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck
			c.Close()
			c = nil
		}
	}
	defer release()

	l := &importLoad{imp: imp, admin: pool, c: c, fileName: fileName}

	err = splitStatements(file, func(line int, stmt string) error { return l.statement(ctx, line, stmt) })
	if err != nil {
		return nil, fmt.Errorf("import %s: %w: nothing was saved", fileName, err)
	}

	if l.statements == 0 {
		return nil, fmt.Errorf("import %s: no SQL statements in it: is it a mysqldump file?", fileName)
	}

	if !l.complete {
		return nil, fmt.Errorf("import %s: it does not end with mysqldump's \"-- Dump completed\" line, so it may be truncated: nothing was saved", fileName)
	}

	release()

	if dbName == "" {
		dbName = l.seenDB
	}

	if dbName == "" && len(my.Databases) == 1 {
		dbName = my.Databases[0]
	}

	if dbName == "" {
		return nil, fmt.Errorf("import %s: the file does not name its database: pass --database NAME", fileName)
	}

	if err := checkTarget(dbName, "--database"); err != nil {
		return nil, fmt.Errorf("import %s: the file holds database %s; %w", fileName, dbName, err)
	}

	// The snapshot is dated by the dump, and restores exactly that instant.
	dumpedAt := l.dumpedAt
	if dumpedAt.IsZero() {
		dumpedAt = s.clock(r).Now()
	}

	imp.as, imp.at = dbName, dumpedAt.UTC()
	opt.Extra = map[string]string{importedLabel: fileName}
	opt.At = imp.at

	return s.backup(ctx, r, []string{imp.scratch}, repo.RoleBackup, opt, imp)
}

// importLoad runs an import's file, one statement at a time, on the
// confined connection c, and notes what the file says about itself.
type importLoad struct {
	imp      *imported
	admin    *sql.DB
	c        *sql.Conn
	fileName string

	// seenDB is the database the file names, statements how many it ran,
	// complete whether it ends as a whole dump does, and dumpedAt when
	// the dump was taken, when the file says.
	seenDB     string
	statements int
	complete   bool
	dumpedAt   time.Time
}

// statement handles the file's statement at line.
func (l *importLoad) statement(ctx context.Context, line int, stmt string) error {
	if l.comment(stmt) {
		return nil
	}

	if m := createDBStmt.FindStringIndex(stmt); m != nil {
		return noteDB(&l.seenDB, unquoteIdent(stmt[m[1]-1:]), line)
	}

	if m := useStmt.FindStringSubmatch(strings.TrimSpace(stmt)); m != nil {
		return noteDB(&l.seenDB, unquoteIdent(m[1]), line)
	}

	skip, err := importAllowed(stmt)
	if err != nil {
		return fmt.Errorf("line %d: %w", line, err)
	}

	if skip {
		return nil
	}

	l.statements++

	_, err = l.c.ExecContext(ctx, l.imp.definer(stmt))
	if needsAdmin(err) {
		err = l.imp.createAsAdmin(ctx, l.admin, l.c, stmt)
	}

	if err != nil {
		if deniedElsewhere(err) {
			return fmt.Errorf("%s line %d: %q (or a trigger it fires) reaches outside the scratch database the import is confined to, and the server refused it (%s): an import takes one database's definitions and rows; nothing outside the scratch database was changed", l.fileName, line, truncate(strings.TrimSpace(stmt), 100), errText(err))
		}

		return fmt.Errorf("%s line %d: %w", l.fileName, line, err)
	}

	return nil
}

// comment reports whether stmt is a comment, noting what the dump's header
// and trailer say: the database, and that and when the dump completed.
func (l *importLoad) comment(stmt string) bool {
	if m := dumpHeader.FindStringSubmatch(stmt); m != nil && l.seenDB == "" {
		l.seenDB = m[1]
		return true
	}

	if strings.HasPrefix(stmt, "-- Dump completed") || strings.HasPrefix(stmt, "-- end of export") {
		l.complete = true

		// mysqldump writes its host's local time.
		if t, err := time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSpace(strings.TrimPrefix(stmt, "-- Dump completed on")), time.Local); err == nil {
			l.dumpedAt = t
		}

		return true
	}

	if rest, ok := strings.CutPrefix(stmt, "-- Consistent at "); ok {
		if t, err := time.Parse(time.RFC3339Nano, strings.Fields(rest)[0]); err == nil {
			l.dumpedAt = t
		}

		return true
	}

	return strings.HasPrefix(stmt, "--")
}

// importedLabel names the file an imported full was taken from.
const importedLabel = "imported-from"

// imported is how an import's scratch database is recorded.
type imported struct {
	scratch, as string
	// at is when the file was dumped.
	at time.Time
	// tmpDefiner is the confined account, which the file's objects were
	// created as; definers are the definers the file gave them, by
	// kind/name, and importer the source's user, for those it gave none.
	tmpDefiner string
	definers   map[string]string
	importer   string
}

// record rewrites what the scratch database's dump recorded into what the
// file held: the database's name, its objects' definers, and its time. The
// server's binlog position at the import is no position of the file's data,
// so none is recorded: the import is not a base for binlog replay.
func (imp *imported) record(m *Meta) {
	m.BinlogFile, m.BinlogPos, m.GTID = "", 0, ""
	m.ConsistentAt = imp.at.Format(time.RFC3339Nano)

	for _, db := range m.Databases {
		if db.Name != imp.scratch {
			continue
		}

		db.live, db.Name = db.Name, imp.as

		for _, o := range db.Objects {
			def, ok := imp.definers[o.Kind+"/"+o.Name]
			if !ok {
				def = imp.importer
			}

			o.Create = strings.Replace(o.Create, "DEFINER="+imp.tmpDefiner, "DEFINER="+def, 1)
		}
	}
}

var (
	definerClause = regexp.MustCompile("(?i)\\bDEFINER\\s*=\\s*(?:CURRENT_USER(?:\\s*\\(\\s*\\))?|(" + sqlName + ")(?:\\s*@\\s*(" + sqlName + "))?)")
	objectName    = regexp.MustCompile("(?i)\\b(VIEW|TRIGGER|PROCEDURE|FUNCTION|EVENT)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(?:(?:" + identName + ")\\s*\\.\\s*)?(" + identName + ")")
)

// identName is a quoted or bare identifier.
const identName = "`(?:[^`]|``)*`|[A-Za-z0-9_$]+"

// sqlName is a quoted or bare identifier, user or host name.
const sqlName = "`(?:[^`]|``)*`|'(?:[^'\\\\]|\\\\.|'')*'|\"(?:[^\"\\\\]|\\\\.)*\"|[A-Za-z0-9_$.%:-]+"

// definer makes a CREATE or ALTER statement define its object as the
// confined account (no other definer is allowed to it, and an object run as
// another account would escape the confinement), and remembers the definer
// the file gave, for the snapshot.
func (imp *imported) definer(stmt string) string {
	s := strings.TrimSpace(stmt)
	if m := versionComment.FindStringIndex(s); m != nil {
		s = s[m[1]:]
	}

	if kw := leadingWord.FindString(strings.ToUpper(s)); kw != "CREATE" && kw != "ALTER" {
		return stmt
	}

	obj := objectName.FindStringSubmatchIndex(stmt)
	if obj == nil {
		return stmt
	}

	key := strings.ToLower(stmt[obj[2]:obj[3]]) + "/" + unquoteName(stmt[obj[4]:obj[5]])

	clause := definerClause.FindStringSubmatchIndex(stmt)
	if clause == nil || clause[0] > obj[0] {
		delete(imp.definers, key)
		return stmt
	}

	switch {
	case clause[2] < 0:
		imp.definers[key] = imp.importer
	case clause[4] < 0:
		imp.definers[key] = quoteIdent(unquoteName(stmt[clause[2]:clause[3]]))
	default:
		imp.definers[key] = quoteIdent(unquoteName(stmt[clause[2]:clause[3]])) + "@" + quoteIdent(unquoteName(stmt[clause[4]:clause[5]]))
	}

	return stmt[:clause[0]] + "DEFINER=CURRENT_USER" + stmt[clause[1]:]
}

// unquoteName reads an identifier or account name as the server would.
func unquoteName(s string) string {
	if len(s) < 2 {
		return s
	}

	switch q := s[0]; q {
	case '`':
		return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	case '\'', '"':
		var b strings.Builder

		in := s[1 : len(s)-1]
		for i := 0; i < len(in); i++ {
			switch {
			case in[i] == '\\' && i+1 < len(in):
				i++
				b.WriteByte(in[i])
			case in[i] == q && i+1 < len(in) && in[i+1] == q:
				i++
				b.WriteByte(q)
			default:
				b.WriteByte(in[i])
			}
		}

		return b.String()
	}

	return s
}

// definerOf turns CURRENT_USER()'s user@host into `user`@`host`.
func definerOf(account string) string {
	i := strings.LastIndexByte(account, '@')
	if i < 0 {
		return quoteIdent(account)
	}

	return quoteIdent(account[:i]) + "@" + quoteIdent(account[i+1:])
}

// errText is the server's message without the driver's prefix.
func errText(err error) string {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		return me.Message
	}

	return err.Error()
}

func noteDB(seen *string, db string, line int) error {
	if *seen != "" && *seen != db {
		return fmt.Errorf("line %d: the file holds several databases (%s and %s): import one database per file", line, *seen, db)
	}

	*seen = db

	return nil
}

// splitStatements reads a dump script statement by statement, honouring
// DELIMITER lines as the stock client does. mysqldump writes every row
// literal on one line, so a statement ends where a line ends in the delimiter,
// outside a quoted name or string (a name may hold a line break and a ';').
func splitStatements(r io.Reader, fn func(line int, stmt string) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	delim := ";"

	var (
		cur   strings.Builder
		start int
		// state is where the statement so far ends: in a quote or not.
		state byte
	)

	for line := 1; ; line++ {
		text, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}

		trimmed := strings.TrimSpace(text)

		switch {
		case cur.Len() == 0 && strings.HasPrefix(trimmed, "/*M!999999"):
			// mariadb-dump's sandbox-mode marker: a comment with no ';'.
		case cur.Len() == 0 && (strings.HasPrefix(trimmed, "-- Host:") || strings.HasPrefix(trimmed, "-- Dump completed") ||
			strings.HasPrefix(trimmed, "-- end of export") || strings.HasPrefix(trimmed, "-- Consistent at ")):
			if ferr := fn(line, trimmed); ferr != nil {
				return ferr
			}
		case cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "--")):
		case cur.Len() == 0 && strings.HasPrefix(strings.ToUpper(trimmed), "DELIMITER "):
			delim = strings.TrimSpace(trimmed[len("DELIMITER "):])
		default:
			if cur.Len() == 0 {
				start = line
			}

			cur.WriteString(text)

			if state = scanSQL(text, state, func(int) bool { return true }); state == inLineComment {
				state = 0 // a comment ends with its line, at EOF too
			}

			if state == 0 && strings.HasSuffix(trimmed, delim) {
				stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), delim)
				cur.Reset()

				if ferr := fn(start, stmt); ferr != nil {
					return ferr
				}
			}
		}

		if errors.Is(err, io.EOF) {
			if rest := strings.TrimSpace(cur.String()); rest != "" {
				return fn(start, rest)
			}

			return nil
		}
	}
}

// importAllowed admits only what a dump of one database needs: session
// settings, table and object definitions and rows. A dump can also carry
// statements that act on the whole server (CHANGE MASTER from --master-data,
// SET GLOBAL ..., users); run on the source server, those would harm it, so
// they are refused. skip is true for statements about the original database
// itself (DROP DATABASE from --add-drop-database, SET @@GLOBAL.GTID_PURGED),
// which an import into a scratch database leaves out.
func importAllowed(stmt string) (skip bool, err error) {
	s := strings.TrimSpace(stmt)

	// Unwrap a leading version comment: /*!40101 SET ... */, /*M!100101 ... */
	if m := versionComment.FindStringIndex(s); m != nil {
		s = strings.TrimSpace(s[m[1]:])
	}

	u := strings.ToUpper(s)
	kw := leadingWord.FindString(u)
	rest := strings.Fields(strings.TrimPrefix(u, kw))
	next := ""

	if len(rest) > 0 {
		next = leadingWord.FindString(rest[0])
	}

	refuse := fmt.Errorf("refusing %q: an import runs only one database's definitions and rows", truncate(s, 60))

	switch kw {
	case "INSERT", "REPLACE", "LOCK", "UNLOCK", "COMMIT", "START", "BEGIN":
		return false, nil
	case "SET":
		// The import's binlog is Lifeboat's to decide (and the confined
		// account may not switch it).
		if strings.Contains(u, "GTID_PURGED") || setsLogBin.MatchString(u) {
			return true, nil
		}

		if strings.Contains(u, "GLOBAL") || strings.Contains(u, "PASSWORD") {
			return false, refuse
		}

		return false, nil
	case "DROP":
		if next == "DATABASE" || next == "SCHEMA" {
			return true, nil
		}

		if next == "USER" || next == "ROLE" || next == "SERVER" {
			return false, refuse
		}

		return false, nil
	case "CREATE", "ALTER":
		if next == "USER" || next == "ROLE" || next == "SERVER" || next == "DATABASE" || next == "SCHEMA" || next == "INSTANCE" {
			return false, refuse
		}

		return false, nil
	}

	return false, fmt.Errorf("refusing a %s statement: an import runs only one database's definitions and rows", kw)
}

var (
	versionComment = regexp.MustCompile(`^/\*M?!\d*\s*`)
	leadingWord    = regexp.MustCompile(`^[A-Z_]+`)
	setsLogBin     = regexp.MustCompile(`SQL_LOG_BIN\s*=`)
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}

	return s[:n] + "..."
}
