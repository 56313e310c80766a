package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"lifeboat/internal/binlog"
	"lifeboat/internal/childenv"
	"lifeboat/internal/repo"
)

// maxOptionLine is how long a line of an option file may be: the client
// reads it into a buffer of 4 KiB and would cut a longer password short.
const maxOptionLine = 4000

// clientLogin is how a point-in-time recovery's mariadb client logs in: the
// programs, a private option file with the connection settings (password
// included, so it is never on a command line) and the arguments every run
// gives the client. The replay and the check before it use the same one, so
// a login the client refuses is found before anything is restored.
type clientLogin struct {
	source     string
	binlogTool string
	client     string
	args       []string
	env        []string
	password   string
	cleanup    func()
}

// clientLogin finds the client programs and writes the option file; call
// cleanup when done.
func (s *Source) clientLogin() (*clientLogin, error) {
	binlogTool, client, err := clientTools()
	if err != nil {
		return nil, err
	}

	pw, err := password(s.cfg.Name, s.cfg.MySQL, s.getenv)
	if err != nil {
		return nil, err
	}

	text, err := optionFile(s.cfg.Name, s.cfg.MySQL.User, pw, s.cfg.MySQL.Socket, s.cfg.MySQL.Host, s.cfg.MySQL.Port, s.cfg.MySQL.TLS, s.cfg.MySQL.TLSCA)
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "lifeboat-client-")
	if err != nil {
		return nil, err
	}

	f := filepath.Join(dir, "client.cnf")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	return &clientLogin{
		source: s.cfg.Name, binlogTool: binlogTool, client: client, password: pw,
		// --defaults-file (not -extra-file) reads this file only: a
		// ~/.my.cnf naming another user or password would otherwise win, and
		// the client would log in differently from the backup.
		args:    []string{"--defaults-file=" + f, "--binary-mode", "--batch", "--max-allowed-packet=1G"},
		env:     childenv.Env(s.cfg.SecretEnv()),
		cleanup: func() { os.RemoveAll(dir) },
	}, nil
}

// command is the client with the login's arguments and then more.
func (c *clientLogin) command(ctx context.Context, more ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.client, append(slices.Clone(c.args), more...)...)
	cmd.Env = c.env

	return cmd
}

// decoder is mariadb-binlog reading a binlog on its stdin; it connects to
// nothing, so it reads no option file.
func (c *clientLogin) decoder(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.binlogTool, append(append([]string{"--no-defaults"}, args...), "-")...)
	cmd.Env = c.env

	return cmd
}

// check logs in as the replay will and runs SELECT 1.
func (c *clientLogin) check(ctx context.Context) error {
	var out bytes.Buffer

	cmd := c.command(ctx, "--execute=SELECT 1")
	cmd.Stdout, cmd.Stderr = &out, &out

	if err := cmd.Run(); err != nil {
		return fmt.Errorf("source %s: the %s client cannot log in with the source's settings, so the binlog replay of a point-in-time recovery would fail (nothing was restored): %s: check sources.%s.user and its password, and that this machine may connect as it does for backups",
			c.source, filepath.Base(c.client), c.clean(out.String(), err), c.source)
	}

	return nil
}

// clean makes a client's error output fit one line of a message, without
// the password should the client ever echo part of it.
func (c *clientLogin) clean(out string, err error) string {
	out = strings.Join(strings.Fields(out), " ")
	if c.password != "" {
		out = strings.ReplaceAll(out, c.password, "***")
	}

	if out == "" {
		return err.Error()
	}

	if len(out) > 800 {
		out = out[:800] + "..."
	}

	return out
}

// checkReplayLogin tries the client login a point-in-time recovery from
// snap would use, when the binlog archive can continue snap: the restore
// test loads the full over Lifeboat's own connection, and would pass while
// the replay's login fails.
func (s *Source) checkReplayLogin(ctx context.Context, r *repo.Repository, snap *repo.Snapshot) error {
	if _, ok := FullOf(snap); !ok {
		return nil
	}

	return s.CheckReplayLogin(ctx, r)
}

// CheckReplayLogin tries the client login a point-in-time recovery of this
// source would replay its archived binlog with; nil when nothing is archived.
func (s *Source) CheckReplayLogin(ctx context.Context, r *repo.Repository) error {
	arch, err := binlog.Load(ctx, r, s.cfg.Name)
	if err != nil || len(arch.Segments) == 0 {
		return err
	}

	login, err := s.clientLogin()
	if err != nil {
		return err
	}
	defer login.cleanup()

	return login.check(ctx)
}

// clientTools finds mariadb-binlog and the mariadb client (or MySQL's).
func clientTools() (string, string, error) {
	find := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
		}

		return ""
	}

	bl, cl := find("mariadb-binlog", "mysqlbinlog"), find("mariadb", "mysql")
	if bl == "" || cl == "" {
		return "", "", errors.New("point-in-time recovery replays the binlog with mariadb-binlog and the mariadb client: install them (Debian: apt-get install mariadb-client)")
	}

	return bl, cl, nil
}

// optionFile is the [client] group of an option file holding the
// connection settings, every value quoted so the client reads it back
// exactly.
func optionFile(name, user, pw, socket, host string, port int, tls bool, tlsCA string) (string, error) {
	var b strings.Builder

	line := func(key, value string) error {
		l := key + "=" + optionValue(value)
		if len(l) >= maxOptionLine {
			return fmt.Errorf("source %s: the %s is too long for the mariadb client's option file (at most about %d bytes): shorten it", name, key, maxOptionLine-len(key)-3)
		}

		b.WriteString(l + "\n")

		return nil
	}

	b.WriteString("[client]\n")

	if err := line("user", user); err != nil {
		return "", err
	}

	if pw != "" {
		if err := line("password", pw); err != nil {
			return "", err
		}
	}

	settings := [][2]string{{"host", host}, {"port", strconv.Itoa(port)}, {"protocol", "tcp"}}
	if socket != "" {
		settings = [][2]string{{"socket", socket}, {"protocol", "socket"}}
	}

	if tls {
		settings = append(settings, [2]string{"ssl", "1"})

		if tlsCA != "" {
			settings = append(settings, [2]string{"ssl-ca", tlsCA}, [2]string{"ssl-verify-server-cert", "1"})
		}
	}

	for _, kv := range settings {
		if err := line(kv[0], kv[1]); err != nil {
			return "", err
		}
	}

	return b.String(), nil
}

// optionValue quotes a value for a MariaDB option file. The client strips
// unquoted leading and trailing blanks, ends the value at an unquoted #,
// and inside double quotes turns \\, \", \', \n, \r, \t and \b back into
// the characters; the quotes are removed when the value starts and ends
// with the same one.
func optionValue(v string) string {
	var b strings.Builder

	b.Grow(len(v) + 2)
	b.WriteByte('"')

	// Byte by byte: every special character is ASCII, and a password that
	// is not valid UTF-8 must reach the server unchanged.
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		default:
			b.WriteByte(c)
		}
	}

	b.WriteByte('"')

	return b.String()
}
