package dashboard_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"lifeboat/internal/access"
	"lifeboat/internal/api"
	"lifeboat/internal/apitest"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/dashboard"
	"lifeboat/internal/oidctest"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
)

const (
	repoPassword   = "dashboard-test-password"
	adminPassword  = "admin-password-1"
	viewerPassword = "viewer-password-1"
)

// site is the daemon's HTTPS endpoint (the API with the dashboard beside
// it, as the daemon mounts them) on a fresh repository with one files
// source, "data", backed up twice and verified, a copy replicated, and a
// drilled plan; users: admin (TOTP) and viewer (password only).
type site struct {
	dir, data   string
	url         string
	srv         *api.Server
	exec        *ops.Executor
	adminSecret string
	adminToken  string
	client      *http.Client
	// provider is the single sign-on provider, when the site has one.
	provider *oidctest.Provider
	// loginAt is when the admin's one-time code was last used to log in.
	loginAt time.Time
	// clock is the API's: the wall clock, moved ahead to age sessions.
	clock *aheadClock
}

// aheadClock is the wall clock, ahead by what the test says: a session's
// second factor grows old without waiting five minutes.
type aheadClock struct{ ahead atomic.Int64 }

func (c *aheadClock) Now() time.Time { return clock.Real{}.Now().Add(time.Duration(c.ahead.Load())) }

func (c *aheadClock) After(d time.Duration) <-chan time.Time { return clock.Real{}.After(d) }

func (c *aheadClock) Advance(d time.Duration) { c.ahead.Add(int64(d)) }

func newSite(t *testing.T) *site {
	t.Helper()
	return newSiteWith(t, "", true)
}

// newSiteWith is newSite with more sources (YAML under sources:), and
// single sign-on through a real provider on loopback when sso is set.
func newSiteWith(t *testing.T, more string, sso bool) *site {
	t.Helper()

	ctx := context.Background()
	dir := t.TempDir()
	s := &site{dir: dir, data: filepath.Join(dir, "data")}

	writeFile(t, filepath.Join(s.data, "docs", "readme.txt"), "the first version\n")
	writeFile(t, filepath.Join(s.data, "docs", "notes", "todo.txt"), strings.Repeat("todo ", 300))
	writeFile(t, filepath.Join(s.data, "top.bin"), strings.Repeat("x", 4096))

	yaml := fmt.Sprintf("repository:\n  path: %s\naudit:\n  path: %s\nsources:\n  data:\n    type: files\n    tier: critical\n    paths: [%s]\n"+
		"%s"+
		"copies:\n  near:\n    path: %s\nplans:\n  recover-data:\n    tier: critical\n    steps:\n      - restore: data\n"+
		// A drill that takes a minute, to cancel.
		"  slow:\n    steps:\n      - run: sleep 60\n        drill: sleep 60\n"+
		"server:\n  listen: 127.0.0.1:0\n",
		filepath.Join(dir, "repo"), filepath.Join(dir, "state", "audit.jsonl"), s.data, more, filepath.Join(dir, "near"))
	d := apitest.New(t, dir, yaml, repoPassword)
	s.exec = d.Exec
	s.history(t, ctx, d.Cfg, d.Password)

	tr, err := api.NewTransport(d.Cfg, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}

	s.clock = &aheadClock{}
	s.srv = &api.Server{
		Cfg: d.Cfg, Repo: d.Repo, Sources: d.Sources, Exec: s.exec, Audit: d.Audit, Transport: tr, Clock: s.clock,
		Password: d.Password, Getenv: os.Getenv, Authority: s.users(t, d.Repo, d.Audit), Pages: dashboard.Wrap,
	}
	s.serve(t, sso)

	return s
}

// history makes what the screens show: two backups, a verification, a
// replication to the copy and a drill of the plan.
func (s *site) history(t *testing.T, ctx context.Context, cfg *config.Config, pw repo.Password) {
	t.Helper()

	if _, err := s.exec.Backup(ctx, ops.Backup{Source: "data", Type: "full"}, nil); err != nil {
		t.Fatal(err)
	}

	writeFile(t, filepath.Join(s.data, "docs", "readme.txt"), "the second version\n")

	if _, err := s.exec.Backup(ctx, ops.Backup{Source: "data", Type: "full"}, nil); err != nil {
		t.Fatal(err)
	}

	if _, err := s.exec.Verify(ctx, ops.Verify{Sources: []string{"data"}, Fraction: 1}, nil); err != nil {
		t.Fatal(err)
	}

	if _, err := s.exec.Replicate(ctx, ops.Replicate{Copy: cfg.Copies["near"], Password: pw, Getenv: os.Getenv}, nil); err != nil {
		t.Fatal(err)
	}

	if _, err := s.exec.RunPlan(ctx, ops.PlanRun{Plan: "recover-data", Mode: "drill", Actor: "test", Out: io.Discard}, nil); err != nil {
		t.Fatal(err)
	}
}

// users makes the real access store with admin (with a second factor),
// viewer, and an admin API token the test reads the API with.
func (s *site) users(t *testing.T, r *repo.Repository, log *audit.Log) *access.Store {
	t.Helper()

	ctx := context.Background()
	st := &access.Store{Repo: r, Audit: log}

	if err := st.AddUser(ctx, "test", "admin", access.Admin, adminPassword); err != nil {
		t.Fatal(err)
	}

	if err := st.AddUser(ctx, "test", "viewer", access.Viewer, viewerPassword); err != nil {
		t.Fatal(err)
	}

	e, err := st.BeginMFA(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}

	s.adminSecret = u.Query().Get("secret")

	// The confirmation uses the previous step's code, so the browser's
	// login (this step's) is not a reused code.
	if err := st.ConfirmMFA(ctx, "test", e, s.code(t, -30*time.Second)); err != nil {
		t.Fatal(err)
	}

	if s.adminToken, err = st.CreateToken(ctx, "test", "ci-admin", access.Admin, 0); err != nil {
		t.Fatal(err)
	}

	return st
}

func (s *site) code(t *testing.T, offset time.Duration) string {
	t.Helper()

	c, err := totp.GenerateCode(s.adminSecret, time.Now().Add(offset))
	if err != nil {
		t.Fatal(err)
	}

	return c
}

func (s *site) serve(t *testing.T, sso bool) {
	t.Helper()

	l := apitest.Listen(t)

	s.url = "https://" + l.Addr().String()
	if sso {
		s.singleSignOnVia(t)
	}

	apitest.Serve(t, s.srv, l, apitest.Base())

	// The certificate is the daemon's self-signed one: the test reads
	// through it as the browser does (which is told to accept it).
	s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
}

// singleSignOnVia points the site at a real provider on loopback
// (lifeboat-admins are admins, developers viewers), as the daemon does
// with server.oidc: the login page offers it by the issuer's host.
func (s *site) singleSignOnVia(t *testing.T) {
	t.Helper()

	callback := s.url + "/api/v1/session/oidc/callback"
	s.provider = oidctest.New(t, callback)

	sso, err := api.NewSSO(&config.OIDC{
		Issuer: s.provider.Issuer, ClientID: s.provider.ClientID, ClientSecretEnv: "LIFEBOAT_TEST_OIDC_SECRET", RedirectURL: callback,
		GroupsClaim: "groups", Scopes: []string{"openid", "profile"},
		Roles: map[string]access.Role{"lifeboat-admins": access.Admin, "developers": access.Viewer},
	}, func(string) string { return s.provider.ClientSecret })
	if err != nil {
		t.Fatal(err)
	}

	s.srv.SSO = sso
	s.srv.Pages = dashboard.WrapWith(dashboard.Options{SSO: sso.Name()})
}

// get reads an API path as the admin token, into v.
func (s *site) get(t *testing.T, path string, v any) {
	t.Helper()

	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}

	req.Header.Set("Authorization", "Bearer "+s.adminToken)

	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}

	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	apitest.WriteFile(t, path, content)
}
