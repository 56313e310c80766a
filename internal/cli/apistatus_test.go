package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/api"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
)

// TestStatusShowsTheAPICertificate: once the daemon made its certificate,
// `lifeboat status` shows its SHA-256 fingerprint in one line; before, it
// shows none.
func TestStatusShowsTheAPICertificate(t *testing.T) {
	data := t.TempDir()
	write(t, filepath.Join(data, "a.txt"), "lifeboat")

	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "docs")

	if out := e.mustRun("status"); strings.Contains(out, "API certificate") {
		t.Fatalf("status shows a certificate before there is one:\n%s", out)
	}

	cfg, err := config.Load(e.cfg)
	if err != nil {
		t.Fatal(err)
	}

	tr, err := api.NewTransport(cfg, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}

	out := e.mustRun("status")
	if !strings.Contains(out, "\nAPI certificate SHA-256: "+tr.Fingerprint+"\n") {
		t.Fatalf("status does not show the fingerprint %s:\n%s", tr.Fingerprint, out)
	}
}
