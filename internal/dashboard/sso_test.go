package dashboard_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"lifeboat/internal/api"
	"lifeboat/internal/audit"
)

// singleSignOn logs in through the login page's single sign-on button and
// the real provider: a user in no mapped group comes back to the login
// page with the server's reason and no session; a developer lands on the
// page they asked for with a viewer's session, then logs out.
func (s *site) singleSignOn(t *testing.T, b *browser) {
	b.do("open /jobs", chromedp.Navigate(s.url+"/jobs"))
	b.wait(`location.pathname === "/login"`, "the redirect to the login")
	b.ready("login")

	want := "Sign in with " + strings.TrimPrefix(s.provider.Issuer, "http://")
	if got := b.text(`document.getElementById("sso-login").textContent`); got != want {
		t.Fatalf("the login page's single sign-on button says %q, want %q", got, want)
	}

	if href := b.text(`document.getElementById("sso-login").getAttribute("href")`); href != "/api/v1/session/oidc?next=%2Fjobs" {
		t.Fatalf("the single sign-on button goes to %s, want /api/v1/session/oidc?next=%%2Fjobs", href)
	}

	// nob is in no group the configuration maps to a role.
	s.atProvider(t, b, "nob")
	b.wait(`location.pathname === "/login" && document.body.dataset.ready === "true" && !document.getElementById("error").hidden`, "the refusal on the login page")

	if msg := b.text(`document.getElementById("error").textContent`); !strings.Contains(msg, "single sign-on refused: nob is in no group") {
		t.Fatalf("the refused single sign-on shows %q", msg)
	}

	b.shot("login-sso-refused")

	var sess api.SessionInfo
	if code := b.fetchJSON("/api/v1/session", &sess); code != 401 {
		t.Fatalf("after a refused single sign-on GET /api/v1/session answers %d (%+v), want 401", code, sess)
	}

	// vic is a developer: a viewer, back on the page asked for.
	b.do("sign in again", chromedp.Click(chromedp.CSS("#sso-login")))
	s.atProviderForm(t, b, "vic")
	b.wait(`location.pathname === "/jobs"`, "the jobs page after the single sign-on")
	b.ready("jobs")

	if who := b.text(`document.getElementById("who").textContent`); who != "vic · viewer" {
		t.Fatalf("after the single sign-on the header says %q, want vic · viewer", who)
	}

	if code := b.fetchJSON("/api/v1/session", &sess); code != 200 || sess.Kind != api.KindSSO || sess.Role != "viewer" || sess.User != "vic" {
		t.Fatalf("the session after the single sign-on: %d %+v", code, sess)
	}

	// The server refuses what a viewer may not do, whatever the page.
	if code := b.fetchJSON("/api/v1/sources/data/backup", nil, "POST"); code != 403 {
		t.Fatalf("vic's backup through the API answered %d, want 403", code)
	}

	b.do("log out", chromedp.Click(chromedp.CSS("#logout")))
	b.wait(`location.pathname === "/login"`, "the login page after the logout")

	recs, err := audit.Read(s.exec.Audit.(*audit.Log).Path)
	if err != nil {
		t.Fatal(err)
	}

	var seen []string

	for _, r := range recs {
		if r.Action == "sso login" {
			seen = append(seen, r.Actor+" "+string(r.Outcome))
		}
	}

	if got := strings.Join(seen, ", "); got != "sso:nob (api) refused, sso:vic (api) ok" {
		t.Fatalf("the audit trail's single sign-ons: %s, want sso:nob (api) refused, sso:vic (api) ok", got)
	}
}

// atProvider clicks the login page's single sign-on button and logs user
// in at the provider.
func (s *site) atProvider(t *testing.T, b *browser, user string) {
	t.Helper()
	b.do("sign in with the provider", chromedp.Click(chromedp.CSS("#sso-login")))
	s.atProviderForm(t, b, user)
}

// atProviderForm logs user in on the provider's own login form.
func (s *site) atProviderForm(t *testing.T, b *browser, user string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("at %s: %s", b.text("location.href"), b.text("document.body.innerText.slice(0, 500)"))
		}
	}()
	b.wait(`location.href.startsWith(`+jsString(s.provider.Issuer+"/login")+`) && document.getElementById("username")`, "the provider's login form")
	b.do("log in at the provider as "+user, chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.Click(chromedp.CSS("#provider-login")))
}

// fetchJSON calls the API from the page, as its script does (with the
// session's CSRF token), and returns the status, the answer read into v.
func (b *browser) fetchJSON(path string, v any, method ...string) int {
	b.t.Helper()

	m := "GET"
	if len(method) > 0 {
		m = method[0]
	}

	var out struct {
		Status int
		Body   string
	}

	b.eval(`fetch("/api/v1/session").then((r) => r.ok ? r.json() : {}).then((sess) => fetch(`+jsString(path)+`, {method: `+jsString(m)+`,
		headers: {"Content-Type": "application/json", "X-CSRF-Token": sess.csrf_token || ""}, body: `+jsString(m)+` === "GET" ? undefined : "{}"}))
		.then(async (r) => ({Status: r.status, Body: await r.text()}))`, &out)

	if v != nil && out.Status == 200 {
		if err := json.Unmarshal([]byte(out.Body), v); err != nil {
			b.t.Fatalf("%s %s: %v: %s", m, path, err, out.Body)
		}
	}

	return out.Status
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
