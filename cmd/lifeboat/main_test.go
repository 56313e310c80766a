package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// These tests run the real binary: a killed process, a process of another
// user, and exit codes as a shell sees them.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lifeboat-bin-")
	if err != nil {
		panic(err)
	}

	// Readable by all: one test runs the binary as an unprivileged user.
	os.Chmod(dir, 0o755)

	// No test writes the system's audit log.
	os.Setenv("LIFEBOAT_AUDIT_LOG", filepath.Join(dir, "audit.jsonl"))

	binary = filepath.Join(dir, "lifeboat")
	cmd := exec.Command("go", "build", "-o", binary, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")

	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build lifeboat: %v\n%s", err, out)
		os.Exit(1)
	}

	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type installation struct {
	t    *testing.T
	dir  string
	cfg  string
	data string
	repo string
}

func newInstallation(t *testing.T, extra string) *installation {
	t.Helper()

	// Not t.TempDir: its parent is private, and one test runs the binary as
	// an unprivileged user who must reach the config and the repository.
	dir, err := os.MkdirTemp("", "lifeboat-e2e-")
	if err != nil {
		t.Fatal(err)
	}

	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })

	in := &installation{t: t, dir: dir, cfg: filepath.Join(dir, "lifeboat.yaml"), data: filepath.Join(dir, "data"), repo: filepath.Join(dir, "repo")}
	os.MkdirAll(in.data, 0o755)

	cfg := fmt.Sprintf("repository:\n  path: %s\naudit:\n  path: %s\nsources:\n  data:\n    type: files\n    paths: [%s]\n%s", in.repo, filepath.Join(dir, "audit.jsonl"), in.data, extra)
	if err := os.WriteFile(in.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	return in
}

// setSource replaces the installation's sources (and anything after them).
func (in *installation) setSource(t *testing.T, sources string) {
	t.Helper()

	b, err := os.ReadFile(in.cfg)
	if err != nil {
		t.Fatal(err)
	}

	head, tail, _ := strings.Cut(string(b), "sources:\n")
	_, extra, _ := strings.Cut(tail, "    paths: ["+in.data+"]\n")

	if err := os.WriteFile(in.cfg, []byte(head+extra+"sources:\n"+sources), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (in *installation) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"--config", in.cfg}, args...)...)
	cmd.Env = append(os.Environ(), "LIFEBOAT_PASSWORD=kill-test-password")

	return cmd
}

func (in *installation) run(args ...string) (string, string, int) {
	in.t.Helper()

	return execute(in.t, in.command(args...))
}

// execute runs cmd and returns its output and exit code; a command that
// cannot be started fails the test.
func execute(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()

	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()

	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}

	return out.String(), errb.String(), code
}

func (in *installation) mustRun(args ...string) string {
	in.t.Helper()

	out, errs, code := in.run(args...)
	if code != 0 {
		in.t.Fatalf("lifeboat %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}

	return out
}

type snap struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Files int64  `json:"files"`
	Bytes int64  `json:"bytes"`
}

func (in *installation) snapshots() []snap {
	in.t.Helper()

	var s []snap
	if err := json.Unmarshal([]byte(in.mustRun("snapshots", "--json")), &s); err != nil {
		in.t.Fatal(err)
	}

	return s
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()

	var n int64

	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}

		return nil
	})

	return n
}

// TestSIGKILLLeavesRepositoryConsistent kills backups at several points of a
// large backup. No partial snapshot is ever listed, verify passes, and the next
// backup completes and dedups against what the killed runs wrote.
func TestSIGKILLLeavesRepositoryConsistent(t *testing.T) {
	in := newInstallation(t, "")

	// 48 random files of 8 MiB: incompressible, so stored size tracks data written.
	const files, size = 48, 8 << 20

	buf := make([]byte, size)
	for i := 0; i < files; i++ {
		rand.Read(buf)

		if err := os.WriteFile(filepath.Join(in.data, fmt.Sprintf("blob-%02d.bin", i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	total := int64(files * size)

	in.mustRun("init")

	var killedAt []int64

	// Kill each run once it has written a given amount more to the repository:
	// early, mid-way and late. Growth, not time, so the points hold on any
	// machine even though later runs go faster by reusing earlier work.
	for _, grow := range []int64{30 << 20, 90 << 20, 150 << 20} {
		before := dirSize(t, in.repo)

		cmd := in.command("backup", "--checkpoint-interval", "300ms")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}

		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()

		var err error

	wait:
		for {
			select {
			case err = <-done:
				break wait
			case <-time.After(20 * time.Millisecond):
				if dirSize(t, in.repo)-before >= grow {
					cmd.Process.Signal(syscall.SIGKILL)
					err = <-done

					break wait
				}
			}
		}

		if err == nil {
			t.Fatalf("backup finished before it had written %d MiB more; the test data is too small", grow>>20)
		}

		killedAt = append(killedAt, dirSize(t, in.repo))

		if s := in.snapshots(); len(s) != 0 {
			t.Fatalf("after SIGKILL a snapshot is listed: %+v", s)
		}

		out := in.mustRun("verify")
		if !strings.Contains(out, "OK") {
			t.Fatalf("verify after kill: %s", out)
		}
	}

	if len(killedAt) == 0 {
		t.Fatal("no backup could be killed mid-way; the test data is too small for this machine")
	}

	stored := killedAt[len(killedAt)-1]
	t.Logf("repository after kills: %d MiB of %d MiB source", stored>>20, total>>20)

	in.mustRun("backup")

	s := in.snapshots()
	if len(s) != 1 || s[0].Files != files || s[0].Bytes != total {
		t.Fatalf("backup after kills: %+v", s)
	}

	final := dirSize(t, in.repo)
	written := final - stored
	t.Logf("repository after completed backup: %d MiB (the completed run wrote %d MiB)", final>>20, written>>20)

	// Dedup: the completed backup reused what the killed runs had indexed at
	// their checkpoints (work after a run's last checkpoint is lost), so it
	// wrote clearly less than the whole data set.
	if written > total*9/10 {
		t.Fatalf("the backup after the kills wrote %d MiB of %d MiB: the killed runs' uploads were not reused", written>>20, total>>20)
	}

	in.mustRun("verify")

	restored := filepath.Join(t.TempDir(), "r")
	in.mustRun("restore", "data", "--target", restored)

	for i := 0; i < files; i += 7 {
		a, _ := os.ReadFile(filepath.Join(in.data, fmt.Sprintf("blob-%02d.bin", i)))
		b, _ := os.ReadFile(filepath.Join(restored, fmt.Sprintf("blob-%02d.bin", i)))

		if !bytes.Equal(a, b) {
			t.Fatalf("blob-%02d.bin differs after restore", i)
		}
	}
}

// TestSIGTERMSavesNothingPartial interrupts a backup politely: it must stop,
// say so, exit non-zero and list nothing.
func TestSIGTERMSavesNothingPartial(t *testing.T) {
	in := newInstallation(t, "")

	buf := make([]byte, 8<<20)
	for i := 0; i < 40; i++ {
		rand.Read(buf)
		os.WriteFile(filepath.Join(in.data, fmt.Sprintf("f%02d", i)), buf, 0o644)
	}

	in.mustRun("init")

	// SIGTERM once the backup is writing data (not while it opens the
	// repository), whatever the machine's load.
	before := dirSize(t, in.repo)
	cmd, wait := startUntil(t, in.command("backup"), func() bool { return dirSize(t, in.repo) >= before+(16<<20) })
	cmd.Process.Signal(syscall.SIGTERM)

	errs, err := wait()
	if err == nil {
		t.Fatal("backup finished before SIGTERM arrived: the test data is too small for this machine")
	}

	if !strings.Contains(errs, "no partial snapshot") {
		t.Fatalf("interrupted backup should say nothing partial was saved: %s", errs)
	}

	if s := in.snapshots(); len(s) != 0 {
		t.Fatalf("interrupted backup listed %+v", s)
	}
}

// asOtherUser runs the command as an unprivileged user when the tests run as
// root, since root reads every file whatever its mode.
func asOtherUser(t *testing.T, cmd *exec.Cmd) {
	t.Helper()

	if os.Geteuid() != 0 {
		return
	}

	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal("setpriv is needed to run a backup as an unprivileged user: apt-get install -y util-linux")
	}

	cmd.Args = append([]string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, cmd.Args...)
	cmd.Path = setpriv
}

func TestUnreadableFile(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignore_unreadable=%v", ignore), func(t *testing.T) {
			extra := ""
			if ignore {
				extra = "    ignore_unreadable: true\n"
			}

			in := newInstallation(t, extra)
			os.Chmod(in.dir, 0o777)
			os.WriteFile(filepath.Join(in.data, "public.txt"), []byte("readable"), 0o644)
			os.WriteFile(filepath.Join(in.data, "private.key"), []byte("unreadable"), 0o600)

			if os.Geteuid() != 0 {
				os.Chmod(filepath.Join(in.data, "private.key"), 0)
			}

			init := in.command("init")
			asOtherUser(t, init)

			if out, err := init.CombinedOutput(); err != nil {
				t.Fatalf("init: %v %s", err, out)
			}

			backup := in.command("backup")
			asOtherUser(t, backup)

			out, err := backup.CombinedOutput()

			if !ignore {
				if err == nil {
					t.Fatalf("backup with an unreadable file succeeded: %s", out)
				}

				if code := err.(*exec.ExitError).ExitCode(); code != 1 {
					t.Fatalf("exit %d, want 1", code)
				}

				for _, want := range []string{"private.key", "ignore_unreadable: true"} {
					if !strings.Contains(string(out), want) {
						t.Fatalf("message lacks %q: %s", want, out)
					}
				}

				list := in.command("snapshots", "--json")
				asOtherUser(t, list)

				if lo, _ := list.Output(); strings.TrimSpace(string(lo)) != "[]" {
					t.Fatalf("failed backup listed a snapshot: %s", lo)
				}

				return
			}

			// A partial result: the snapshot is kept, without the file, and
			// the exit code (3) says something was left out.
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Fatalf("backup with ignore_unreadable: %v, want exit 3 (partial)\n%s", err, out)
			}

			for _, want := range []string{"1 unreadable entries were left out", "unreadable entries were left out of data (ignore_unreadable: true)"} {
				if !strings.Contains(string(out), want) {
					t.Fatalf("message lacks %q: %s", want, out)
				}
			}

			ls := in.command("ls", "data")
			asOtherUser(t, ls)
			lo, _ := ls.Output()

			if !strings.Contains(string(lo), "public.txt") || strings.Contains(string(lo), "private.key") {
				t.Fatalf("listing: %s", lo)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	in := newInstallation(t, "")

	if _, _, code := in.run("version"); code != 0 {
		t.Fatalf("version exit %d", code)
	}

	// No repository yet: 10 (2 before exit codes told causes apart).
	if _, errs, code := in.run("backup"); code != 10 || !strings.Contains(errs, "no repository here") || !strings.Contains(errs, "lifeboat init") {
		t.Fatalf("backup before init: exit %d, want 10: %s", code, errs)
	}

	if _, err := os.Stat(in.repo); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("backup before init created %s: %v", in.repo, err)
	}

	if _, _, code := in.run("no-such-command"); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
}

// TestPasswordPrompt types the password at a real terminal (a pty from
// script(1)) when neither LIFEBOAT_PASSWORD nor a password file is set.
func TestPasswordPrompt(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("script(1) is needed to give lifeboat a terminal: apt-get install -y bsdutils")
	}

	in := newInstallation(t, "")
	os.WriteFile(filepath.Join(in.data, "f"), []byte("x"), 0o644)

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + in.dir, "TERM=dumb"}

	runAtTerminal := func(input string, args ...string) (string, error) {
		line := binary + " --config " + in.cfg
		for _, a := range args {
			line += " " + a
		}

		cmd := exec.Command(scriptBin, "-q", "-e", "-c", line, "/dev/null")
		cmd.Env = env

		// Type each line only once its prompt is shown, as a person would:
		// typed-ahead input is echoed by the terminal before echo is off.
		out := &promptWatcher{prompts: make(chan struct{}, 4)}
		cmd.Stdout, cmd.Stderr = out, out

		pw, err := cmd.StdinPipe()
		if err != nil {
			return "", err
		}

		if err := cmd.Start(); err != nil {
			return "", err
		}

		go func() {
			for _, l := range strings.SplitAfter(input, "\n") {
				if l == "" {
					continue
				}

				select {
				case <-out.prompts:
					time.Sleep(50 * time.Millisecond)
					pw.Write([]byte(l))
				case <-time.After(10 * time.Second):
					pw.Close()
					return
				}
			}
		}()

		err = cmd.Wait()

		return out.String(), err
	}

	out, err := runAtTerminal("typed-secret\ntyped-secret\n", "init")
	if err != nil || !strings.Contains(out, "Repository password:") || !strings.Contains(out, "created encrypted repository") {
		t.Fatalf("init at a terminal: %v\n%s", err, out)
	}

	if strings.Contains(out, "typed-secret") {
		t.Fatalf("the typed password was echoed: %s", out)
	}

	if out, err := runAtTerminal("typed-secret\n", "backup"); err != nil || !strings.Contains(out, "full snapshot") {
		t.Fatalf("backup with a typed password: %v\n%s", err, out)
	}

	if out, err := runAtTerminal("wrong\n", "snapshots"); err == nil || !strings.Contains(out, "wrong password from the prompt") {
		t.Fatalf("wrong typed password: %v\n%s", err, out)
	}

	if out, err := runAtTerminal("one\ntwo\n", "--config", in.cfg, "init"); err == nil || !strings.Contains(out, "differ") {
		t.Fatalf("mismatched confirmation: %v\n%s", err, out)
	}
}

type promptWatcher struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	prompts chan struct{}
}

func (w *promptWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	before := strings.Count(w.buf.String(), "password: ")
	w.buf.Write(p)

	for i := strings.Count(w.buf.String(), "password: "); i > before; i-- {
		w.prompts <- struct{}{}
	}

	return len(p), nil
}

func (w *promptWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()

	return w.buf.String()
}

func TestKilledProcessLeavesNoConnectionFolder(t *testing.T) {
	stale := filepath.Join(os.TempDir(), "lifeboat-conn-999999999-test")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}

	in := newInstallation(t, "")
	in.mustRun("init")
	in.mustRun("snapshots")

	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("the connection folder of a dead process was not removed")
	}
}

// TestProgressOnTerminal: a backup over a second shows bytes, rate and ETA at
// a terminal, and nothing of the sort when not at one. (Restore and verify
// share the bar; here they finish within the second that keeps it hidden.)
func TestProgressOnTerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("script(1) is needed to give lifeboat a terminal: apt-get install -y bsdutils")
	}

	in := newInstallation(t, "")

	buf := make([]byte, 16<<20)
	for i := 0; i < 30; i++ {
		rand.Read(buf)
		os.WriteFile(filepath.Join(in.data, fmt.Sprintf("f%02d", i)), buf, 0o644)
	}

	in.mustRun("init")

	atTerminal := func(args string) string {
		cmd := exec.Command(scriptBin, "-q", "-e", "-c", binary+" --config "+in.cfg+" "+args, "/dev/null")
		cmd.Env = append(os.Environ(), "LIFEBOAT_PASSWORD=kill-test-password", "TERM=xterm")

		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lifeboat %s at a terminal: %v\n%s", args, err, out)
		}

		return string(out)
	}

	for _, args := range []string{"backup"} {
		out := atTerminal(args)
		if !strings.Contains(out, "MiB/s") || !strings.Contains(out, "ETA") || !strings.Contains(out, "%)") {
			t.Fatalf("no progress bar at a terminal for %s:\n%q", args, out)
		}
	}

	out, errs, _ := in.run("backup")
	if strings.Contains(out+errs, "ETA") || strings.Contains(out+errs, "\r") {
		t.Fatalf("progress drawn when not at a terminal: %q", out+errs)
	}
}

// waitRestorable waits until source db can be recovered to at, as status
// reads it from the repository.
func waitRestorable(t *testing.T, in *installation, at time.Time) {
	t.Helper()

	testenv.EventuallyNoError(t, 30*time.Second, func() error {
		out, errs, _ := in.run("status", "--json")

		var st []struct {
			Source     string    `json:"source"`
			Restorable time.Time `json:"restorable"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return fmt.Errorf("status --json: %v: %s%s", err, out, errs)
		}

		for _, s := range st {
			if s.Source == "db" && !s.Restorable.Before(at) {
				return nil
			}

			if s.Source == "db" {
				return fmt.Errorf("restorable up to %s", s.Restorable.Format(time.RFC3339Nano))
			}
		}

		return fmt.Errorf("status names no source db: %s", out)
	}, "the archive to reach "+at.Format(time.RFC3339Nano))
}

// TestBinlogStreamUntilSIGTERM runs the streamer as its own process, commits
// while it runs, stops it with SIGTERM (exit 0, every segment stored) and
// recovers to the instant after the last commit.
func TestBinlogStreamUntilSIGTERM(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20))")

	in := newInstallation(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n    binlog: {segment_interval: 300ms}\n")
	in.mustRun("init")
	in.mustRun("backup", "db")

	cmd := in.command("binlog", "stream", "db")

	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb

	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	time.Sleep(time.Second) // the commits fall in a later second than the full (binlog events are timed to the second); not a wait
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('one'), ('two'); INSERT INTO shop.orders (item) VALUES ('three')")
	time.Sleep(20 * time.Millisecond) // the instant to recover to falls after the commits; not a wait
	at := time.Now()
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('after')")
	waitRestorable(t, in, at)

	cmd.Process.Signal(syscall.SIGTERM)

	if err := cmd.Wait(); err != nil {
		t.Fatalf("streamer: %v\n%s%s", err, out.String(), errb.String())
	}

	if !strings.Contains(out.String(), "every segment received is stored") || !strings.Contains(out.String(), "(segments every 300ms;") {
		t.Fatalf("streamer output: %s%s", out.String(), errb.String())
	}

	res := in.mustRun("restore", "db", "--to-time", at.Format(time.RFC3339Nano), "--target-database", "shop_then")
	if !strings.Contains(res, "plus 2 binlog transactions") {
		t.Fatalf("restore: %s", res)
	}

	var items string
	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM shop_then.orders").Scan(&items)

	if items != "one,two,three" {
		t.Errorf("recovered %q, want one,two,three", items)
	}
}

func freePort(t *testing.T) string {
	t.Helper()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	return l.Addr().String()
}

// daemonProc is a running `lifeboat daemon`.
type daemonProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	addr string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.b.String()
}

func (in *installation) startDaemon(t *testing.T, addr string) *daemonProc {
	t.Helper()

	d := &daemonProc{cmd: in.command("-v", "daemon"), out: &syncBuffer{}, addr: addr}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out

	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })

	// An address given as https://host:port is a daemon serving HTTPS only
	// (it listens beyond loopback), with its self-signed certificate.
	url, client := "http://"+addr, http.DefaultClient
	if strings.HasPrefix(addr, "https://") {
		url, client = addr, insecureClient
	}

	err := testenv.Poll(20*time.Second, func() error {
		resp, err := client.Get(url + "/readyz")
		if err != nil {
			return err
		}

		resp.Body.Close()

		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answered %s", resp.Status)
		}

		return nil
	})
	if err != nil {
		t.Fatalf("the daemon did not become ready: %v\n%s", err, d.out)
	}

	return d
}

func (d *daemonProc) stop(t *testing.T) {
	t.Helper()

	d.cmd.Process.Signal(syscall.SIGTERM)

	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, d.out)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	b, _ := io.ReadAll(resp.Body)

	return string(b)
}

// TestDaemonSchedulesServesAndCatchesUp runs the real daemon: it backs up on
// its schedule, /metrics shows the results, SIGTERM stops it cleanly, and a
// run missed while it was down is caught up as soon as it starts again.
func TestDaemonSchedulesServesAndCatchesUp(t *testing.T) {
	addr := freePort(t)
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\n")
	in.setSource(t, "  data:\n    type: files\n    tier: critical\n    paths: ["+in.data+"]\n    schedule: \"@every 3s\"\n    retention: {latest: 2}\njobs: {prune: \"@every 4s\", verify: \"@every 5s\"}\n")
	os.WriteFile(filepath.Join(in.data, "a.txt"), []byte("hello"), 0o644)
	in.mustRun("init")

	out := in.mustRun("schedule")
	for _, want := range []string{"backup data incremental", "@every 3s", "prune", "verify"} {
		if !strings.Contains(out, want) {
			t.Fatalf("schedule lacks %q:\n%s", want, out)
		}
	}

	d := in.startDaemon(t, addr)

	if h := get(t, "http://"+addr+"/healthz"); !strings.Contains(h, "ok") {
		t.Fatalf("/healthz: %q", h)
	}

	// The first run is caught up at start (it never ran); then every 3s.
	testenv.Eventually(t, 30*time.Second, func() bool { return len(in.snapshots()) >= 2 }, "two scheduled backups")

	var m string

	// What it lacks then is reported below, metric by metric.
	testenv.Poll(30*time.Second, func() error { //nolint:errcheck
		if m = get(t, "http://"+addr+"/metrics"); !strings.Contains(m, "lifeboat_verify_last_success{source=\"data\"} 1") {
			return errors.New("no verification yet")
		}

		return nil
	})

	for _, want := range []string{
		`lifeboat_backup_last_success_timestamp_seconds{source="data",type="incremental"}`,
		`lifeboat_backup_schedule_interval_seconds{source="data",type="incremental"} 3`,
		`lifeboat_backup_failures_total{source="data",type="incremental"} 0`,
		`lifeboat_rpo_objective_seconds{source="data"} 3600`,
		`lifeboat_rpo_seconds{source="data"}`,
		`lifeboat_repository_up 1`,
		`lifeboat_verify_last_success{source="data"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	d.stop(t)

	if !strings.Contains(d.out.String(), "lifeboat daemon: stopped") {
		t.Errorf("no clean stop:\n%s", d.out)
	}

	// Prune kept at most the two latest (plus the newest verified).
	if n := len(in.snapshots()); n > 3 {
		t.Errorf("%d snapshots after prunes with latest: 2", n)
	}

	// Down for longer than the schedule: the missed run happens at start,
	// before the next regular one would (3 s later).
	time.Sleep(4 * time.Second) // the daemon stays down past a scheduled run: the wall clock the binary reads must pass it

	before := len(in.snapshots())
	restart := time.Now()
	d = in.startDaemon(t, addr)

	caughtUp := func() error {
		if n := len(in.snapshots()); n == before {
			return fmt.Errorf("still %d snapshots", n)
		}

		return nil
	}
	if err := testenv.Poll(2500*time.Millisecond-time.Since(restart), caughtUp); err != nil {
		t.Fatalf("no catch-up run within 2.5 s of the restart: %v\n%s", err, d.out)
	}

	if !strings.Contains(d.out.String(), "catching up a run missed while the daemon was down") {
		t.Errorf("the catch-up is not logged:\n%s", d.out)
	}

	d.stop(t)

	out = in.mustRun("audit")
	for _, want := range []string{"daemon start", "backup", "prune", "verify", "daemon stop"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %q", want)
		}
	}

	in.mustRun("audit", "verify")
}

// TestDaemonSIGTERMMidBackup: a backup still running when the stop timeout
// ends is aborted and saves nothing; the daemon exits cleanly.
func TestDaemonSIGTERMMidBackup(t *testing.T) {
	addr := freePort(t)
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\ndaemon: {stop_timeout: 1s}\n")
	in.setSource(t, "  data:\n    type: files\n    paths: ["+in.data+"]\n    schedule: \"@hourly\"\n")

	buf := make([]byte, 8<<20)
	for i := 0; i < 100; i++ {
		rand.Read(buf)
		os.WriteFile(filepath.Join(in.data, fmt.Sprintf("f%03d", i)), buf, 0o644)
	}

	in.mustRun("init")

	d := in.startDaemon(t, addr)

	// The catch-up backup starts at once; stop in the middle of it.
	testenv.Eventually(t, 30*time.Second, func() bool { return strings.Contains(d.out.String(), "job started") }, "the catch-up backup to start")

	began := time.Now()
	d.stop(t)

	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("stopping took %s with a 1s stop timeout", took)
	}

	if !strings.Contains(d.out.String(), "being aborted") {
		t.Fatalf("the backup was not running when SIGTERM came (machine too fast for this data?):\n%s", d.out)
	}

	if s := in.snapshots(); len(s) != 0 {
		t.Fatalf("an aborted backup saved %+v", s)
	}
}

// TestDaemonRefusesBusyPort: a port already in use stops the daemon before
// anything runs, with a message naming the setting.
func TestDaemonRefusesBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	in := newInstallation(t, "server: {listen: \""+l.Addr().String()+"\"}\n")
	in.mustRun("init")

	_, errs, code := in.run("daemon")
	if code != 2 || !strings.Contains(errs, "server.listen "+l.Addr().String()) || !strings.Contains(errs, "address already in use") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// TestDaemonNotifiesOncePerEpisode: a source failing on every run sends one
// webhook message; fixing it sends one recovery.
func TestDaemonNotifiesOncePerEpisode(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)

	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)

		mu.Lock()
		got = append(got, fmt.Sprint(m["event"], " ", m["subject"]))
		mu.Unlock()
	}))
	defer hook.Close()

	addr := freePort(t)
	missing := filepath.Join(t.TempDir(), "not-there-yet")
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\nnotify: {webhook: {url: \""+hook.URL+"\"}}\n")
	in.setSource(t, "  web:\n    type: files\n    paths: ["+missing+"]\n    schedule: \"@every 1s\"\n")
	in.mustRun("init")

	d := in.startDaemon(t, addr)

	sent := func(want string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()

			return slices.Contains(got, want)
		}
	}

	testenv.Eventually(t, 30*time.Second, func() bool { return strings.Count(d.out.String(), "job failed") >= 3 }, "three failed runs")
	testenv.Eventually(t, 30*time.Second, sent("failure backup web incremental"), "the failure notification")

	os.MkdirAll(missing, 0o755)
	testenv.Eventually(t, 30*time.Second, sent("recovery backup web incremental"), "the recovery notification")
	// Runs after the recovery: none may notify again.
	n := strings.Count(d.out.String(), "job finished")
	testenv.Eventually(t, 30*time.Second, func() bool { return strings.Count(d.out.String(), "job finished") >= n+2 }, "two more successful runs")
	d.stop(t)

	mu.Lock()
	defer mu.Unlock()

	if strings.Join(got, ",") != "failure backup web incremental,recovery backup web incremental" {
		t.Fatalf("webhook got %v; the daemon said:\n%s", got, d.out)
	}

	if n := strings.Count(d.out.String(), "job failed"); n < 3 {
		t.Errorf("only %d failed runs: the test did not exercise repeated failures", n)
	}
}

// TestDaemonStreamsBinlog: a database source with binlog.stream is archived
// by the daemon (which takes the first full itself), the metrics show the
// stream, and the data committed while it ran recovers.
func TestDaemonStreamsBinlog(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20))")

	addr := freePort(t)
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\n")
	in.setSource(t, "  db:\n    type: mysql\n    tier: critical\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n    binlog: {stream: true, segment_seconds: 1}\n")
	in.mustRun("init")

	d := in.startDaemon(t, addr)

	testenv.Eventually(t, 30*time.Second, func() bool { return len(in.snapshots()) > 0 }, "the daemon's first full")

	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('by the daemon')")
	time.Sleep(20 * time.Millisecond) // the instant to recover to falls after the insert; not a wait
	at := time.Now()

	var m string

	// What it lacks then is reported below.
	testenv.Poll(30*time.Second, func() error { //nolint:errcheck
		m = get(t, "http://"+addr+"/metrics")
		if strings.Contains(m, `lifeboat_binlog_streaming{source="db"} 1`) && strings.Contains(m, `lifeboat_binlog_lag_seconds{source="db"}`) {
			return nil
		}

		return errors.New("not streaming yet")
	})

	if !strings.Contains(m, `lifeboat_binlog_streaming{source="db"} 1`) || !strings.Contains(m, `lifeboat_rpo_seconds{source="db"}`) {
		t.Fatalf("/metrics:\n%s\ndaemon:\n%s", m, d.out)
	}

	waitRestorable(t, in, at)
	d.stop(t)

	out := in.mustRun("restore", "db", "--to-time", at.Format(time.RFC3339Nano), "--target-database", "shop_then")
	if !strings.Contains(out, "plus 1 binlog transactions") {
		t.Fatalf("restore: %s", out)
	}
}

// TestDaemonSchedulesRestoreTestsAndDrills: the daemon runs the restore test
// and a plan's drill on their schedules and exports their results and the
// measured RTO next to the objective.
func TestDaemonSchedulesRestoreTestsAndDrills(t *testing.T) {
	addr := freePort(t)
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\n")
	etc := t.TempDir()
	os.WriteFile(filepath.Join(etc, "app.conf"), []byte("x=1"), 0o644)
	in.setSource(t, "  data:\n    type: files\n    tier: critical\n    paths: ["+in.data+"]\n    schedule: \"@every 2s\"\n"+
		"  etc:\n    type: files\n    paths: ["+etc+"]\n"+
		"jobs: {restore_test: \"@every 3s\", point: \"@every 3s\"}\n"+
		"copies:\n  near:\n    path: "+filepath.Join(t.TempDir(), "near")+"\n    schedule: \"@every 3s\"\n"+
		"plans:\n  data:\n    drill: \"@every 3s\"\n    steps:\n      - restore: data\n      - run: \"true\"\n        drill: \"test -f $LIFEBOAT_RESTORED_DATA/a.txt\"\n")
	os.WriteFile(filepath.Join(in.data, "a.txt"), []byte("hello"), 0o644)
	in.mustRun("init")

	d := in.startDaemon(t, addr)

	var m string

	want := []string{
		`lifeboat_restore_test_last_success{source="data"} 1`,
		`lifeboat_drill_last_result{plan="data"} 1`,
		`lifeboat_recovery_duration_seconds{mode="drill",plan="data",step="total"}`,
		`lifeboat_recovery_duration_seconds{mode="drill",plan="data",step="1. restore data"}`,
		`lifeboat_recovery_duration_seconds{mode="drill",plan="data",step="2. run"}`,
		`lifeboat_recovery_rto_objective_seconds{plan="data"} 14400`,
		`lifeboat_recovery_rpo_seconds{mode="drill",plan="data"}`,
		`lifeboat_drill_last_success_timestamp_seconds{plan="data"}`,
		`lifeboat_copy_last_replicated_timestamp_seconds{copy="near",offline="false",offsite="false"}`,
		`lifeboat_source_copies{source="data"} 2`,
		`lifeboat_source_copy_media{source="data"} 1`,
	}

	// What is still missing then is reported below, metric by metric.
	testenv.Poll(60*time.Second, func() error { //nolint:errcheck
		m = get(t, "http://"+addr+"/metrics")

		for _, w := range want {
			if !strings.Contains(m, w) {
				return errors.New("lacks " + w)
			}
		}

		return nil
	})

	d.stop(t)

	for _, w := range want {
		if !strings.Contains(m, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}

	// Steps are named by number and kind: no command reaches a label.
	if strings.Contains(m, "test -f") || strings.Contains(m, "run: true") {
		t.Errorf("a plan's command reached the metrics:\n%s", m)
	}

	// The scheduled group: every source together, one recovery point.
	var pts []struct {
		Snapshots map[string]string `json:"snapshots"`
	}

	if err := json.Unmarshal([]byte(in.mustRun("points", "--json")), &pts); err != nil || len(pts) == 0 || len(pts[0].Snapshots) != 2 {
		t.Errorf("points after the scheduled group backup: %v %+v", err, pts)
	}

	audit := in.mustRun("audit")
	if !strings.Contains(audit, "restore test") || !strings.Contains(audit, "drill") {
		t.Errorf("audit lacks the daemon's restore tests and drills:\n%s", audit)
	}
}
