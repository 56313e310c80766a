package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// TestRekey: a rekey killed (SIGKILL, as its own process) at three points
// (during the copy, after it, between the switch's two renames) resumes and
// completes; a backup taken during the copy is carried over; afterwards
// every snapshot restores from the new repository as it did from the old,
// the new password opens it and the old one does not, and the old
// repository is kept until --retire.
func TestRekey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "uploads")
	write(t, filepath.Join(data, "second.txt"), strings.Repeat("second ", 3000))
	e.mustRun("backup", "uploads")

	const newPW = "rekeyed-pass-3c9a"
	e.vars["NEW_PW"] = newPW
	repoDir := filepath.Join(e.dir, "repo")

	// 1. Killed during the copy, after a backup ran while it copied.
	pause := t.TempDir()
	p := e.startAsMain(map[string]string{envPauseAt: "copied 1", envPauseDir: pause, envKillAt: "copied 2"}, "key", "rekey", "--new-password-env", "NEW_PW")

	testenv.Eventually(t, time.Minute, func() bool { return exists(filepath.Join(pause, "paused")) }, "the rekey to copy its first snapshot")
	write(t, filepath.Join(data, "during.txt"), "written while the rekey copied")
	e.mustRun("backup", "uploads")
	write(t, filepath.Join(pause, "resume"), "")
	p.killed(t)

	if !exists(filepath.Join(repoDir+".rekey", "kopia.repository.f")) {
		t.Fatal("the killed rekey left no new repository to resume")
	}

	// 2. Killed once everything is copied, before the final pass.
	e.startAsMain(map[string]string{envKillAt: "copied"}, "key", "rekey", "--new-password-env", "NEW_PW").killed(t)

	// 3. Killed between the switch's two renames.
	e.startAsMain(map[string]string{envKillAt: "switching"}, "key", "rekey", "--new-password-env", "NEW_PW").killed(t)

	if exists(repoDir) {
		t.Fatal("the switch was not killed between its renames")
	}

	if out := e.mustRun("key", "rekey", "--new-password-env", "NEW_PW"); !strings.Contains(out, "Finished the switch") {
		t.Fatalf("resumed switch:\n%s", out)
	}

	retired, _ := filepath.Glob(repoDir + ".retired-*")
	if len(retired) != 1 {
		t.Fatalf("retired repositories: %v", retired)
	}

	// The old password no longer opens the repository; the new one does
	// and holds all three backups, the one taken during the copy too.
	e.expectFailure(ExitWrongPassword, []string{"wrong password"}, "snapshots")
	e.vars[EnvPassword] = newPW

	snaps := e.snapshots("uploads")
	if len(snaps) != 3 {
		t.Fatalf("the new repository holds %d backups, want 3", len(snaps))
	}

	// Every snapshot restores as in the old repository.
	for i, sn := range snaps {
		got := filepath.Join(t.TempDir(), "new")
		e.mustRun("restore", "uploads", "--snapshot", sn.ID, "--target", got)

		e.vars[EnvPassword] = testPassword
		want := filepath.Join(t.TempDir(), "old")
		oldSnaps := e.snapshotsAt(retired[0])
		e.mustRun("--repo", retired[0], "restore", "uploads", "--snapshot", oldSnaps[i], "--target", want)
		e.vars[EnvPassword] = newPW

		if !sameMap(treeOf(t, got), treeOf(t, want)) {
			t.Fatalf("snapshot %d restores differently from the new repository", i)
		}
	}

	// The old key does not open the new repository: its password is
	// refused there even with --repo.
	e.vars[EnvPassword] = testPassword
	e.expectFailure(ExitWrongPassword, []string{"wrong password"}, "--repo", repoDir, "snapshots")
	e.vars[EnvPassword] = newPW

	if out := e.mustRun("key", "rekey", "--retire"); !strings.Contains(out, "deleted the retired repository") || exists(retired[0]) {
		t.Fatalf("retire:\n%s", out)
	}
}

// proc is a lifeboat process a test started.
type proc struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// startAsMain starts the test binary as lifeboat on this installation, with
// the environment's variables and extra ones.
func (e *env) startAsMain(extra map[string]string, args ...string) *proc {
	e.t.Helper()

	p := &proc{cmd: exec.Command(os.Args[0], append([]string{"--config", e.cfg}, args...)...)}
	p.cmd.Env = append(os.Environ(), envAsMain+"=1")

	for k, v := range e.vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}

	for k, v := range extra {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}

	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out

	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}

	return p
}

// killed waits for the process and fails unless SIGKILL ended it.
func (p *proc) killed(t *testing.T) {
	t.Helper()

	err := p.cmd.Wait()

	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the rekey was not killed (%v):\n%s", err, p.out.String())
	}
}

// snapshotsAt lists a repository's uploads snapshot IDs, oldest first.
func (e *env) snapshotsAt(where string) []string {
	e.t.Helper()

	out := e.mustRun("--repo", where, "snapshots", "--source", "uploads", "--json")

	var ids []string

	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, `"id": "`); i >= 0 {
			ids = append(ids, strings.SplitN(l[i+7:], `"`, 2)[0])
		}
	}

	return ids
}

// treeOf maps every file under root to its content's length and first bytes.
func treeOf(t *testing.T, root string) map[string]int64 {
	t.Helper()

	out := map[string]int64{}

	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			h := int64(0)

			for _, c := range b {
				h = h*31 + int64(c)
			}

			out[rel] = h
		}

		return nil
	})

	return out
}

// TestRekeyPointInTime: a database's full backup and binlog archived before
// a rekey, and binlog archived after it, recover together to the newest
// instant from the new repository.
func TestRekeyPointInTime(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE sml_library;
		CREATE TABLE sml_library.bookings (id INT PRIMARY KEY AUTO_INCREMENT, room VARCHAR(10));
		INSERT INTO sml_library.bookings (room) VALUES ('A1'), ('A2')`)

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [sml_library]\n    binlog: {server_id: 778, segment_seconds: 1}\n")
	e.mustRun("init")
	e.mustRun("backup", "db")
	db.Exec(t, "INSERT INTO sml_library.bookings (room) VALUES ('B1')")
	e.mustRun("backup", "db", "--type", "incremental")

	e.vars["NEW_PW"] = "rekeyed-db-pass-81f0"
	e.mustRun("key", "rekey", "--new-password-env", "NEW_PW")
	e.vars[EnvPassword] = "rekeyed-db-pass-81f0"

	db.Exec(t, "INSERT INTO sml_library.bookings (room) VALUES ('C1')")
	e.mustRun("backup", "db", "--type", "incremental")

	out := e.mustRun("restore", "db", "--target-database", "sml_after")
	if !strings.Contains(out, "binlog transactions") {
		t.Fatalf("restore across the rekey: %s", out)
	}

	var rooms string
	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(room ORDER BY id) FROM sml_after.bookings").Scan(&rooms)

	if rooms != "A1,A2,B1,C1" {
		t.Fatalf("recovered across the rekey: rooms %q, want A1,A2,B1,C1", rooms)
	}
}
