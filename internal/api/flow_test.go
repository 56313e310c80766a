package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// TestBackupJobFollowedToCompletion: a backup started with POST is a job;
// its events stream over SSE, typed, to the end; GET shows it succeeded;
// the snapshot is listed and the audit trail names the token.
func TestBackupJobFollowedToCompletion(t *testing.T) {
	f := newFixture(t)

	j := f.start(t, access.Operator, "/api/v1/sources/data/backup", `{"type": "full"}`)
	if j.Action != "backup" || j.Source != "data" || j.By != "token:ci-operator (api)" {
		t.Fatalf("job %+v", j)
	}

	kinds, end := f.follow(t, j.ID, access.Viewer)
	if len(kinds) < 2 || kinds[0] != "started" || kinds[len(kinds)-1] != "finished" {
		t.Fatalf("events %v: want started first and finished last", kinds)
	}

	if !slices.Contains(kinds, "bytes") {
		t.Errorf("no bytes events in %v", kinds)
	}

	if end.State != JobSucceeded || end.End.IsZero() {
		t.Fatalf("end event: %+v", end)
	}

	code, out := f.call(t, "GET", "/api/v1/jobs/"+j.ID, "", bearer(access.Viewer)...)

	var got struct {
		Job
		Result repo.Snapshot `json:"result"`
	}

	if err := json.Unmarshal([]byte(out), &got); code != http.StatusOK || err != nil || got.State != JobSucceeded || got.Result.ID == "" {
		t.Fatalf("GET job: %d %s (%v)", code, out, err)
	}

	code, out = f.call(t, "GET", "/api/v1/snapshots?source=data", "", bearer(access.Viewer)...)

	var snaps []repo.Snapshot
	if err := json.Unmarshal([]byte(out), &snaps); code != http.StatusOK || err != nil || len(snaps) != 1 || snaps[0].ID != got.Result.ID {
		t.Fatalf("snapshots: %d %s (%v)", code, out, err)
	}

	// The job list has it; the tree and a file come back, audited.
	if code, out := f.call(t, "GET", "/api/v1/jobs", "", bearer(access.Viewer)...); code != http.StatusOK || !strings.Contains(out, j.ID) {
		t.Errorf("jobs: %d %s", code, out)
	}

	if code, out := f.call(t, "GET", "/api/v1/snapshots/"+snaps[0].ID+"/tree?path=sub", "", bearer(access.Viewer)...); code != http.StatusOK || !strings.Contains(out, "f2.txt") {
		t.Errorf("tree: %d %s", code, out)
	}

	code, out = f.call(t, "GET", "/api/v1/snapshots/"+snaps[0].ID[:8]+"/file?path=sub/f1.txt", "", bearer(access.Operator)...)
	if code != http.StatusOK || out != strings.Repeat("lifeboat 1 ", 2000) {
		t.Errorf("file: %d, %d bytes", code, len(out))
	}

	if code, out := f.call(t, "GET", "/api/v1/sources", "", bearer(access.Viewer)...); code != http.StatusOK || !strings.Contains(out, `"last_type":"full"`) {
		t.Errorf("sources: %d %s", code, out)
	}

	key, _ := f.repo.AuditKey()

	stored, err := ops.ReadTrail(context.Background(), f.repo, key)
	if err != nil || !slices.ContainsFunc(stored, func(r audit.Record) bool { return r.Action == "backup" && r.Actor == "token:ci-operator (api)" }) {
		t.Errorf("the repository's copy of the trail lacks the job's backup record (%v): %+v", err, stored)
	}

	want := map[string]bool{"backup": false, "api tree": false, "api download": false}

	for _, r := range f.records(t) {
		if _, ok := want[r.Action]; ok && r.Actor == "token:ci-"+map[string]string{"backup": "operator", "api tree": "viewer", "api download": "operator"}[r.Action]+" (api)" && r.Outcome == audit.OK {
			want[r.Action] = true
		}
	}

	for action, found := range want {
		if !found {
			t.Errorf("no %q record by its token in the audit trail: %+v", action, f.records(t))
		}
	}
}

// TestCancelJob: DELETE cancels a running job (a backup of a large file,
// cancelled once its first bytes are counted): it ends cancelled, its
// stream ends, and the aborted backup saved no snapshot.
func TestCancelJob(t *testing.T) {
	f := newFixture(t)

	big := make([]byte, 256<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}

	writeFile(t, filepath.Join(f.data, "big.bin"), string(big))

	j := f.start(t, access.Operator, "/api/v1/sources/data/backup", "")

	cancelled := false
	_, end := f.followWith(t, j.ID, access.Viewer, func(kind string) {
		if kind == "bytes" && !cancelled {
			cancelled = true

			if code, out := f.call(t, "DELETE", "/api/v1/jobs/"+j.ID, "", bearer(access.Operator)...); code != http.StatusAccepted {
				t.Errorf("cancel: %d %s", code, out)
			}
		}
	})

	if end.State != JobCancelled || !strings.Contains(end.Error, "context canceled") {
		t.Fatalf("a cancelled job ended %+v", end)
	}

	if code, out := f.call(t, "GET", "/api/v1/snapshots", "", bearer(access.Viewer)...); code != http.StatusOK || out != "[]\n" {
		t.Errorf("a cancelled backup left a snapshot: %s", out)
	}

	if code, _ := f.call(t, "DELETE", "/api/v1/jobs/nosuch", "", bearer(access.Operator)...); code != http.StatusNotFound {
		t.Errorf("cancel an unknown job: %d", code)
	}
}

// login logs alice in and returns her session cookie and CSRF token.
func (f *fixture) login(t *testing.T) (*http.Cookie, string) {
	t.Helper()

	resp := f.do(t, "POST", "/api/v1/session", `{"user": "alice", "password": "`+alicePassword+`", "totp": "`+aliceCode(t, 0)+`"}`)
	defer resp.Body.Close()

	var lr loginResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); resp.StatusCode != http.StatusOK || err != nil || lr.CSRFToken == "" || lr.Role != access.Operator {
		t.Fatalf("login: %s %+v (%v)", resp.Status, lr, err)
	}

	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || !cookies[0].Secure || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want one HttpOnly, Secure, SameSite=Strict cookie", cookies)
	}

	return cookies[0], lr.CSRFToken
}

// TestSessionAndCSRF: a session reads without more; a state-changing
// request with the cookie but without the CSRF header is refused (and
// starts nothing), with it is served; a logout ends the session.
func TestSessionAndCSRF(t *testing.T) {
	f := newFixture(t)

	if code, out := f.call(t, "POST", "/api/v1/session", `{"user": "alice", "password": "wrong password", "totp": "`+aliceCode(t, 0)+`"}`); code != http.StatusUnauthorized || !strings.Contains(out, "login refused") {
		t.Fatalf("a wrong password: %d %s", code, out)
	}

	c, csrf := f.login(t)
	cookie := c.Name + "=" + c.Value

	if code, out := f.call(t, "GET", "/api/v1/sources", "", "Cookie", cookie); code != http.StatusOK {
		t.Fatalf("GET with the session: %d %s", code, out)
	}

	for _, bad := range []string{"", "wrong"} {
		code, out := f.call(t, "POST", "/api/v1/sources/data/backup", "", "Cookie", cookie, csrfHeader, bad)
		if code != http.StatusForbidden || !strings.Contains(out, "X-CSRF-Token") {
			t.Fatalf("POST with the cookie and CSRF header %q: %d %s", bad, code, out)
		}
	}

	if code, out := f.call(t, "GET", "/api/v1/jobs", "", "Cookie", cookie); code != http.StatusOK || out != "[]\n" {
		t.Fatalf("a refused request started a job: %s", out)
	}

	j := f.start2(t, "/api/v1/sources/data/backup", "Cookie", cookie, csrfHeader, csrf)
	if j.By != "user:alice (api)" {
		t.Errorf("job by %q", j.By)
	}

	testenv.Eventually(t, 2*time.Minute, func() bool {
		_, out := f.call(t, "GET", "/api/v1/jobs/"+j.ID, "", "Cookie", cookie)
		return !strings.Contains(out, `"running"`)
	}, "the backup job to end")

	if code, _ := f.call(t, "DELETE", "/api/v1/session", "", "Cookie", cookie); code != http.StatusForbidden {
		t.Errorf("logout without the CSRF header: %d", code)
	}

	if code, _ := f.call(t, "DELETE", "/api/v1/session", "", "Cookie", cookie, csrfHeader, csrf); code != http.StatusNoContent {
		t.Errorf("logout: %d", code)
	}

	if code, out := f.call(t, "GET", "/api/v1/sources", "", "Cookie", cookie); code != http.StatusUnauthorized || !strings.Contains(out, "log in again") {
		t.Errorf("after logout: %d %s", code, out)
	}

	var logins []string

	for _, r := range f.records(t) {
		if r.Action == "login" || r.Action == "api logout" {
			logins = append(logins, r.Action+" "+r.Outcome+" "+r.Actor)
		}
	}

	// The store records the logins (with how), the server the logout.
	if want := []string{"login refused user:alice", "login ok user:alice", "api logout ok user:alice (api)"}; !slices.Equal(logins, want) {
		t.Errorf("audit trail of the session: %q, want %q", logins, want)
	}
}

// start2 posts an action with the given headers and returns its job.
func (f *fixture) start2(t *testing.T, path string, header ...string) Job {
	t.Helper()

	code, out := f.call(t, "POST", path, "", header...)
	if code != http.StatusAccepted {
		t.Fatalf("POST %s: %d %s", path, code, out)
	}

	var j Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}

	return j
}
