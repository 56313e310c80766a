package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoInstallsOnlyWhatTheDemoNeeds runs the dependency installer as a
// fresh machine would see it (a scratch HOME, a PATH with only Go and the
// shell's basic tools, no server binaries), in its dry run: `make demo`'s
// mode would install the MariaDB packages and git and nothing the tests
// alone use; `make test`'s would install those too, and build SeaweedFS.
func TestDemoInstallsOnlyWhatTheDemoNeeds(t *testing.T) {
	bin := t.TempDir()

	for _, tool := range []string{"go", "sed", "dirname", "cat", "id"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is needed to run scripts/install-deps.sh: %v", tool, err)
		}

		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to run scripts/install-deps.sh: %v", err)
	}

	run := func(mode string) string {
		t.Helper()

		cmd := exec.Command(bash, filepath.Join("..", "..", "scripts", "install-deps.sh"), mode, "--dry-run")
		cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir(), "SBIN=" + t.TempDir()}

		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("install-deps.sh %s --dry-run: %v\n%s", mode, err, out)
		}

		return string(out)
	}

	demo := run("demo")
	for _, want := range []string{"would install: mariadb-server mariadb-client git"} {
		if !strings.Contains(demo, want) {
			t.Errorf("make demo on a fresh machine: want %q in\n%s", want, demo)
		}
	}

	for _, testOnly := range []string{"prometheus", "chromium", "util-linux", "SeaweedFS"} {
		if strings.Contains(demo, testOnly) {
			t.Errorf("make demo on a fresh machine would install %s, which only the tests use:\n%s", testOnly, demo)
		}
	}

	tests := run("test")
	for _, want := range []string{"mariadb-server", "git", "util-linux", "prometheus", "chromium", "would build: SeaweedFS"} {
		if !strings.Contains(tests, want) {
			t.Errorf("make test on a fresh machine: want %q in\n%s", want, tests)
		}
	}
}
