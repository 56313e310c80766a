package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// restoreMarker is the file an unfinished restore leaves in its target.
const restoreMarker = ".lifeboat-restore-incomplete"

// interruptedData fills the installation's source with small files and one
// large one (random, so the repository stores it all) and backs it up.
func interruptedData(t *testing.T, in *installation, big int) {
	t.Helper()

	buf := make([]byte, 64<<10)
	for i := 0; i < 12; i++ {
		rand.Read(buf)

		if err := os.WriteFile(filepath.Join(in.data, fmt.Sprintf("small-%02d", i)), buf, 0o640); err != nil {
			t.Fatal(err)
		}
	}

	b := make([]byte, big)
	rand.Read(b)

	if err := os.WriteFile(filepath.Join(in.data, "big.bin"), b, 0o600); err != nil {
		t.Fatal(err)
	}

	old := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(in.data, "big.bin"), old, old)

	in.mustRun("init")
	in.mustRun("backup")
}

// noFalseFiles fails when a file in target has the real name and final size
// of a source file without its content: a file that looks restored but is not.
func noFalseFiles(t *testing.T, src, target string) {
	t.Helper()

	filepath.Walk(target, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}

		rel, _ := filepath.Rel(target, p)

		want, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil || int64(len(want)) != fi.Size() {
			return nil
		}

		if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Errorf("%s has its final size (%d) but not its content after an interrupted restore", rel, fi.Size())
		}

		return nil
	})
}

// sameTree fails unless target holds exactly the files of src, with their
// content, mode and modification time.
func sameTree(t *testing.T, src, target string) {
	t.Helper()

	seen := map[string]bool{}

	filepath.Walk(target, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == target {
			return nil
		}

		rel, _ := filepath.Rel(target, p)
		seen[rel] = true

		sfi, err := os.Lstat(filepath.Join(src, rel))
		if err != nil {
			t.Errorf("%s is in the restored tree but not in the source", rel)
			return nil
		}

		if sfi.Mode() != fi.Mode() || !sfi.ModTime().Equal(fi.ModTime()) {
			t.Errorf("%s: mode %v time %v, want %v %v", rel, fi.Mode(), fi.ModTime(), sfi.Mode(), sfi.ModTime())
		}

		if fi.Mode().IsRegular() {
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(filepath.Join(src, rel))

			if !bytes.Equal(a, b) {
				t.Errorf("%s: restored content differs from the source", rel)
			}
		}

		return nil
	})

	filepath.Walk(src, func(p string, _ os.FileInfo, err error) error {
		if rel, _ := filepath.Rel(src, p); err == nil && p != src && !seen[rel] {
			t.Errorf("%s was not restored", rel)
		}

		return nil
	})
}

// TestKilledRestoreResumes kills a restore while it writes a large file. No
// file in the target may look restored without being so, the target says it
// is incomplete, and the same restore again, without --overwrite, finishes it.
func TestKilledRestoreResumes(t *testing.T) {
	in := newInstallation(t, "")

	const big = 256 << 20

	interruptedData(t, in, big)

	target := filepath.Join(in.dir, "restored")
	// Kill once a quarter of the large file's data is on disk (blocks, not
	// sizes: a file extended to its final size first has holes).
	cmd, wait := startUntil(t, in.command("restore", "data", "--target", target), func() bool { return allocated(target) >= big/4 })
	cmd.Process.Signal(syscall.SIGKILL)

	if _, err := wait(); err == nil {
		t.Fatal("the restore finished before SIGKILL arrived")
	}

	noFalseFiles(t, in.data, target)

	if _, err := os.Stat(filepath.Join(target, restoreMarker)); err != nil {
		t.Fatalf("the killed restore left no %s in its target: %v", restoreMarker, err)
	}

	// status points at it.
	_, errs, _ := in.run("status")
	if !strings.Contains(errs, "the restore into "+target+" is incomplete") || !strings.Contains(errs, "lifeboat restore data --snapshot ") {
		t.Errorf("status does not mention the interrupted restore:\n%s", errs)
	}

	out := in.mustRun("restore", "data", "--target", target)
	if !strings.Contains(out, "resuming") || !strings.Contains(out, "finished the interrupted restore") {
		t.Errorf("the second restore should say it resumed the interrupted one:\n%s", out)
	}

	sameTree(t, in.data, target)

	if _, errs, _ := in.run("status"); strings.Contains(errs, "incomplete") {
		t.Errorf("status still mentions the finished restore:\n%s", errs)
	}
}

// TestRestoreOnFullDiskResumes restores into a file system too small for the
// snapshot: the restore fails, leaves no file that looks restored but is not,
// marks the target, and once there is room the same restore finishes it.
func TestRestoreOnFullDiskResumes(t *testing.T) {
	in := newInstallation(t, "")

	const big = 24 << 20

	interruptedData(t, in, big)

	// A second snapshot of the same data: the restore below takes it, the
	// older one is the other snapshot.
	in.mustRun("backup")
	older := in.snapshots()[0].ID

	mnt := filepath.Join(in.dir, "small-disk")

	// A tmpfs of 16 MiB: the small files fit, the large one does not.
	mountTmpfs(t, mnt, "16m")

	target := filepath.Join(mnt, "restored")

	out, errs, code := in.run("restore", "data", "--target", target)
	if code != 1 || !strings.Contains(errs, "no space left") || !strings.Contains(errs, restoreMarker) {
		t.Fatalf("restore onto a full disk: exit %d, want 1 with the cause and the marker named\n%s%s", code, out, errs)
	}

	noFalseFiles(t, in.data, target)

	if _, err := os.Stat(filepath.Join(target, restoreMarker)); err != nil {
		t.Fatalf("the failed restore left no %s in its target: %v", restoreMarker, err)
	}

	// Another snapshot is refused there: the target would mix two.
	before := dirSize(t, target)

	out, errs, code = in.run("restore", "data", "--snapshot", older, "--target", target)
	if code != 2 || !strings.Contains(errs, "holds an interrupted restore") || !strings.Contains(errs, "--overwrite") {
		t.Errorf("restoring another snapshot into the incomplete target: exit %d, want 2 naming the interrupted restore\n%s%s", code, out, errs)
	}

	if dirSize(t, target) != before {
		t.Error("the refused restore changed the target")
	}

	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v: %s", err, out)
	}

	in.mustRun("restore", "data", "--target", target)
	sameTree(t, in.data, target)
}

// startUntil starts cmd and returns once cond holds, failing the test when
// the command ends first or cond does not come within two minutes.
func startUntil(t *testing.T, cmd *exec.Cmd, cond func() bool) (*exec.Cmd, func() (string, error)) {
	t.Helper()

	var errb bytes.Buffer
	cmd.Stderr = &errb

	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.Now().Add(2 * time.Minute)

	for !cond() {
		select {
		case err := <-exited:
			t.Fatalf("%s ended (%v) before the test could act on it midway: give it more data\n%s", strings.Join(cmd.Args[3:], " "), err, errb.String())
		case <-time.After(2 * time.Millisecond):
		}

		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("%s did not get midway in 2 minutes\n%s", strings.Join(cmd.Args[3:], " "), errb.String())
		}
	}

	return cmd, func() (string, error) {
		err := <-exited // stderr is complete only once the command has ended

		return errb.String(), err
	}
}

// mountTmpfs mounts a tmpfs of size on dir for the test.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()

	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("this test needs to mount a small tmpfs (run the tests as root, where mount is allowed): %v: %s", err, out)
	}

	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

// allocated is the bytes of data written below dir.
func allocated(dir string) int64 {
	var n int64

	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}

		return nil
	})

	return n
}
