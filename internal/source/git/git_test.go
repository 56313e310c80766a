package git

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/config"
	"lifeboat/internal/source"
	"lifeboat/internal/source/sourcetest"
)

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()

	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_NOSYSTEM=1")

	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	return strings.TrimSpace(string(out))
}

func TestConformance(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is not installed: apt-get install -y git (make test installs it)")
	}

	var app string

	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T, dir string) source.Source {
			app = filepath.Join(dir, "app")
			os.MkdirAll(app, 0o755)
			run(t, app, "init", "-q", "-b", "main")
			os.WriteFile(filepath.Join(app, "server.js"), []byte("v1\n"), 0o644)
			run(t, app, "add", "-A")
			run(t, app, "commit", "-qm", "v1")
			run(t, app, "tag", "v1")
			run(t, app, "branch", "feature")

			return New(&config.Source{Name: "code", Type: config.KindGit, Path: app})
		},
		Change: func(t *testing.T) {
			os.WriteFile(filepath.Join(app, "server.js"), []byte("v2\n"), 0o644)
			run(t, app, "commit", "-qam", "v2")
			run(t, app, "tag", "-a", "v2", "-m", "two")
		},
		State: func(t *testing.T, dir string) string {
			if dir == "" {
				dir = app
			}

			return run(t, dir, "for-each-ref", "--format=%(refname) %(objectname)") + "\nHEAD " +
				run(t, dir, "symbolic-ref", "HEAD") + "\n" + run(t, dir, "status", "--porcelain")
		},
		Inside: func() string { return filepath.Join(app, "src") },
	})
}
