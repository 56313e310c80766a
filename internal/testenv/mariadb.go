//go:build linux

// Linux only: the server is tied to the test binary with Pdeathsig (see
// startServer), which has no portable equivalent, and an orphaned mariadbd
// after a test timeout is worse than not building elsewhere.

package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

const (
	installHint = "install them with `apt-get install -y mariadb-server mariadb-client` or run `make test`, which installs them"

	// readyTimeout bounds how long a fresh server may take to answer
	// SELECT 1. InnoDB creates its redo log and system tablespace on first
	// start, which is slow on loaded CI machines, hence the generous value.
	readyTimeout = 60 * time.Second
	// stopTimeout is how long a SIGTERMed server gets to flush and exit
	// before it is SIGKILLed; the data is throwaway, so a kill is harmless.
	stopTimeout = 30 * time.Second
	// startAttempts covers the race between freePort closing its listener
	// and mariadbd binding the port, which another process may win.
	startAttempts = 3
	// maxSocketPath is the usable length of sun_path on Linux (108 bytes
	// including the terminating NUL).
	maxSocketPath = 107
	// logTailLines is how much of the error log goes into failure messages.
	logTailLines = 30
)

var (
	// ErrServerNotFound reports that mariadbd or mariadb-install-db (or
	// their mysql-named aliases) are not installed.
	ErrServerNotFound = errors.New("MariaDB server binaries not found (mariadbd, mariadb-install-db): " + installHint)
	// ErrClientNotFound reports that the mariadb (or mysql) command-line
	// client is not installed.
	ErrClientNotFound = errors.New("MariaDB client binary not found (mariadb): " + installHint)
)

// searchDirs are checked after PATH because the server binaries live in
// /usr/sbin, which is often missing from the PATH of non-root users.
var searchDirs = []string{"/usr/sbin", "/usr/bin"}

// MariaDB is a private mariadbd started by StartMariaDB or Start. The
// exported fields describe where to reach it and must not be modified.
type MariaDB struct {
	// Port is the TCP port the server listens on at 127.0.0.1.
	Port int
	// Socket is the path of the server's unix socket.
	Socket string
	// DataDir is the server's data directory.
	DataDir string
	// User is the account with all privileges and no password.
	User string

	dir    string // holds DataDir, Socket, binlogs and logs
	ownDir bool   // dir was created by Start and is removed by Stop
	errLog string

	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // result of cmd.Wait, valid after exited is closed
	killed  bool          // ended on purpose by Kill
	extra   []string      // extra server options

	stopOnce sync.Once
	stopErr  error
}

// StartMariaDB starts a private server for the test and stops it, removing
// all its files, when the test and its subtests finish. It fails the test
// (never skips it) if the server cannot be started, including when MariaDB
// is not installed.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	m, err := Start(t.Context(), "")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return m
}

// Start starts a private server without a testing.TB, for use from TestMain;
// the caller must call Stop. If dir is empty, Start creates a temporary
// directory and Stop removes it; otherwise dir must be an existing, empty
// directory with a short path (the socket goes in it) and is left in place.
// ctx bounds only the start-up: cancelling it later does not stop the server.
func Start(ctx context.Context, dir string) (*MariaDB, error) {
	return StartWith(ctx, dir)
}

// StartWith is Start with extra server options (e.g. TLS certificates).
func StartWith(ctx context.Context, dir string, extraArgs ...string) (_ *MariaDB, err error) {
	mariadbd, ok := findBinary("mariadbd", "mysqld")
	if !ok {
		return nil, ErrServerNotFound
	}
	installDB, ok := findBinary("mariadb-install-db", "mysql_install_db")
	if !ok {
		return nil, ErrServerNotFound
	}

	m := &MariaDB{User: "root", dir: dir, extra: extraArgs}
	if dir == "" {
		// Not t.TempDir(): its paths embed the test name and easily
		// exceed the unix socket path limit.
		if m.dir, err = os.MkdirTemp("", "lbdb"); err != nil {
			return nil, fmt.Errorf("creating MariaDB temp dir: %w", err)
		}
		m.ownDir = true
	}
	defer func() {
		if err != nil {
			// Stop's own errors would only obscure why the start failed.
			_ = m.Stop()
		}
	}()

	m.DataDir = filepath.Join(m.dir, "data")
	m.Socket = filepath.Join(m.dir, "mysqld.sock")
	m.errLog = filepath.Join(m.dir, "error.log")
	if len(m.Socket) > maxSocketPath {
		return nil, fmt.Errorf("MariaDB socket path %q is longer than %d bytes; use a shorter dir", m.Socket, maxSocketPath)
	}
	for _, d := range []string{m.DataDir, filepath.Join(m.dir, "binlog"), filepath.Join(m.dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating MariaDB directory: %w", err)
		}
	}

	if err := m.installDB(ctx, installDB); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		err := m.startServer(ctx, mariadbd)
		if err == nil {
			break
		}
		if attempt == startAttempts || !m.lostPortRace() {
			return nil, err
		}
	}
	if err := m.allowTCPRoot(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// installDB creates the system tables in the empty DataDir.
func (m *MariaDB) installDB(ctx context.Context, bin string) error {
	args := []string{
		"--no-defaults",
		"--datadir=" + m.DataDir,
		// "normal" gives root@localhost an empty password instead of
		// unix_socket auth, so the test user need not be the OS root.
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		// Many private servers start at once across test packages; native
		// AIO would let them exhaust the kernel's fs.aio-max-nr and abort.
		"--innodb-use-native-aio=0",
	}
	args = append(args, userArgs()...)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("initialising MariaDB datadir with %s: %w\n%s", bin, err, tail(out, logTailLines))
	}
	return nil
}

// startServer runs mariadbd on a fresh free port and waits until it answers.
// On failure the process has been stopped.
func (m *MariaDB) startServer(ctx context.Context, bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	// A fresh log per attempt, so lostPortRace judges only this attempt.
	if err := os.Remove(m.errLog); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing old MariaDB error log: %w", err)
	}
	m.Port = port
	args := []string{
		"--no-defaults",
		"--datadir=" + m.DataDir,
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--socket=" + m.Socket,
		"--pid-file=" + filepath.Join(m.dir, "mysqld.pid"),
		"--tmpdir=" + filepath.Join(m.dir, "tmp"),
		"--log-error=" + m.errLog,
		// Binlog in ROW format: code under test reads row events.
		"--log-bin=" + filepath.Join(m.dir, "binlog", "mysql-bin"),
		"--binlog-format=ROW",
		"--server-id=1",
		// Strict GTIDs, as careful production servers run: a replay that
		// re-logged old GTIDs would be refused.
		"--gtid-strict-mode=ON",
		"--innodb-use-native-aio=0",
	}
	args = append(args, userArgs()...)
	args = append(args, m.extra...)

	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Kill the server if the test binary dies without running its
		// cleanups (e.g. a test timeout panic), so no orphan keeps
		// running with its temp dir.
		Pdeathsig: syscall.SIGKILL,
	}
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking *thread* exits, not the
		// process. Locking this goroutine to its thread, and keeping it
		// alive in Wait for the server's whole life, stops the Go runtime
		// from retiring that thread early. The lock is never released, so
		// the thread ends with the goroutine, after the server has exited.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		m.waitErr = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	m.cmd, m.exited = cmd, exited

	if err := m.waitReady(ctx); err != nil {
		select {
		case <-m.exited:
			// Already gone, and waitReady has said so.
		default:
			if stopErr := m.stopServer(); stopErr != nil {
				err = fmt.Errorf("%w (and stopping it: %v)", err, stopErr)
			}
		}
		return fmt.Errorf("%w\n--- tail of %s ---\n%s", err, m.errLog, m.errLogTail())
	}
	return nil
}

// waitReady polls SELECT 1 over the socket until the server answers, exits,
// or readyTimeout passes.
func (m *MariaDB) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	db, err := sql.Open("mysql", m.socketDSN())
	if err != nil {
		return fmt.Errorf("opening MariaDB socket connection: %w", err)
	}
	defer db.Close()

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var one int
		lastErr := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		if lastErr == nil {
			return nil
		}
		select {
		case <-m.exited:
			return fmt.Errorf("mariadbd exited before accepting connections: %v", m.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("mariadbd did not answer SELECT 1 on %s: %w (last error: %v)", m.Socket, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// allowTCPRoot makes DSN's root@127.0.0.1 login work. mariadb-install-db
// only creates root@localhost (plus accounts for the host name); whether a
// TCP client from 127.0.0.1 matches that depends on name resolution, so
// create the account explicitly rather than rely on it, then prove it.
func (m *MariaDB) allowTCPRoot(ctx context.Context) error {
	sock, err := sql.Open("mysql", m.socketDSN())
	if err != nil {
		return fmt.Errorf("opening MariaDB socket connection: %w", err)
	}
	defer sock.Close()
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
	} {
		if _, err := sock.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("allowing root over TCP: %s: %w", q, err)
		}
	}

	tcp, err := sql.Open("mysql", m.DSN(""))
	if err != nil {
		return fmt.Errorf("opening MariaDB TCP connection: %w", err)
	}
	defer tcp.Close()
	var one int
	if err := tcp.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("connecting to MariaDB as root over TCP at 127.0.0.1:%d: %w", m.Port, err)
	}
	return nil
}

// lostPortRace reports whether the last start failed because the port was
// taken between freePort and mariadbd binding it.
func (m *MariaDB) lostPortRace() bool {
	b, err := os.ReadFile(m.errLog)
	// Match the TCP bind error only: a taken socket path also reports
	// "Address already in use", and a new port would not help there.
	return err == nil && bytes.Contains(b, []byte("Bind on TCP/IP port"))
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 30s) and, if
// Start created the directory, removes it. It is safe to call more than once.
func (m *MariaDB) Stop() error {
	m.stopOnce.Do(func() {
		err := m.stopServer()
		if m.ownDir {
			if rmErr := os.RemoveAll(m.dir); rmErr != nil {
				err = errors.Join(err, fmt.Errorf("removing MariaDB temp dir: %w", rmErr))
			}
		}
		m.stopErr = err
	})
	return m.stopErr
}

// stopServer stops the running mariadbd, if any.
func (m *MariaDB) stopServer() error {
	if m.cmd == nil {
		return nil
	}
	if m.killed {
		<-m.exited
		return nil
	}
	select {
	case <-m.exited:
		// It died on its own: that is a bug worth reporting.
		if m.waitErr != nil {
			return fmt.Errorf("mariadbd exited unexpectedly: %w", m.waitErr)
		}
		return nil
	default:
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("sending SIGTERM to mariadbd: %w", err)
	}
	select {
	case <-m.exited:
		if m.waitErr != nil {
			return fmt.Errorf("mariadbd shutdown: %w", m.waitErr)
		}
		return nil
	case <-time.After(stopTimeout):
	}
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing mariadbd: %w", err)
	}
	<-m.exited
	return fmt.Errorf("mariadbd did not exit within %v of SIGTERM and was killed", stopTimeout)
}

// BinlogDir is where the server writes its binary log files.
func (m *MariaDB) BinlogDir() string { return filepath.Join(m.dir, "binlog") }

// Restart stops the server cleanly and starts it again on the same data, as
// an upgrade or reboot would. The socket stays; the TCP port may change.
func (m *MariaDB) Restart(ctx context.Context) error {
	if err := m.stopServer(); err != nil {
		return err
	}

	mariadbd, ok := findBinary("mariadbd", "mysqld")
	if !ok {
		return ErrServerNotFound
	}

	m.cmd, m.killed = nil, false

	return m.startServer(ctx, mariadbd)
}

// Kill ends the server with SIGKILL, as a crash would, for fault tests.
func (m *MariaDB) Kill() error {
	if m.cmd == nil {
		return errors.New("mariadbd is not running")
	}
	m.killed = true
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing mariadbd: %w", err)
	}
	<-m.exited
	return nil
}

// DSN returns a go-sql-driver/mysql DSN for database db (empty for none)
// over TCP, with multiStatements and parseTime enabled.
func (m *MariaDB) DSN(db string) string {
	cfg := m.config(db)
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port))
	return cfg.FormatDSN()
}

// socketDSN is used internally before root@127.0.0.1 is guaranteed to exist.
func (m *MariaDB) socketDSN() string {
	cfg := m.config("")
	cfg.Net = "unix"
	cfg.Addr = m.Socket
	return cfg.FormatDSN()
}

func (m *MariaDB) config(db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = m.User
	cfg.DBName = db
	cfg.MultiStatements = true
	cfg.ParseTime = true
	return cfg
}

// DB opens a connection pool to database db (empty for none), checks that
// it works and closes it when the test finishes.
func (m *MariaDB) DB(t testing.TB, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("mysql", m.DSN(db))
	if err != nil {
		t.Fatalf("testenv: opening MariaDB %q: %v", db, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.PingContext(t.Context()); err != nil {
		t.Fatalf("testenv: connecting to MariaDB %q: %v", db, err)
	}
	return conn
}

// ClientArgs returns the arguments that point the stock mariadb client at
// this server; --no-defaults comes first, as the client requires.
func (m *MariaDB) ClientArgs() []string {
	return []string{"--no-defaults", "--protocol=socket", "--socket=" + m.Socket, "-u" + m.User}
}

// RunSQL pipes SQL from r into the stock mariadb client. The client, not
// database/sql, is used because dump files rely on its DELIMITER handling.
func (m *MariaDB) RunSQL(ctx context.Context, r io.Reader) error {
	client, ok := findBinary("mariadb", "mysql")
	if !ok {
		return ErrClientNotFound
	}
	cmd := exec.CommandContext(ctx, client, m.ClientArgs()...)
	cmd.Stdin = r
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", client, err, tail(out, logTailLines))
	}
	return nil
}

// Exec runs sql through the mariadb client, failing the test on error.
func (m *MariaDB) Exec(t testing.TB, sql string) {
	t.Helper()
	if err := m.RunSQL(t.Context(), strings.NewReader(sql)); err != nil {
		t.Fatalf("testenv: executing SQL: %v", err)
	}
}

// LoadFile runs the SQL file at path through the mariadb client, failing
// the test on error.
func (m *MariaDB) LoadFile(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("testenv: opening SQL file: %v", err)
	}
	defer f.Close()
	if err := m.RunSQL(t.Context(), f); err != nil {
		t.Fatalf("testenv: loading %s: %v", path, err)
	}
}

// errLogTail returns the last lines of the server's error log, for failure
// messages: the reason a server did not start is only ever written there.
func (m *MariaDB) errLogTail() string {
	b, err := os.ReadFile(m.errLog)
	if err != nil {
		return fmt.Sprintf("(cannot read error log: %v)", err)
	}
	return tail(b, logTailLines)
}

// findBinary returns the first of names found on PATH or in searchDirs.
func findBinary(names ...string) (string, bool) {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
		for _, dir := range searchDirs {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, true
			}
		}
	}
	return "", false
}

// userArgs returns --user=root when running as root: mariadbd and
// mariadb-install-db refuse to run as root unless told to, and an
// unprivileged user cannot switch users at all.
func userArgs() []string {
	if os.Geteuid() == 0 {
		return []string{"--user=root"}
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
