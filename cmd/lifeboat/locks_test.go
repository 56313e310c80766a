package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// startBackup starts `lifeboat backup` and returns once it has written to
// the repository, so it holds its locks.
func startBackup(t *testing.T, in *installation) (pid int, wait func() (string, error)) {
	t.Helper()

	before := dirSize(t, in.repo)
	cmd, wait := startUntil(t, in.command("backup"), func() bool { return dirSize(t, in.repo) >= before+(16<<20) })

	return cmd.Process.Pid, wait
}

// TestSecondBackupAndReclaimRefused runs a backup and, beside it, a second
// backup of the same source and a prune --reclaim-now: both are refused,
// naming the running backup, and the first completes. The daemon's backup of
// a source another process holds is skipped, saying so. A killed backup's
// lock does not block the next one.
func TestSecondBackupAndReclaimRefused(t *testing.T) {
	addr := freePort(t)
	in := newInstallation(t, "    schedule: {full: \"@every 1h\"}\nserver: {listen: \""+addr+"\"}\n")

	fill := func() {
		buf := make([]byte, 8<<20)
		for i := 0; i < 40; i++ {
			rand.Read(buf)

			if err := os.WriteFile(filepath.Join(in.data, fmt.Sprintf("f%02d", i)), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	fill()
	in.mustRun("init")

	pid, wait := startBackup(t, in)
	holder := fmt.Sprintf("pid %d, `lifeboat backup data`", pid)

	out, errs, code := in.run("backup", "data")
	if code != 11 || !strings.Contains(errs, holder) || !strings.Contains(errs, "and holds source data") {
		t.Errorf("a second backup of the source: exit %d, want 11 naming the running one (%s)\n%s%s", code, holder, out, errs)
	}

	out, errs, code = in.run("prune", "--reclaim-now")
	if code != 11 || !strings.Contains(errs, holder) || !strings.Contains(errs, "this run needs it to itself") {
		t.Errorf("prune --reclaim-now during a backup: exit %d, want 11 naming the backup (%s)\n%s%s", code, holder, out, errs)
	}

	if errs, err := wait(); err != nil {
		t.Fatalf("the first backup failed: %v\n%s", err, errs)
	}

	if s := in.snapshots(); len(s) != 1 || s[0].Files != 40 {
		t.Fatalf("want the first backup's snapshot only, got %+v", s)
	}

	// The daemon's backup of the source, caught up at its start, is skipped
	// while another process holds the source (this test, here), saying why.
	r, err := repo.Open(context.Background(), in.repo, repo.Password{Value: "kill-test-password"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	held, err := r.LockSources([]string{"data"}, "the test")
	if err != nil {
		t.Fatal(err)
	}

	d := in.startDaemon(t, addr)
	audit := filepath.Join(in.dir, "audit.jsonl")

	skipped := func() error {
		if b, _ := os.ReadFile(audit); strings.Contains(string(b), "job skipped") && strings.Contains(string(b), fmt.Sprintf("pid %d, `the test`", os.Getpid())) {
			return nil
		}

		return errors.New("no skip audited")
	}
	if err := testenv.Poll(time.Minute, skipped); err != nil {
		t.Fatalf("the daemon's backup was not skipped while another process held the source: %v\n%s", err, d.out)
	}

	d.stop(t)
	held.Release()
	r.Close(context.Background())

	// A killed backup leaves its lock files; the locks die with it.
	fill()
	pid, wait = startBackup(t, in)
	syscall.Kill(pid, syscall.SIGKILL)
	wait()

	in.mustRun("backup", "data")
	in.mustRun("prune", "--reclaim-now")
}

// TestReclaimRefusedWhileDaemonRuns: the daemon may write at any moment, so
// prune --reclaim-now is refused while it runs, naming it, and runs once it
// has stopped.
func TestReclaimRefusedWhileDaemonRuns(t *testing.T) {
	addr := freePort(t)
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\n")
	in.mustRun("init")

	d := in.startDaemon(t, addr)

	out, errs, code := in.run("prune", "--reclaim-now")
	if code != 11 || !strings.Contains(errs, "`lifeboat daemon`") || !strings.Contains(errs, "this run needs it to itself") {
		t.Errorf("prune --reclaim-now while the daemon runs: exit %d, want 11 naming the daemon\n%s%s", code, out, errs)
	}

	d.stop(t)
	in.mustRun("prune", "--reclaim-now")
}
