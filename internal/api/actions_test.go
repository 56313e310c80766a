package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/repo"
)

// TestActionsThroughTheExecutor: verify, restore test, prune (dry run),
// pin and unpin run through the executor as the command line's do, audited
// as their principal; the reads answer.
func TestActionsThroughTheExecutor(t *testing.T) {
	f := newFixture(t)

	if _, end := f.follow(t, f.start(t, access.Operator, "/api/v1/sources/data/backup", "").ID, access.Viewer); end.State != JobSucceeded {
		t.Fatalf("backup: %+v", end)
	}

	for _, a := range []struct {
		role       access.Role
		path, body string
	}{
		{access.Operator, "/api/v1/sources/data/verify", `{"fraction": 1}`},
		{access.Operator, "/api/v1/sources/data/restore-test", ""},
		{access.Admin, "/api/v1/prune", `{"dry_run": true}`},
	} {
		kinds, end := f.follow(t, f.start(t, a.role, a.path, a.body).ID, access.Viewer)
		if end.State != JobSucceeded || len(kinds) == 0 || kinds[len(kinds)-1] != "finished" {
			t.Errorf("%s: %+v, events %v", a.path, end, kinds)
		}
	}

	_, out := f.call(t, "GET", "/api/v1/snapshots", "", bearer(access.Viewer)...)

	var snaps []repo.Snapshot
	if err := json.Unmarshal([]byte(out), &snaps); err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %s", out)
	}

	id := snaps[0].ID

	if code, out := f.call(t, "POST", "/api/v1/snapshots/"+id+"/pin", "", bearer(access.Admin)...); code != http.StatusBadRequest || !strings.Contains(out, "reason") {
		t.Errorf("pin without a reason: %d %s", code, out)
	}

	if code, out := f.call(t, "POST", "/api/v1/snapshots/"+id+"/pin", `{"reason": "legal hold"}`, bearer(access.Admin)...); code != http.StatusOK || !strings.Contains(out, `"pinned":true`) {
		t.Errorf("pin: %d %s", code, out)
	}

	if code, out := f.call(t, "POST", "/api/v1/snapshots/"+id+"/unpin", "", bearer(access.Admin)...); code != http.StatusOK || !strings.Contains(out, `"pinned":false`) {
		t.Errorf("unpin: %d %s", code, out)
	}

	for path, want := range map[string]string{
		"/api/v1/status":                       `"tls_fingerprint":"` + f.srv.Transport.Fingerprint + `"`,
		"/api/v1/copies":                       "[]",
		"/api/v1/recovery-points":              "[]",
		"/api/v1/reports/compliance?since=90d": `"sources"`,
		"/api/v1/audit":                        `"action":"pin"`,
		"/api/v1/sources/data/binlog":          "only database sources have a binlog archive",
	} {
		if _, out := f.call(t, "GET", path, "", bearer(access.Auditor)...); !strings.Contains(out, want) {
			t.Errorf("GET %s: %s, want %s in it", path, out, want)
		}
	}

	got := map[string]string{}

	for _, r := range f.records(t) {
		if r.Outcome == audit.OK {
			got[r.Action] = r.Actor
		}
	}

	for action, actor := range map[string]string{
		"verify": "token:ci-operator (api)", "restore test": "token:ci-operator (api)", "prune": "token:ci-admin (api)",
		"pin": "token:ci-admin (api)", "unpin": "token:ci-admin (api)",
	} {
		if got[action] != actor {
			t.Errorf("audit record %q by %q, want %q (%v)", action, got[action], actor, got)
		}
	}
}
