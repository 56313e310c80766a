package api

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/oidctest"
)

// withSSO points the fixture's server at a real provider on loopback, with
// lifeboat-admins mapped to admin and developers and staff to viewer.
func withSSO(t *testing.T, f *fixture) *oidctest.Provider {
	t.Helper()

	callback := f.url + "/api/v1/session/oidc/callback"
	p := oidctest.New(t, callback)

	sso, err := NewSSO(&config.OIDC{
		Issuer: p.Issuer, ClientID: p.ClientID, ClientSecretEnv: "LIFEBOAT_TEST_OIDC_SECRET", RedirectURL: callback,
		GroupsClaim: "groups", Scopes: []string{"openid", "profile"},
		Roles: map[string]access.Role{"lifeboat-admins": access.Admin, "developers": access.Viewer, "staff": access.Viewer},
	}, func(string) string { return p.ClientSecret })
	if err != nil {
		t.Fatal(err)
	}

	f.srv.SSO = sso

	return p
}

// browser is an HTTP client with a cookie jar that trusts the fixture's
// certificate; stopAt (if set) stops following redirects at a URL whose
// path it is.
func (f *fixture) browser(t *testing.T, stopAt string) *http.Client {
	t.Helper()

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}

	c := &http.Client{Transport: f.client.Transport, Jar: jar, Timeout: f.client.Timeout}
	if stopAt != "" {
		c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == stopAt {
				return http.ErrUseLastResponse
			}

			return nil
		}
	}

	return c
}

// toProviderLogin starts a single sign-on in b and returns the provider's
// login form's request ID.
func (f *fixture) toProviderLogin(t *testing.T, b *http.Client) string {
	t.Helper()

	resp, err := b.Get(f.url + "/api/v1/session/oidc")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" || !strings.Contains(string(body), "<form") {
		t.Fatalf("the start did not lead to the provider's login form: %s at %s: %s", resp.Status, resp.Request.URL, body)
	}

	return resp.Request.URL.Query().Get("id")
}

// ssoLogin logs user in at the provider through b and returns the API's
// final answer.
func (f *fixture) ssoLogin(t *testing.T, b *http.Client, p *oidctest.Provider, user string) (int, string, *http.Response) {
	t.Helper()

	id := f.toProviderLogin(t, b)

	resp, err := b.PostForm(p.Issuer+"/login", url.Values{"id": {id}, "username": {user}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	body, _ := io.ReadAll(resp.Body)

	return resp.StatusCode, string(body), resp
}

// TestSingleSignOnMapsGroupsToRoles: the full code flow against a real
// provider gives a session with the role the groups map to (the highest
// of several), usable with its CSRF token and counting as a fresh second
// factor for step-up; a user in no mapped group is
// refused, and every outcome is audited with the subject, never a token.
func TestSingleSignOnMapsGroupsToRoles(t *testing.T) {
	f := newFixture(t)
	p := withSSO(t, f)
	fake := clock.NewFake(time.Now())
	f.srv.Clock = fake

	for _, tc := range []struct {
		user string
		role access.Role
	}{{"ann", access.Admin}, {"vic", access.Viewer}} {
		b := f.browser(t, "")

		code, body, resp := f.ssoLogin(t, b, p, tc.user)
		if code != http.StatusOK || resp.Request.URL.Path != "/api/v1/session/oidc/callback" {
			t.Fatalf("%s: %d at %s: %s", tc.user, code, resp.Request.URL, body)
		}

		var lr loginResponse
		if err := json.Unmarshal([]byte(body), &lr); err != nil || lr.Role != tc.role || lr.User != tc.user || lr.CSRFToken == "" {
			t.Fatalf("%s: answer %s (%v), want role %s", tc.user, body, err, tc.role)
		}

		// The session works, and its role is enforced.
		resp, err := b.Get(f.url + "/api/v1/sources")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()

		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: the session's read: %s", tc.user, resp.Status)
		}

		req, _ := http.NewRequest("POST", f.url+"/api/v1/snapshots/nosuch0/pin", nil)
		req.Header.Set(csrfHeader, lr.CSRFToken)

		resp, err = b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()

		if forbidden := resp.StatusCode == http.StatusForbidden; forbidden != (tc.role != access.Admin) {
			t.Fatalf("%s (%s) pinning: %s", tc.user, tc.role, resp.Status)
		}

		if tc.role == access.Admin {
			ssoStepUp(t, f, b, fake, lr.CSRFToken)
		}
	}

	b := f.browser(t, "")

	code, body, _ := f.ssoLogin(t, b, p, "nob")
	if code != http.StatusForbidden || !strings.Contains(body, "nob is in no group server.oidc.roles maps to a role") || !strings.Contains(body, "marketing") {
		t.Fatalf("a user in no mapped group: %d %s", code, body)
	}

	if resp, err := b.Get(f.url + "/api/v1/sources"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the refused user has a session: %v %v", resp, err)
	}

	want := map[string]string{"sso:ann (api)": "role admin", "sso:vic (api)": "role viewer", "sso:nob (api)": "sub-nob-0003"}

	for _, r := range f.records(t) {
		if strings.Contains(r.Detail, "eyJ") {
			t.Fatalf("a token is in the audit record %+v", r)
		}

		if r.Action != "sso login" || !strings.Contains(r.Detail, want[r.Actor]) {
			continue
		}

		if outcome := map[bool]string{true: audit.Refused, false: audit.OK}[r.Actor == "sso:nob (api)"]; r.Outcome == outcome {
			delete(want, r.Actor)
		}
	}

	if len(want) != 0 {
		t.Fatalf("sso logins not audited as expected: %v", want)
	}
}

// ssoStepUp checks that a single sign-on counts as a second factor: a
// deleting prune passes at once, and once that is older than StepUpAfter
// the session is told to log in again, not to send a code.
func ssoStepUp(t *testing.T, f *fixture, b *http.Client, fake *clock.Fake, csrf string) {
	t.Helper()

	post := func(path, body string) (int, string) {
		t.Helper()

		req, _ := http.NewRequest("POST", f.url+path, strings.NewReader(body))
		req.Header.Set(csrfHeader, csrf)

		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()

		out, _ := io.ReadAll(resp.Body)

		return resp.StatusCode, string(out)
	}

	code, out := post("/api/v1/prune", `{}`)
	if code != http.StatusAccepted {
		t.Fatalf("a prune right after single sign-on: %d %s", code, out)
	}

	var j Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}

	f.follow(t, j.ID, access.Admin)
	fake.Advance(StepUpAfter + time.Second)

	if code, out := post("/api/v1/prune", `{}`); code != http.StatusUnauthorized || !strings.Contains(out, `"step_up":true`) || !strings.Contains(out, "log in again through GET /api/v1/session/oidc") {
		t.Fatalf("a prune from an old single sign-on: %d %s", code, out)
	}

	if code, out := post("/api/v1/session/step-up", `{"totp": "123456"}`); code != http.StatusBadRequest || !strings.Contains(out, "steps up by logging in again") {
		t.Fatalf("a code step-up on a single sign-on session: %d %s", code, out)
	}
}

// TestSingleSignOnRefusesForgedCallbacks: a callback whose state was
// tampered with, one from a browser that did not start the login, and one
// carrying another login's code (its PKCE verifier is not this one's) are
// all refused, audited, and start no session.
func TestSingleSignOnRefusesForgedCallbacks(t *testing.T) {
	f := newFixture(t)
	p := withSSO(t, f)

	const cb = "/api/v1/session/oidc/callback"

	// The provider's redirect back, held before the API sees it.
	held := func(b *http.Client) *url.URL {
		t.Helper()

		code, body, resp := f.ssoLogin(t, b, p, "ann")
		if code != http.StatusFound {
			t.Fatalf("the provider's answer: %d %s", code, body)
		}

		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || u.Path != cb || u.Query().Get("code") == "" {
			t.Fatalf("the provider sent the browser to %s (%v)", resp.Header.Get("Location"), err)
		}

		return u
	}

	get := func(b *http.Client, u string) (int, string) {
		t.Helper()

		resp, err := b.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()

		body, _ := io.ReadAll(resp.Body)

		return resp.StatusCode, string(body)
	}

	// A tampered state.
	victim := f.browser(t, cb)
	u := held(victim)
	q := u.Query()
	q.Set("state", strings.Repeat("0", 64))
	u.RawQuery = q.Encode()

	if code, body := get(victim, u.String()); code != http.StatusBadRequest || !strings.Contains(body, "the state does not match the login this browser started") {
		t.Fatalf("a tampered state: %d %s", code, body)
	}

	// The genuine callback in a browser that started no login: no state
	// cookie, so no verifier.
	u = held(f.browser(t, cb))

	if code, body := get(f.browser(t, ""), u.String()); code != http.StatusBadRequest || !strings.Contains(body, "the state does not match") {
		t.Fatalf("a callback from another browser: %d %s", code, body)
	}

	// Another login's code, injected into the attacker's own login: the
	// state matches the attacker's cookie, but the provider refuses the
	// code with the attacker's PKCE verifier.
	stolen := held(f.browser(t, cb)).Query().Get("code")
	attacker := f.browser(t, cb)
	own := held(attacker)
	q = own.Query()
	q.Set("code", stolen)
	own.RawQuery = q.Encode()

	if code, body := get(attacker, own.String()); code != http.StatusUnauthorized || !strings.Contains(body, "code_verifier") {
		t.Fatalf("a code with another login's verifier: %d %s", code, body)
	}

	if code, _ := get(attacker, f.url+"/api/v1/sources"); code != http.StatusUnauthorized {
		t.Fatalf("a refused callback left a session: %d", code)
	}

	// An ID token whose nonce is not this login's.
	if code, body, _ := f.ssoLogin(t, f.browser(t, ""), p, "eve"); code != http.StatusUnauthorized || !strings.Contains(body, "nonce does not match") {
		t.Fatalf("an ID token with another nonce: %d %s", code, body)
	}

	refused := 0

	for _, r := range f.records(t) {
		if r.Action == "sso login" {
			if r.Outcome != audit.Refused {
				t.Fatalf("a forged callback was audited as %+v", r)
			}

			refused++
		}
	}

	if refused != 4 {
		t.Fatalf("%d refused sso logins audited, want 4", refused)
	}
}

// TestSingleSignOnProviderDown: a provider that cannot be reached is a
// 502 naming its issuer, and the next login tries it again.
func TestSingleSignOnProviderDown(t *testing.T) {
	f := newFixture(t)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	down := "http://" + l.Addr().String()
	l.Close()

	sso, err := NewSSO(&config.OIDC{Issuer: down, ClientID: "lifeboat", ClientSecretFile: writeSecret(t), RedirectURL: f.url + "/api/v1/session/oidc/callback",
		GroupsClaim: "groups", Roles: map[string]access.Role{"a": access.Admin}}, nil)
	if err != nil {
		t.Fatal(err)
	}

	f.srv.SSO = sso

	for range 2 {
		if code, out := f.call(t, "GET", "/api/v1/session/oidc", ""); code != http.StatusBadGateway || !strings.Contains(out, "the OpenID provider "+down) {
			t.Fatalf("an unreachable provider: %d %s", code, out)
		}
	}
}

func writeSecret(t *testing.T) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), "oidc-secret")
	writeFile(t, path, "a-client-secret\n")

	return path
}
