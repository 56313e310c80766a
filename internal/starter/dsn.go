package starter

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"lifeboat/internal/config"
)

// ErrPasswordInDSN refuses a database address that carries its password: the
// configuration names where the password is (password_env, password_file),
// so it never sits in a file that is copied into the repository, or in the
// shell's history.
var ErrPasswordInDSN = errors.New("the DSN holds a password")

// ParseDSN reads where a database source connects, given as a driver DSN
// (user@tcp(host:3306)/db1,db2, user@unix(/run/mysqld/mysqld.sock)/db) or a
// URL (mysql://user@host:3306/db, mysql://user@localhost/db?socket=/path).
// No database means every user database; no user means root.
func ParseDSN(dsn string) (config.MySQL, error) {
	my := config.MySQL{Host: "127.0.0.1", Port: 3306, User: "root"}

	var (
		user, addr, db string
		params         url.Values
	)

	if strings.HasPrefix(dsn, "mysql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// url.Error repeats the URL, which may hold a password.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}

			return my, fmt.Errorf("not a mysql:// URL: %w", err)
		}

		if _, set := u.User.Password(); set {
			return my, ErrPasswordInDSN
		}

		user, addr, db, params = u.User.Username(), u.Host, strings.TrimPrefix(u.Path, "/"), u.Query()
		if s := params.Get("socket"); s != "" {
			addr = ""
			my.Socket = s
			params.Del("socket")
		}
	} else {
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			return my, fmt.Errorf("expected user@tcp(host:port)/database, user@unix(/path/to/socket)/database or mysql://user@host:port/database: %w", err)
		}

		if c.Passwd != "" {
			return my, ErrPasswordInDSN
		}

		user, db = c.User, c.DBName
		if c.Net == "unix" {
			my.Socket = c.Addr
		} else {
			addr = c.Addr
		}

		// The driver takes many options quietly; each one is refused here
		// unless the configuration has a key for it.
		params = url.Values{}
		if i := strings.LastIndex(dsn, "?"); i >= 0 {
			if params, err = url.ParseQuery(dsn[i+1:]); err != nil {
				return my, fmt.Errorf("the parameters after ?: %w", err)
			}
		}
	}

	if user != "" {
		my.User = user
	}

	if err := hostPort(addr, &my); err != nil {
		return my, err
	}

	for k, vs := range params {
		if k != "tls" || len(vs) != 1 || vs[0] != "true" {
			return my, fmt.Errorf("parameter %s=%s is not one this command writes (tls=true is); add the source, then edit its keys", k, strings.Join(vs, ","))
		}

		my.TLS = true
	}

	for _, d := range strings.Split(db, ",") {
		if d = strings.TrimSpace(d); d != "" {
			my.Databases = append(my.Databases, d)
		}
	}

	return my, nil
}

func hostPort(addr string, my *config.MySQL) error {
	if addr == "" {
		return nil
	}

	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}

	if host != "" {
		my.Host = host
	}

	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("port %q: expected a number from 1 to 65535", port)
		}

		my.Port = p
	}

	return nil
}
