package mysql

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

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
// dropped. The file is read as a stream, one statement at a time.
func (s *Source) Import(ctx context.Context, r *repo.Repository, file io.Reader, fileName, dbName string, opt source.BackupOptions) (*repo.Snapshot, error) {
	name, my := s.cfg.Name, s.cfg.MySQL

	pool, err := connect(ctx, name, my, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	rnd := make([]byte, 4)
	rand.Read(rnd)
	scratch := "lifeboat_import_" + hex.EncodeToString(rnd)

	c, err := pool.Conn(ctx)
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

	defer func() {
		release()
		pool.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(scratch)) //nolint:errcheck
	}()

	if _, err := c.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil && opt.Log != nil {
		opt.Log.Warn("cannot keep the import out of the binlog (needs BINLOG ADMIN or SUPER): replicas will see the scratch database", "source", name)
	}

	for _, stmt := range []string{"CREATE DATABASE " + quoteIdent(scratch) + " CHARACTER SET utf8mb4", "USE " + quoteIdent(scratch)} {
		if _, err := c.ExecContext(ctx, stmt); err != nil {
			return nil, explain(name, my, err)
		}
	}

	seenDB := ""
	n := 0
	complete := false

	var dumpedAt time.Time

	err = splitStatements(file, func(line int, stmt string) error {
		if m := dumpHeader.FindStringSubmatch(stmt); m != nil && seenDB == "" {
			seenDB = m[1]
			return nil
		}

		if strings.HasPrefix(stmt, "-- Dump completed") || strings.HasPrefix(stmt, "-- end of export") {
			complete = true

			// mysqldump writes its host's local time.
			if t, err := time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSpace(strings.TrimPrefix(stmt, "-- Dump completed on")), time.Local); err == nil {
				dumpedAt = t
			}

			return nil
		}

		if rest, ok := strings.CutPrefix(stmt, "-- Consistent at "); ok {
			if t, err := time.Parse(time.RFC3339Nano, strings.Fields(rest)[0]); err == nil {
				dumpedAt = t
			}

			return nil
		}

		if strings.HasPrefix(stmt, "--") {
			return nil
		}

		if m := createDBStmt.FindStringIndex(stmt); m != nil {
			return noteDB(&seenDB, unquoteIdent(stmt[m[1]-1:]), line)
		}

		if m := useStmt.FindStringSubmatch(strings.TrimSpace(stmt)); m != nil {
			return noteDB(&seenDB, unquoteIdent(m[1]), line)
		}

		skip, err := importAllowed(stmt)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}

		if skip {
			return nil
		}

		n++

		if _, err := c.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s line %d: %w", fileName, line, err)
		}

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import %s: %w: nothing was saved", fileName, err)
	}

	if n == 0 {
		return nil, fmt.Errorf("import %s: no SQL statements in it: is it a mysqldump file?", fileName)
	}

	if !complete {
		return nil, fmt.Errorf("import %s: it does not end with mysqldump's \"-- Dump completed\" line, so it may be truncated: nothing was saved", fileName)
	}

	release()

	if dbName == "" {
		dbName = seenDB
	}

	if dbName == "" && len(my.Databases) == 1 {
		dbName = my.Databases[0]
	}

	if dbName == "" {
		return nil, fmt.Errorf("import %s: the file does not name its database: pass --database NAME", fileName)
	}

	opt.Extra = map[string]string{"imported-from": fileName}
	opt.At = dumpedAt

	return s.backup(ctx, r, []string{scratch}, repo.RoleBackup, opt, map[string]string{scratch: dbName})
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
		if strings.Contains(u, "GTID_PURGED") {
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
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}

	return s[:n] + "..."
}
