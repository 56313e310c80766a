package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
)

// TestExitCodeNumbers pins the numbers scripts branch on, and that the root
// help and the README list each with its meaning.
func TestExitCodeNumbers(t *testing.T) {
	want := map[int]int{
		ExitOK: 0, ExitFailed: 1, ExitUsage: 2, ExitPartial: 3, ExitOutOfObjective: 4,
		ExitNoRepository: 10, ExitBusy: 11, ExitWrongPassword: 12,
	}
	if len(want) != len(exitCodes) {
		t.Fatalf("%d codes pinned here, %d in the exit code table: pin the new one", len(want), len(exitCodes))
	}

	for got, w := range want {
		if got != w {
			t.Errorf("exit code %d changed to %d: a script written for %d now misreads it", w, got, w)
		}
	}

	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+t.TempDir()+"]\n")
	help := e.mustRun("--help")
	readme := readFile(t, filepath.Join("..", "..", "README.md"))

	for _, c := range exitCodes {
		if line := fmt.Sprintf("  %-3d %s", c.code, c.meaning); !strings.Contains(help, line) {
			t.Errorf("lifeboat --help lacks %q:\n%s", line, help)
		}

		if row := fmt.Sprintf("| %d | ", c.code); !strings.Contains(readme, row) {
			t.Errorf("README.md's exit code table has no row %q", row)
		}
	}
}

// TestExitFailed: a backup whose only source cannot be read fails (1),
// saying why, and keeps no snapshot.
func TestExitFailed(t *testing.T) {
	e, _ := filesEnv(t)
	gone := filepath.Join(t.TempDir(), "gone")
	e.writeConfig(readFile(t, e.cfg) + "  gone:\n    type: files\n    paths: [" + gone + "]\n")
	before := len(e.snapshots(""))

	e.expectFailure(ExitFailed, []string{"path " + gone + " does not exist", "backup failed for: gone"}, "backup", "gone")

	if n := len(e.snapshots("")); n != before {
		t.Errorf("a failed backup changed the snapshots: %d, were %d", n, before)
	}
}

// TestExitUsage: a mistyped flag and a missing password are the user's to
// fix (2), and change nothing.
func TestExitUsage(t *testing.T) {
	e, _ := filesEnv(t)
	before := e.repoFiles()

	e.expectFailure(ExitUsage, []string{"unknown flag: --no-such-flag"}, "backup", "--no-such-flag")

	delete(e.vars, EnvPassword)
	e.expectFailure(ExitUsage, []string{"no password", EnvPassword}, "backup")

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("the repository changed after a refused command")
	}
}

// TestExitPartialSources: a backup of several sources of which one fails
// keeps the others' snapshots and says so (3); as a recovery point (every
// source) it records no point. A replication to several copies of which one
// fails leaves the others up to date (3).
func TestExitPartialSources(t *testing.T) {
	e, _ := filesEnv(t)
	gone := filepath.Join(t.TempDir(), "gone")
	e.writeConfig(readFile(t, e.cfg) + "  gone:\n    type: files\n    paths: [" + gone + "]\n")
	before := len(e.snapshots("uploads"))

	r := e.expectFailure(ExitPartial, []string{"path " + gone + " does not exist", "backup failed for: gone (the snapshots of the others are kept)"}, "backup", "uploads", "gone")
	if !strings.Contains(r.out, "uploads: full snapshot") {
		t.Errorf("the source that was backed up is not reported:\n%s", r.out)
	}

	e.expectFailure(ExitPartial, []string{"no recovery point recorded: not every source was backed up", "backup failed for: gone"}, "backup")

	if n := len(e.snapshots("uploads")); n != before+2 {
		t.Errorf("uploads has %d snapshots, want %d: a partial backup must keep what it took", n, before+2)
	}

	if out := e.mustRun("points"); strings.Contains(out, "uploads") {
		t.Errorf("a partial run recorded a recovery point:\n%s", out)
	}

	// A copy whose folder cannot be made (a file is in the way) fails; the
	// other is brought up to date and opens with every snapshot.
	blocker := filepath.Join(t.TempDir(), "a-file")
	write(t, blocker, "not a folder")

	near := filepath.Join(t.TempDir(), "near")
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "sources:", "copies:\n  near:\n    path: "+near+"\n  blocked:\n    path: "+filepath.Join(blocker, "copy")+"\nsources:", 1))

	e.expectFailure(ExitPartial, []string{"error: copy blocked:", "replication failed for: blocked"}, "replicate")

	if n := len(snapshotsFrom(t, e, "near")); n != before+2 {
		t.Errorf("copy near holds %d snapshots after a partial replication, want %d", n, before+2)
	}
}

func snapshotsFrom(t *testing.T, e *env, copyName string) []*repo.Snapshot {
	t.Helper()

	var snaps []*repo.Snapshot
	if err := json.Unmarshal([]byte(e.mustRun("--from", copyName, "snapshots", "--json")), &snaps); err != nil {
		t.Fatalf("--from %s snapshots --json: %v", copyName, err)
	}

	return snaps
}

// TestExitOutOfObjective: status exits 4 when a source's RPO is past its
// tier's objective, and 0 within it.
func TestExitOutOfObjective(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(data, "a.txt"), "alpha")

	e := newEnv(t, "  uploads:\n    type: files\n    tier: tight\n    paths: ["+data+"]\n")
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "sources:", "tiers:\n  tight: {rto: 1h, rpo: 1m}\nsources:", 1))
	e.mustRun("init")
	e.mustRun("backup")
	e.mustRun("status")

	e.clock = clock.NewFake(time.Now().Add(2 * time.Minute))
	r := e.expectFailure(ExitOutOfObjective, []string{"1 source is out of objective"}, "status")

	if !strings.Contains(r.out, "above the tight tier's objective of 1m00s") {
		t.Errorf("status does not say which objective is missed:\n%s", r.out)
	}
}

// TestExitNoRepository: a command on a location that holds no repository
// exits 10 (2 before), says to run init, and creates nothing there.
func TestExitNoRepository(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(data, "a.txt"), "alpha")
	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")

	for _, args := range [][]string{{"backup"}, {"snapshots"}, {"status"}} {
		e.expectFailure(ExitNoRepository, []string{"no repository here", "lifeboat init"}, args...)
	}

	if _, err := os.Stat(filepath.Join(e.dir, "repo")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused command created the repository folder: %v", err)
	}
}

// TestExitBusy: a backup of a source another process is backing up is
// refused (11), naming the holder, and takes no snapshot; once the lock is
// let go, the same command succeeds.
func TestExitBusy(t *testing.T) {
	e, _ := filesEnv(t)
	before := len(e.snapshots(""))

	r, err := repo.Open(context.Background(), filepath.Join(e.dir, "repo"), repo.Password{Value: testPassword}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())

	held, err := r.LockSources([]string{"uploads"}, "lifeboat backup uploads")
	if err != nil {
		t.Fatal(err)
	}

	e.expectFailure(ExitBusy, []string{"refused: another lifeboat process is running", "`lifeboat backup uploads`", "holds source uploads"}, "backup", "uploads")

	if n := len(e.snapshots("")); n != before {
		t.Errorf("a refused backup changed the snapshots: %d, were %d", n, before)
	}

	held.Release()
	e.mustRun("backup", "uploads")
}

// TestExitWrongPassword: a password that does not open the repository exits
// 12 (2 before), never echoes it, and leaves the repository as it was: the
// right password still lists every snapshot.
func TestExitWrongPassword(t *testing.T) {
	e, _ := filesEnv(t)
	before := e.repoFiles()
	snaps := e.snapshots("")

	e.vars[EnvPassword] = "not-the-password"

	for _, args := range [][]string{{"backup"}, {"snapshots"}, {"prune"}} {
		r := e.expectFailure(ExitWrongPassword, []string{"wrong password", "$" + EnvPassword}, args...)
		if strings.Contains(r.out+r.err, "not-the-password") {
			t.Fatalf("lifeboat %s echoed the wrong password", args[0])
		}
	}

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("the repository changed after a wrong password")
	}

	e.vars[EnvPassword] = testPassword
	if got := e.snapshots(""); len(got) != len(snaps) || got[0].ID != snaps[0].ID {
		t.Fatalf("after a wrong password the snapshots are %+v, were %+v", got, snaps)
	}
}
