package cli

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/testenv"
)

func TestMain(m *testing.M) {
	// Started by a test as a lifeboat process of its own (asMain).
	if os.Getenv(envAsMain) == "1" {
		os.Exit(runAsMain())
	}

	// Configurations without audit.path write here, never to the system's log.
	dir, err := os.MkdirTemp("", "lifeboat-cli-test-")
	if err != nil {
		panic(err)
	}

	os.Setenv(config.EnvAuditLog, filepath.Join(dir, "audit.jsonl"))

	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// envAsMain makes the test binary run as lifeboat with the arguments after
// it; envKillAt names a rekey point where it kills itself with SIGKILL (a
// real crash: nothing deferred runs), envPauseAt one where it waits, with
// the file "paused" in envPauseDir, until the file "resume" appears there.
const (
	envAsMain   = "LIFEBOAT_TEST_AS_MAIN"
	envKillAt   = "LIFEBOAT_TEST_KILL_AT"
	envPauseAt  = "LIFEBOAT_TEST_PAUSE_AT"
	envPauseDir = "LIFEBOAT_TEST_PAUSE_DIR"
)

func runAsMain() int {
	a := NewApp()
	a.rekeyCrash = func(point string) error {
		if point == os.Getenv(envPauseAt) {
			dir := os.Getenv(envPauseDir)
			os.WriteFile(filepath.Join(dir, "paused"), nil, 0o600)

			_ = testenv.Poll(2*time.Minute, func() error {
				_, err := os.Stat(filepath.Join(dir, "resume"))
				return err
			})
		}

		if point == os.Getenv(envKillAt) {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}

		return nil
	}

	return ExitCode(a.Run(context.Background(), os.Args[1:]))
}
