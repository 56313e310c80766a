package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
)

// adminWithTOTP adds root, an admin with a second factor, and returns a
// function giving root's code at now+offset.
func adminWithTOTP(t *testing.T, f *fixture) func(time.Duration) string {
	t.Helper()

	ctx := context.Background()
	store, _ := f.srv.Authority.(*access.Store)

	if err := store.AddUser(ctx, "test", "root", access.Admin, "root-password"); err != nil {
		t.Fatal(err)
	}

	e, err := store.BeginMFA(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}

	code := func(offset time.Duration) string {
		c, err := totp.GenerateCode(u.Query().Get("secret"), time.Now().Add(offset))
		if err != nil {
			t.Fatal(err)
		}

		return c
	}

	if err := store.ConfirmMFA(ctx, "test", e, code(-30*time.Second)); err != nil {
		t.Fatal(err)
	}

	return code
}

// stepUpAnswer is the part of an answer the step-up test reads.
type stepUpAnswer struct {
	Error  string `json:"error"`
	StepUp bool   `json:"step_up"`
}

// TestStepUpForRiskyActions: a session whose second factor is older than
// five minutes is refused a prune that deletes and a restore over
// production with step_up: true (a dry run still passes); POST
// /api/v1/session/step-up with a fresh code lets the prune through, a
// reused code is refused, and an API token needs no step-up.
func TestStepUpForRiskyActions(t *testing.T) {
	f := newFixture(t)
	fake := clock.NewFake(time.Now())
	f.srv.Clock = fake
	code := adminWithTOTP(t, f)

	b := f.browser(t, "")

	var lr loginResponse

	call := func(method, path, body, csrf string) (int, stepUpAnswer, string) {
		t.Helper()

		req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}

		if csrf != "" {
			req.Header.Set(csrfHeader, csrf)
		}

		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()

		raw, _ := io.ReadAll(resp.Body)

		var a stepUpAnswer
		_ = json.Unmarshal(raw, &a)

		return resp.StatusCode, a, string(raw)
	}

	// prune posts a prune and, when it starts, waits for its end.
	prune := func(body string) (int, stepUpAnswer, string) {
		t.Helper()

		status, a, out := call("POST", "/api/v1/prune", body, lr.CSRFToken)
		if status == http.StatusAccepted {
			var j Job
			if err := json.Unmarshal([]byte(out), &j); err != nil {
				t.Fatal(err)
			}

			if _, end := f.follow(t, j.ID, access.Admin); end.State != JobSucceeded {
				t.Fatalf("prune %s ended %+v", body, end)
			}
		}

		return status, a, out
	}

	status, _, out := call("POST", "/api/v1/session", `{"user": "root", "password": "root-password", "totp": "`+code(0)+`"}`, "")
	if status != http.StatusOK {
		t.Fatalf("login: %d %s", status, out)
	}

	if err := json.Unmarshal([]byte(out), &lr); err != nil {
		t.Fatal(err)
	}

	// Fresh from the login's code, a prune passes the check (dry run,
	// to leave the repository as it is until the step-up).
	if status, _, out := prune(`{"dry_run": true}`); status != http.StatusAccepted {
		t.Fatalf("a dry-run prune right after login: %d %s", status, out)
	}

	fake.Advance(StepUpAfter + time.Second)

	for _, tc := range []struct{ path, body, what string }{
		{"/api/v1/prune", `{}`, "a prune that deletes (not a dry run)"},
		{"/api/v1/restore", `{"source": "data", "target": "` + f.data + `", "overwrite": true}`, "a restore over data's own data"},
	} {
		status, a, out := call("POST", tc.path, tc.body, lr.CSRFToken)
		if status == http.StatusAccepted {
			t.Fatalf("%s with an old second factor started a job: %s", tc.path, out)
		}

		if status != http.StatusUnauthorized || !a.StepUp || !strings.Contains(a.Error, tc.what+" needs a second factor from the last 5 minutes") {
			t.Fatalf("%s with an old second factor: %d %s", tc.path, status, out)
		}
	}

	if status, a, out := prune(`{"dry_run": true}`); status != http.StatusAccepted || a.StepUp {
		t.Fatalf("a dry run needs no step-up: %d %s", status, out)
	}

	// A wrong code, then a code that is not a step after the login's.
	if status, _, out := call("POST", "/api/v1/session/step-up", `{"totp": "000000"}`, lr.CSRFToken); status != http.StatusUnauthorized || !strings.Contains(out, "step-up refused") {
		t.Fatalf("a wrong code: %d %s", status, out)
	}

	fresh := code(30 * time.Second)

	if status, _, out := call("POST", "/api/v1/session/step-up", `{"totp": "`+fresh+`"}`, ""); status != http.StatusForbidden {
		t.Fatalf("a step-up without the CSRF header: %d %s", status, out)
	}

	if status, _, out := call("POST", "/api/v1/session/step-up", `{"totp": "`+fresh+`"}`, lr.CSRFToken); status != http.StatusOK || !strings.Contains(out, "stepped_up_until") {
		t.Fatalf("a step-up with a fresh code: %d %s", status, out)
	}

	if status, _, out := prune(`{}`); status != http.StatusAccepted {
		t.Fatalf("a prune after the step-up: %d %s", status, out)
	}

	fake.Advance(StepUpAfter + time.Second)

	if status, _, out := call("POST", "/api/v1/session/step-up", `{"totp": "`+fresh+`"}`, lr.CSRFToken); status != http.StatusUnauthorized || !strings.Contains(out, "step-up refused") {
		t.Fatalf("a reused code: %d %s", status, out)
	}

	if status, a, out := prune(`{}`); status != http.StatusUnauthorized || !a.StepUp {
		t.Fatalf("a prune after a refused step-up: %d %s", status, out)
	}

	// An admin token is exempt.
	if status, out := f.call(t, "POST", "/api/v1/prune", `{"dry_run": false}`, bearer(access.Admin)...); status != http.StatusAccepted {
		t.Fatalf("a prune with an admin token: %d %s", status, out)
	} else {
		var j Job
		_ = json.Unmarshal([]byte(out), &j)
		f.follow(t, j.ID, access.Admin)
	}

	var ok, refused int

	for _, r := range f.records(t) {
		switch {
		case r.Action == "step-up" && r.Actor == "user:root" && r.Outcome == audit.OK:
			ok++
		case r.Action == "step-up" && r.Actor == "user:root" && r.Outcome == audit.Refused && strings.Contains(r.Detail, "already used"):
			refused++
		}
	}

	if ok != 1 || refused != 1 {
		t.Fatalf("step-ups audited: %d ok, %d refused as reused, want 1 and 1", ok, refused)
	}
}

// TestStepUpRefusals: a user without a second factor cannot step up (and
// is told to enrol one), a token is told it needs none, and without
// server.oidc single sign-on answers 404 naming the setting; a missing
// client secret stops the setup with the key named.
func TestStepUpRefusals(t *testing.T) {
	f := newFixture(t)
	store, _ := f.srv.Authority.(*access.Store)

	if err := store.AddUser(context.Background(), "test", "plain", access.Admin, "plain-password"); err != nil {
		t.Fatal(err)
	}

	b := f.browser(t, "")

	resp, err := b.Post(f.url+"/api/v1/session", "application/json", strings.NewReader(`{"user": "plain", "password": "plain-password"}`))
	if err != nil {
		t.Fatal(err)
	}

	var lr loginResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s %v", resp.Status, err)
	}
	resp.Body.Close()

	req, _ := http.NewRequest("POST", f.url+"/api/v1/session/step-up", strings.NewReader(`{"totp": "123456"}`))
	req.Header.Set(csrfHeader, lr.CSRFToken)

	resp, err = b.Do(req)
	if err != nil {
		t.Fatal(err)
	}

	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(out), "user plain has no second factor to step up with: enrol one with `lifeboat user mfa plain`") {
		t.Fatalf("a step-up without a second factor: %s %s", resp.Status, out)
	}

	if code, out := f.call(t, "POST", "/api/v1/session/step-up", `{"totp": "123456"}`, bearer(access.Admin)...); code != http.StatusBadRequest || !strings.Contains(out, "API tokens need no step-up") {
		t.Fatalf("a step-up with a token: %d %s", code, out)
	}

	if code, out := f.call(t, "GET", "/api/v1/session/oidc", ""); code != http.StatusNotFound || !strings.Contains(out, "add server.oidc") {
		t.Fatalf("single sign-on unconfigured: %d %s", code, out)
	}

	_, err = NewSSO(&config.OIDC{ClientSecretEnv: "LIFEBOAT_TEST_UNSET"}, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "server.oidc.client_secret_env: LIFEBOAT_TEST_UNSET is empty or not set") {
		t.Fatalf("a missing client secret: %v", err)
	}
}
