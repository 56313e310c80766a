// Package mysql backs up MariaDB/MySQL databases logically: every table dumped
// from one consistent point by several workers, streamed into the repository
// with per-table row counts and checksums, and restored in parallel and
// checked against them. It never shells out to mysqldump, never puts a password
// on a command line or in a log, and never drops a database it has not first
// saved.
package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"lifeboat/internal/config"
)

// connect opens a pool to the source's server (db "" for none) and checks it
// answers, turning the driver's errors into messages that say what to do.
func connect(ctx context.Context, name string, my config.MySQL, getenv func(string) string) (*sql.DB, error) {
	pw, err := password(name, my, getenv)
	if err != nil {
		return nil, err
	}

	return dial(ctx, name, my, pw, "")
}

// dial is connect with the password given (a temporary account's) and
// database dbName current in every connection ("" for none).
func dial(ctx context.Context, name string, my config.MySQL, pw, dbName string) (*sql.DB, error) {
	cfg := driver.NewConfig()
	cfg.DBName = dbName
	cfg.User = my.User
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	cfg.Collation = "utf8mb4_general_ci"
	cfg.Timeout = 10 * time.Second
	cfg.AllowNativePasswords = true
	cfg.MaxAllowedPacket = 0 // ask the server

	if my.Socket != "" {
		cfg.Net, cfg.Addr = "unix", my.Socket
	} else {
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(my.Host, strconv.Itoa(my.Port))
	}

	cfg.Passwd = pw

	if my.TLS {
		tc := &tls.Config{ServerName: my.Host, MinVersion: tls.VersionTLS12}

		if my.TLSCA != "" {
			pem, err := os.ReadFile(my.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("source %s: tls_ca: %w", name, err)
			}

			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("source %s: tls_ca %s holds no PEM certificate", name, my.TLSCA)
			}

			tc.RootCAs = pool
		}

		cfg.TLS = tc
	}

	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}

	db := sql.OpenDB(conn)
	db.SetMaxIdleConns(64)

	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, explain(name, my, err)
	}

	return db, nil
}

func password(name string, my config.MySQL, getenv func(string) string) (string, error) {
	switch {
	case my.PasswordEnv != "":
		v := getenv(my.PasswordEnv)
		if v == "" {
			return "", fmt.Errorf("source %s: password_env %s is not set: export it, or use password_file", name, my.PasswordEnv)
		}

		return v, nil
	case my.PasswordFile != "":
		b, err := os.ReadFile(my.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("source %s: password_file: %w", name, err)
		}

		return strings.TrimRight(string(b), "\r\n"), nil
	}

	return "", nil
}

// ErrAccessDenied marks errors no retry will fix: a refused login or a
// missing privilege.
var ErrAccessDenied = errors.New("access denied")

// explain turns a connection or query error into a message naming the cause
// and the fix. It never includes the password.
func explain(name string, my config.MySQL, err error) error {
	where := my.Socket
	if where == "" {
		where = net.JoinHostPort(my.Host, strconv.Itoa(my.Port))
	}

	var me *driver.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045:
			return fmt.Errorf("source %s: the server at %s refused user %q: %w: wrong password or unknown user: check sources.%s.user and its password (%s)", name, where, my.User, ErrAccessDenied, name, me.Message)
		case 1049:
			return fmt.Errorf("source %s: %s: check sources.%s.databases", name, me.Message, name)
		case 1044, 1142, 1143, 1227, 1370:
			return fmt.Errorf("source %s: user %q lacks a privilege (%w): %s: grant it, e.g. GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, LOCK TABLES, REPLICATION CLIENT ON *.* TO the backup user", name, my.User, ErrAccessDenied, me.Message)
		}

		return fmt.Errorf("source %s: server error %d: %s", name, me.Number, me.Message)
	}

	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "no such file") {
		return fmt.Errorf("source %s: cannot reach the database server at %s: %v: is it running, and are sources.%s.host/port/socket right?", name, where, err, name)
	}

	return fmt.Errorf("source %s: %w", name, err)
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteString(s string) string {
	var b strings.Builder

	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	writeEscaped(&b, []byte(s))
	b.WriteByte('\'')

	return b.String()
}

// writeEscaped escapes a string for a single-quoted SQL literal, as
// mysql_real_escape_string does, so every statement stays on one line.
func writeEscaped(b *strings.Builder, v []byte) {
	for _, c := range v {
		switch c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
}
