package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	driver "github.com/go-sql-driver/mysql"

	"lifeboat/internal/config"
	"lifeboat/internal/source"
)

// ErrSystemSchema marks a restore or import aimed at one of the server's own
// schemas; the command line treats it as a usage error.
var ErrSystemSchema = source.ErrSystemSchema

// systemSchemas hold the server's accounts, grants, routines and
// instrumentation: replacing one with a backup's tables breaks the server.
var systemSchemas = []string{"mysql", "information_schema", "performance_schema", "sys"}

// checkTarget refuses a system schema as the database a restore or import
// writes. flag is how the user named it ("--target-database", "--database",
// or "" when the name comes from the snapshot itself).
func checkTarget(db, flag string) error {
	for _, sys := range systemSchemas {
		if !strings.EqualFold(db, sys) {
			continue
		}

		if flag == "" {
			return fmt.Errorf("the snapshot's database %s %w: restoring it would replace the server's own tables; restore it under another name with --target-database %s_restored", db, ErrSystemSchema, db)
		}

		return fmt.Errorf("%s %s %w: a restore under that name would replace the server's own tables (accounts, grants, routines); use another name, e.g. %s %s_restored; nothing was changed", flag, db, ErrSystemSchema, flag, db)
	}

	return nil
}

// confined is a temporary account that reaches one database only. SQL that
// Lifeboat did not write (an imported dump, a restore test's assertions)
// runs as it, so the server itself refuses anything aimed at another
// database, in whatever form: a qualified name, a view, a trigger's body.
type confined struct {
	// DB is a pool of connections as the account, in its database.
	DB *sql.DB
	// Definer is the account as SHOW CREATE prints it: `user`@`host`.
	Definer string

	admin *sql.DB
	who   string
}

// confine creates an account with privs on database db only, on the server
// admin is connected to (as the source's user, which needs CREATE USER and
// the privileges it grants), and connects as it. close drops it.
func confine(ctx context.Context, admin *sql.DB, name string, my config.MySQL, db, privs string) (*confined, error) {
	// The account is for this client's host as the server sees it, so the
	// login matches it and nothing broader.
	var host string
	if err := admin.QueryRowContext(ctx, "SELECT SUBSTRING_INDEX(USER(), '@', -1)").Scan(&host); err != nil {
		return nil, explain(name, my, err)
	}

	rnd := make([]byte, 20)
	rand.Read(rnd) //nolint:errcheck

	user := "lifeboat_tmp_" + hex.EncodeToString(rnd[:4])
	// Mixed case, digits and a sign, so password validation plugins accept it.
	pw := "Lb-" + hex.EncodeToString(rnd[4:]) + "Z9"

	c := &confined{admin: admin, who: quoteString(user) + "@" + quoteString(host), Definer: quoteIdent(user) + "@" + quoteIdent(host)}

	// '_' and '%' are wildcards in a database-level grant.
	pattern := strings.NewReplacer(`\`, `\\`, "_", `\_`, "%", `\%`).Replace(db)

	for _, stmt := range []string{
		"CREATE USER " + c.who + " IDENTIFIED BY " + quoteString(pw),
		"GRANT " + privs + " ON " + quoteIdent(pattern) + ".* TO " + c.who,
	} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			c.close()

			var me *driver.MySQLError
			if errors.As(err, &me) && (me.Number == 1227 || me.Number == 1044 || me.Number == 1045 || me.Number == 1142 || me.Number == 1410) {
				return nil, fmt.Errorf("source %s: user %q cannot create the temporary account that keeps this to database %s (%w: %s): grant it CREATE USER and GRANT OPTION, e.g. GRANT CREATE USER ON *.* TO the user WITH GRANT OPTION", name, my.User, db, ErrAccessDenied, me.Message)
			}

			return nil, explain(name, my, err)
		}
	}

	conf := my
	conf.User = user

	pool, err := dial(ctx, name, conf, pw, db)
	if err != nil {
		c.close()
		return nil, err
	}

	c.DB = pool

	return c, nil
}

// close disconnects and drops the account; what it created stays.
func (c *confined) close() {
	if c.DB != nil {
		c.DB.Close()
		c.DB = nil
	}

	c.admin.ExecContext(context.Background(), "DROP USER IF EXISTS "+c.who) //nolint:errcheck
}

// deniedElsewhere reports whether err is the server refusing the confined
// account something outside its database.
func deniedElsewhere(err error) bool {
	var me *driver.MySQLError

	return errors.As(err, &me) && (me.Number == 1142 || me.Number == 1143 || me.Number == 1044 || me.Number == 1370 || me.Number == 1227)
}
