package dashboard_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"lifeboat/internal/access"
	"lifeboat/internal/testenv"
)

// account has the logged-in viewer change their password (a wrong current
// one refused), log in with the new one, enrol a second factor with the
// code of the page's seed, and create and revoke a token of their own;
// the store holds each change.
func (s *site) account(t *testing.T, b *browser) {
	b.open("/account")

	b.do("a wrong current password", chromedp.SendKeys(chromedp.CSS("#pw-current"), "not-it"), chromedp.SendKeys(chromedp.CSS("#pw-new"), "viewer-password-2"),
		chromedp.Click(chromedp.CSS("#pw-submit")))
	b.wait(`!document.getElementById("error").hidden`, "the refusal of a wrong current password")

	if msg := b.text(`document.getElementById("error").textContent`); !strings.Contains(msg, "the password was not changed") {
		t.Fatalf("a wrong current password shows %q", msg)
	}

	b.do("change the password", chromedp.SetValue(chromedp.CSS("#pw-current"), viewerPassword), chromedp.SetValue(chromedp.CSS("#pw-new"), "viewer-password-2"),
		chromedp.Click(chromedp.CSS("#pw-submit")))
	b.wait(`document.getElementById("pw-done").textContent`, "the password changed")

	b.do("log out", chromedp.Click(chromedp.CSS("#logout")))
	b.wait(`location.pathname === "/login"`, "the login after logging out")
	s.loginAs(t, b, "viewer", "viewer-password-2", "")

	b.open("/account")
	b.do("begin the enrolment", chromedp.Click(chromedp.CSS("#mfa-begin")))
	b.wait(`!document.getElementById("mfa-box").hidden`, "the new seed shown")

	u, err := url.Parse(b.text(`document.getElementById("mfa-uri").textContent`))
	if err != nil {
		t.Fatal(err)
	}

	var codes int
	b.eval(`document.querySelectorAll("#mfa-recovery li").length`, &codes)

	if codes != access.RecoveryCodes || !strings.HasPrefix(b.text(`document.getElementById("mfa-qr").src`), "data:image/png;base64,") {
		t.Fatalf("the enrolment shows %d recovery codes and no QR code", codes)
	}

	b.shot("account-enrol")

	code, err := totp.GenerateCode(u.Query().Get("secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}

	b.do("confirm the enrolment", chromedp.SendKeys(chromedp.CSS("#mfa-code"), code), chromedp.Click(chromedp.CSS("#mfa-confirm")))
	b.wait(`document.getElementById("acc-mfa").textContent.startsWith("enrolled")`, "the second factor enrolled")

	b.do("create a token", chromedp.SendKeys(chromedp.CSS("#tok-name"), "laptop"), chromedp.Click(chromedp.CSS("#tok-create")))
	b.wait(`document.getElementById("tok-value")`, "the new token's secret")

	secret := b.text(`document.getElementById("tok-value").textContent`)
	if p, err := s.srv.Authority.Token(t.Context(), secret); err != nil || p.Name != "viewer@laptop" || p.Role != access.Viewer {
		t.Fatalf("the token the page showed: %+v %v", p, err)
	}

	b.shot("account-token")

	b.do("revoke the token", chromedp.Click(chromedp.CSS(`button[data-token="viewer@laptop"]`)))
	b.wait(`[...document.querySelectorAll("#tokens-table td")].some((c) => c.textContent === "revoked")`, "the token revoked")

	if _, err := s.srv.Authority.Token(t.Context(), secret); err == nil {
		t.Fatal("the revoked token is still accepted")
	}

	// A token an admin named viewer@ci is not the viewer's: not on their
	// page, and not theirs to revoke.
	adminMade, err := s.srv.Authority.(*access.Store).CreateToken(t.Context(), "test", "viewer@ci", access.Admin, 0)
	if err != nil {
		t.Fatal(err)
	}

	b.open("/account")

	if rows := b.text(`document.getElementById("tokens-table").textContent`); strings.Contains(rows, "viewer@ci") || !strings.Contains(rows, "viewer@laptop") {
		t.Fatalf("the viewer's tokens list: %q, want viewer@laptop and not the admin's viewer@ci", rows)
	}

	if code := b.fetchJSON("/api/v1/account/tokens/viewer@ci", nil, "DELETE"); code != 403 {
		t.Fatalf("the viewer's revoke of the admin's viewer@ci answered %d, want 403", code)
	}

	if _, err := s.srv.Authority.Token(t.Context(), adminMade); err != nil {
		t.Fatalf("the admin's token after the viewer's refused revoke: %v", err)
	}
}

// manageUsers has the admin add carol as an operator (a duplicate
// refused), make her an auditor and remove her; the store follows.
func (s *site) manageUsers(t *testing.T, b *browser) {
	role := func() access.Role {
		t.Helper()

		var us []access.UserInfo
		s.get(t, "/api/v1/users", &us)

		for _, u := range us {
			if u.Name == "carol" {
				return u.Role
			}
		}

		return ""
	}

	add := func() {
		t.Helper()
		b.do("add carol", chromedp.SetValue(chromedp.CSS("#u-name"), "carol"), chromedp.SetValue(chromedp.CSS("#u-password"), "carol-password-1"),
			chromedp.SetValue(chromedp.CSS("#u-role"), "operator"), chromedp.Click(chromedp.CSS("#u-add")))
	}

	add()
	b.wait(`document.querySelector('tr[data-user="carol"]')`, "carol listed")

	if r := role(); r != access.Operator {
		t.Fatalf("carol has role %q in the store, want operator", r)
	}

	add()
	b.wait(`!document.getElementById("error").hidden`, "the duplicate refused")

	if msg := b.text(`document.getElementById("error").textContent`); !strings.Contains(msg, "already exists") {
		t.Fatalf("adding carol twice shows %q", msg)
	}

	loads := b.text(`document.getElementById("users-table").dataset.loads`)

	b.do("make carol an auditor", chromedp.SetValue(chromedp.CSS(`select[data-user="carol"]`), "auditor"))
	b.text(`document.querySelector('select[data-user="carol"]').dispatchEvent(new Event("change")) && ""`)
	testenv.Eventually(t, 10*time.Second, func() bool { return role() == access.Auditor }, "carol an auditor in the store")
	b.wait(fmt.Sprintf(`document.getElementById("users-table").dataset.loads !== %q`, loads), "the users listed again")

	b.do("remove carol", chromedp.Click(chromedp.CSS(`button[data-remove="carol"]`)))
	b.wait(`!document.querySelector('tr[data-user="carol"]')`, "carol gone from the list")

	if r := role(); r != "" {
		t.Fatalf("carol is still in the store as %q", r)
	}

	b.text(`(() => { const e = document.getElementById("error"); e.hidden = true; e.textContent = ""; return "" })()`)
}
