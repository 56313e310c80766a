package mysql

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strings"

	driver "github.com/go-sql-driver/mysql"
)

// needsAdmin reports the server's refusal to let an account without SUPER
// create a trigger or function while the binlog is on.
func needsAdmin(err error) bool {
	var me *driver.MySQLError

	return errors.As(err, &me) && (me.Number == 1419 || me.Number == 1418)
}

// adminDDL is the only shape of trigger or function an import creates
// through the source's own account: its name, and a trigger's table,
// unqualified, so it can only land in the scratch database.
var adminDDL = regexp.MustCompile("(?is)^\\s*CREATE\\s+(OR\\s+REPLACE\\s+)?(?:DEFINER\\s*=\\s*(?:CURRENT_USER(?:\\s*\\(\\s*\\))?|(?:" + sqlName + ")(?:\\s*@\\s*(?:" + sqlName + "))?)\\s+)?" +
	"(TRIGGER\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(?:" + identName + ")\\s+(?:BEFORE|AFTER)\\s+(?:INSERT|UPDATE|DELETE)\\s+ON\\s+(?:" + identName + ")\\s+FOR\\s+EACH\\s+ROW\\s" +
	"|(?:AGGREGATE\\s+)?FUNCTION\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(?:" + identName + ")\\s*\\()")

// adminDrop is the only shape of DROP TRIGGER or DROP FUNCTION an import
// runs through the source's own account (the server wants SUPER for it as
// for CREATE while the binlog is on): an unqualified name, in the scratch
// database.
var adminDrop = regexp.MustCompile("(?is)^\\s*DROP\\s+(?:TRIGGER|FUNCTION)\\s+(?:IF\\s+EXISTS\\s+)?(?:" + identName + ")\\s*$")

// createAsAdmin creates a trigger or function the confined account may not
// (the server wants SUPER for them while the binlog is on) through the
// source's account, in the scratch database, with the confined account as
// its definer: its body still runs with the confined account's rights. The
// statement runs as the server reads it (comments resolved), checked to
// name nothing outside the scratch database, in the confined session's
// sql_mode and character set, which the object keeps.
func (imp *imported) createAsAdmin(ctx context.Context, admin *sql.DB, confinedConn *sql.Conn, stmt string) error {
	flat := flatten(stmt)

	if adminDrop.MatchString(flat) {
		return imp.asAdmin(ctx, admin, "", flat)
	}

	m := adminDDL.FindStringSubmatchIndex(flat)
	if m == nil {
		return fmt.Errorf("%q: a trigger or function created while the binlog is on needs the source's own account, and this one does not have the plain form (CREATE TRIGGER name ... ON table, CREATE FUNCTION name, neither naming a database) that keeps it in the scratch database, so it could reach outside the scratch database: refusing it", truncate(strings.TrimSpace(stmt), 100))
	}

	head := "CREATE "
	if m[2] >= 0 {
		head += "OR REPLACE "
	}

	var mode, cs, coll string
	if err := confinedConn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.collation_connection").Scan(&mode, &cs, &coll); err != nil {
		return err
	}

	return imp.asAdmin(ctx, admin, "SET SESSION sql_mode = "+quoteString(mode)+", character_set_client = "+quoteString(cs)+", collation_connection = "+quoteString(coll),
		head+"DEFINER="+imp.tmpDefiner+" "+flat[m[4]:])
}

// asAdmin runs statements through the source's account on a session of its
// own in the scratch database; an empty statement is skipped.
func (imp *imported) asAdmin(ctx context.Context, admin *sql.DB, stmts ...string) error {
	c, err := admin.Conn(ctx)
	if err != nil {
		return err
	}

	// The session is changed: it goes, not back to the pool.
	defer func() {
		c.Raw(func(any) error { return sqldriver.ErrBadConn }) //nolint:errcheck
		c.Close()
	}()

	for _, q := range append([]string{"USE " + quoteIdent(imp.scratch)}, stmts...) {
		if q == "" {
			continue
		}

		if _, err := c.ExecContext(ctx, q); err != nil {
			return err
		}
	}

	return nil
}

// flatten is a statement as the server reads it: executable comments
// (/*!NNNNN ... */, /*M!NNNNNN ... */) opened, other comments dropped,
// quoted text kept as it is.
func flatten(stmt string) string {
	var b strings.Builder

	inVersion := false

	for i := 0; i < len(stmt); i++ {
		ch := stmt[i]

		switch {
		case ch == '\'' || ch == '"' || ch == '`':
			j := i + 1

			for j < len(stmt) {
				if stmt[j] == '\\' && ch != '`' {
					j += 2
					continue
				}

				if stmt[j] == ch {
					if j+1 < len(stmt) && stmt[j+1] == ch {
						j += 2
						continue
					}

					break
				}

				j++
			}

			j = min(j, len(stmt)-1)
			b.WriteString(stmt[i : j+1])
			i = j
		case strings.HasPrefix(stmt[i:], "/*!") || strings.HasPrefix(stmt[i:], "/*M!"):
			i += strings.IndexByte(stmt[i:], '!') + 1
			for i < len(stmt) && stmt[i] >= '0' && stmt[i] <= '9' {
				i++
			}

			i--
			inVersion = true

			b.WriteByte(' ')
		case strings.HasPrefix(stmt[i:], "/*"):
			end := strings.Index(stmt[i+2:], "*/")
			if end < 0 {
				return b.String()
			}

			i += end + 3

			b.WriteByte(' ')
		case inVersion && strings.HasPrefix(stmt[i:], "*/"):
			i++
			inVersion = false

			b.WriteByte(' ')
		case ch == '#' || (strings.HasPrefix(stmt[i:], "--") && (i+2 == len(stmt) || stmt[i+2] == ' ' || stmt[i+2] == '\t' || stmt[i+2] == '\n' || stmt[i+2] == '\r')):
			end := strings.IndexByte(stmt[i:], '\n')
			if end < 0 {
				return b.String()
			}

			i += end

			b.WriteByte('\n')
		default:
			b.WriteByte(ch)
		}
	}

	return b.String()
}
