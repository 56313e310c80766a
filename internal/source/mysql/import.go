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

	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

var (
	useStmt      = regexp.MustCompile("(?i)^USE\\s+`?([^`;\\s]+)`?\\s*;?$")
	createDBStmt = regexp.MustCompile("(?i)^(/\\*!\\d+\\s+)?CREATE\\s+DATABASE\\b.*?`([^`]+)`")
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
	defer c.Close()

	defer pool.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(scratch)) //nolint:errcheck

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

	err = splitStatements(file, func(line int, stmt string) error {
		if m := dumpHeader.FindStringSubmatch(stmt); m != nil && seenDB == "" {
			seenDB = m[1]
			return nil
		}

		if strings.HasPrefix(stmt, "--") {
			return nil
		}

		if m := createDBStmt.FindStringSubmatch(stmt); m != nil {
			return noteDB(&seenDB, m[2], line)
		}

		if m := useStmt.FindStringSubmatch(strings.TrimSpace(stmt)); m != nil {
			return noteDB(&seenDB, m[1], line)
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
// literal on one line, so a statement ends where a line ends in the delimiter.
func splitStatements(r io.Reader, fn func(line int, stmt string) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	delim := ";"

	var (
		cur   strings.Builder
		start int
	)

	for line := 1; ; line++ {
		text, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}

		trimmed := strings.TrimSpace(text)

		switch {
		case cur.Len() == 0 && strings.HasPrefix(trimmed, "-- Host:"):
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

			if strings.HasSuffix(trimmed, delim) {
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
