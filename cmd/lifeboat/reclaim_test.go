package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReclaimAfterFullDiskBackup fills the repository's disk with a backup
// that fails, then gives the space back with one prune --reclaim-now, which
// says how much.
func TestReclaimAfterFullDiskBackup(t *testing.T) {
	in := newInstallation(t, "")

	// The repository on a tmpfs of 48 MiB; 64 MiB of random data to back up.
	mountTmpfs(t, in.repo, "48m")

	write := func(name string, size int) {
		b := make([]byte, size)
		rand.Read(b)

		if err := os.WriteFile(filepath.Join(in.data, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	write("small.bin", 1<<20)
	in.mustRun("init")
	in.mustRun("backup")

	before := dirSize(t, in.repo)

	for i := 0; i < 8; i++ {
		write(fmt.Sprintf("big-%d.bin", i), 8<<20)
	}

	// Checkpoints index what the backup uploaded as it goes: the failed
	// run leaves indexed data no snapshot refers to, besides loose packs.
	out, errs, code := in.run("backup", "--checkpoint-interval", "200ms")
	if code == 0 || !strings.Contains(out+errs, "no space left") {
		t.Fatalf("a backup onto a full disk: exit %d, want a failure naming the full disk\n%s%s", code, out, errs)
	}

	failed := dirSize(t, in.repo)
	if failed < before+16<<20 {
		t.Fatalf("the failed backup left only %d bytes: the test no longer fills the disk", failed-before)
	}

	// Room to work: what a user does first (kopia writes its index and
	// maintenance records).
	if out, err := exec.Command("mount", "-o", "remount,size=128m", in.repo).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v: %s", err, out)
	}

	out = in.mustRun("prune", "--reclaim-now")

	after := dirSize(t, in.repo)
	if after > before+(1<<20) {
		t.Errorf("one prune --reclaim-now left %d bytes of the failed backup (%d before it, %d after it, %d after the prune)\n%s", after-before, before, failed, after, out)
	}

	if !strings.Contains(out, "the repository went from") {
		t.Errorf("prune should say how much it gave back:\n%s", out)
	}

	if s := in.snapshots(); len(s) != 1 {
		t.Fatalf("want the first snapshot, got %+v", s)
	}

	in.mustRun("verify")
}

// TestKilledReclaimThenOneRun kills a prune --reclaim-now as soon as it
// changes the repository; the next prune --reclaim-now alone gives back all
// the deleted snapshots' space.
func TestKilledReclaimThenOneRun(t *testing.T) {
	in := newInstallation(t, "    retention: {latest: 1}\n")
	in.mustRun("init")

	const each = 6 << 20

	for i := 0; i < 6; i++ {
		b := make([]byte, each)
		rand.Read(b)

		if err := os.WriteFile(filepath.Join(in.data, "f.bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}

		in.mustRun("backup")
	}

	before := dirSize(t, in.repo)

	cmd, wait := startUntil(t, in.command("prune", "--reclaim-now"), func() bool { return dirSize(t, in.repo) != before })
	cmd.Process.Kill()
	wait()

	out := in.mustRun("prune", "--reclaim-now")

	// What stays is the latest snapshot's file and some metadata.
	if after := dirSize(t, in.repo); after > each+(2<<20) {
		t.Errorf("after a killed prune, one more left %d bytes, want about %d (%d before)\n%s", after, each, before, out)
	}

	if s := in.snapshots(); len(s) != 1 {
		t.Fatalf("want the latest snapshot, got %+v", s)
	}

	in.mustRun("verify")
}
