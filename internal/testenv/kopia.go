package testenv

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var kopiaOnce struct {
	sync.Once
	path string
	err  string
}

// Kopia is the path of kopia's command line, of the version go.mod
// requires, built once into the user's cache by scripts/install-kopia.sh
// (the first call may take a minute or two). The recovery kit's steps to
// restore without Lifeboat run it. It fails the test, saying why, when the
// build is impossible (no Go, no module proxy).
func Kopia(t testing.TB) string {
	t.Helper()

	kopiaOnce.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(gomod)) == "" {
			kopiaOnce.err = "kopia's command line is built from its module with Go, which is not usable here: install Go, or run `bash scripts/install-kopia.sh`"
			return
		}

		script := filepath.Join(filepath.Dir(strings.TrimSpace(string(gomod))), "scripts", "install-kopia.sh")

		out, err := exec.Command("bash", script).Output()
		if err != nil {
			msg := err.Error()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				msg += ": " + tail(ee.Stderr, logTailLines)
			}

			kopiaOnce.err = "building kopia's command line (bash scripts/install-kopia.sh, which scripts/install-deps.sh test runs) failed: " + msg
			return
		}

		kopiaOnce.path = strings.TrimSpace(string(out))
	})

	if kopiaOnce.err != "" {
		t.Fatal(kopiaOnce.err)
	}

	return kopiaOnce.path
}
