// Package apitest sets up what the daemon serves its HTTPS endpoint from,
// for the tests of the API (internal/api) and of the dashboard
// (internal/dashboard): a configuration in a test's folder, a fresh
// repository, the configured sources, the audit trail and the operations
// executor, and serves the endpoint on loopback. It does not import
// internal/api, so the API's own tests can use it.
package apitest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
)

// Daemon is what the daemon builds from its configuration before it
// serves: the real repository, sources, audit trail and executor.
type Daemon struct {
	ConfigFile string
	Cfg        *config.Config
	Password   repo.Password
	Repo       *repo.Repository
	Sources    map[string]source.Source
	Audit      *audit.Log
	Exec       *ops.Executor
}

// New writes yaml to dir/lifeboat.yaml, creates its repository with
// password and opens it (closed when the test ends), with a lock folder of
// the test's own. The executor acts as the daemon does, on the wall clock.
func New(t *testing.T, dir, yaml, password string) *Daemon {
	t.Helper()

	ctx := context.Background()
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	d := &Daemon{ConfigFile: filepath.Join(dir, "lifeboat.yaml"), Password: repo.Password{Value: password, Origin: "test"}}
	WriteFile(t, d.ConfigFile, yaml)

	cfg, err := config.Load(d.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}

	if err := repo.Create(ctx, cfg.Repository.Path, d.Password); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, cfg.Repository.Path, d.Password, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(ctx) })

	key, err := r.AuditKey()
	if err != nil {
		t.Fatal(err)
	}

	srcs := map[string]source.Source{}
	for _, name := range cfg.SourceNames {
		srcs[name], _ = sources.New(cfg.Sources[name], os.Getenv)
	}

	d.Cfg, d.Repo, d.Sources = cfg, r, srcs
	d.Audit = &audit.Log{Path: cfg.Audit.Path, Key: key}
	d.Exec = &ops.Executor{Cfg: cfg, Repo: r, Sources: srcs, Audit: d.Audit, Version: "test", Who: "lifeboat daemon", Clock: clock.Real{}}

	return d
}

// Server is the endpoint as far as serving it goes (internal/api's Server).
type Server interface {
	HTTPServer(base http.Handler) *http.Server
	Serve(hs *http.Server, l net.Listener) error
}

// Listen is a listener on a free loopback port.
func Listen(t *testing.T) net.Listener {
	t.Helper()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	return l
}

// Base is the daemon's own routes beside the endpoint's: /healthz.
func Base() *http.ServeMux {
	base := http.NewServeMux()
	base.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })

	return base
}

// Serve serves srv around base on l until the test ends.
func Serve(t *testing.T, srv Server, l net.Listener, base http.Handler) {
	t.Helper()

	hs := srv.HTTPServer(base)

	go srv.Serve(hs, l) //nolint:errcheck

	t.Cleanup(func() { hs.Close() })
}

// WriteFile writes text to path, making its folders.
func WriteFile(t *testing.T, path, text string) {
	t.Helper()

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
