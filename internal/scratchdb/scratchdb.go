// Package scratchdb runs a private MariaDB server on a data directory a
// physical restore produced: on a free port of 127.0.0.1 and a socket in a
// private folder, with no account checks (only this process reaches it), so
// Lifeboat can check the restored tables or replay the binlog into them and
// then shut it down cleanly, leaving the data directory ready for the
// user's own server.
package scratchdb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"lifeboat/internal/childenv"
)

// Server is a running private server.
type Server struct {
	DataDir string
	Port    int
	Socket  string

	dir    string
	errLog string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	db     *sql.DB
}

// Options are the server's settings beyond the private ones.
type Options struct {
	// Extra are more server options, e.g. "--slave-parallel-threads=4".
	Extra []string
	// Ready bounds how long the server may take to answer (crash recovery
	// included); zero is five minutes.
	Ready time.Duration
}

// Binary finds mariadbd (or mysqld), also in /usr/sbin, which a
// non-root PATH often lacks.
func Binary(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}

		for _, d := range []string{"/usr/sbin", "/usr/bin"} {
			p := filepath.Join(d, n)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, nil
			}
		}
	}

	return "", fmt.Errorf("%s not found: install the MariaDB server (Debian: apt-get install mariadb-server)", strings.Join(names, " or "))
}

// Start starts a server on dataDir and waits until it answers.
func Start(ctx context.Context, dataDir string, opt Options) (*Server, error) {
	bin, err := Binary("mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}

	// A short private folder: a socket path is limited to 107 bytes.
	dir, err := os.MkdirTemp("", "lbsrv")
	if err != nil {
		return nil, err
	}

	s := &Server{DataDir: dataDir, dir: dir, Socket: filepath.Join(dir, "s.sock"), errLog: filepath.Join(dir, "error.log"), exited: make(chan struct{})}

	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	s.Port = port
	args := []string{
		"--no-defaults", "--datadir=" + dataDir, "--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1",
		"--socket=" + s.Socket, "--pid-file=" + filepath.Join(dir, "pid"), "--log-error=" + s.errLog,
		"--tmpdir=" + dir, "--skip-grant-tables", "--skip-slave-start", "--innodb-use-native-aio=0",
		"--skip-log-bin", "--event-scheduler=OFF",
	}

	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}

	args = append(args, opt.Extra...)

	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = childenv.Env(nil)
	// The server dies with Lifeboat rather than outlive it on a scratch
	// copy nobody will stop.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	started := make(chan error, 1)

	go func() {
		// Pdeathsig fires when the thread that started the server ends:
		// this goroutine keeps its thread until the server has exited.
		runtime.LockOSThread()

		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}

		started <- nil
		s.err = s.cmd.Wait()
		close(s.exited)
	}()

	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}

	if err := s.waitReady(ctx, opt.Ready); err != nil {
		s.kill()
		return nil, err
	}

	return s, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	if limit == 0 {
		limit = 5 * time.Minute
	}

	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	cfg := driver.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", s.Socket
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}

	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return err
	}

	s.db = sql.OpenDB(conn)
	tick := time.NewTicker(50 * time.Millisecond)

	defer tick.Stop()

	for {
		lastErr := s.db.PingContext(ctx)
		if lastErr == nil {
			return nil
		}

		select {
		case <-s.exited:
			return fmt.Errorf("the server on %s exited before answering: %v: %s", s.DataDir, s.err, s.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("the server on %s did not answer in %s: %v: %s", s.DataDir, limit, lastErr, s.LogTail())
		case <-tick.C:
		}
	}
}

// DB is a pool on the server's socket, as root without a password.
func (s *Server) DB() *sql.DB { return s.db }

// LogTail is the end of the server's error log, for messages.
func (s *Server) LogTail() string {
	b, err := os.ReadFile(s.errLog)
	if err != nil {
		return ""
	}

	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}

	return strings.Join(lines, " | ")
}

// Stop shuts the server down cleanly (so the data directory needs no crash
// recovery) and removes its private folder.
func (s *Server) Stop(ctx context.Context) error {
	defer os.RemoveAll(s.dir)

	// The pool closes while the server still answers; SIGTERM is then a
	// clean shutdown.
	if s.db != nil {
		s.db.Close()
	}

	_ = s.cmd.Process.Signal(syscall.SIGTERM)

	select {
	case <-s.exited:
	case <-ctx.Done():
		s.kill()
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		s.kill()
		return fmt.Errorf("the server on %s did not shut down in 5 minutes and was killed", s.DataDir)
	}

	return nil
}

func (s *Server) kill() {
	if s.db != nil {
		s.db.Close()
	}

	_ = s.cmd.Process.Kill()
	<-s.exited
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()

	return l.Addr().(*net.TCPAddr).Port, nil
}

// Init creates the system tables of a new server in dataDir (empty or
// missing), for a copy loaded from a logical backup rather than a physical
// one. Root logs in with a password (none), not the unix socket, so the
// copy serves whoever starts a server on it as any restored server does.
func Init(ctx context.Context, dataDir string) error {
	bin, err := Binary("mariadb-install-db", "mysql_install_db")
	if err != nil {
		return err
	}

	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return err
	}

	args := []string{"--no-defaults", "--datadir=" + dataDir, "--auth-root-authentication-method=normal", "--skip-test-db", "--innodb-use-native-aio=0"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}

	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childenv.Env(nil)

	if out, err := cmd.CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return fmt.Errorf("%s --datadir=%s: %w: %s", filepath.Base(bin), dataDir, err, strings.Join(lines[max(0, len(lines)-5):], " / "))
	}

	return nil
}
