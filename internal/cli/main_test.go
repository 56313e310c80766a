package cli

import (
	"os"
	"path/filepath"
	"testing"

	"lifeboat/internal/config"
)

func TestMain(m *testing.M) {
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
