package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"lifeboat/internal/access"
)

// document is the part of the OpenAPI document the tests read.
type document struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		Perm string `json:"x-permission"`
	} `json:"paths"`
}

func readDocument(t *testing.T) document {
	t.Helper()

	var doc document
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}

	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json is OpenAPI %q, not 3", doc.OpenAPI)
	}

	return doc
}

// TestOpenAPIDocumentMatchesRoutes: every route of the table is in the
// document with its permission, and every operation of the document is a
// route.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	doc := readDocument(t)
	seen := map[string]bool{}

	for _, rt := range Routes() {
		op, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.Method, rt.Path)
			continue
		}

		want := string(rt.Permission)
		if want == "" {
			want = "none"
		}

		if op.Perm != want {
			t.Errorf("%s %s: openapi.json says x-permission %q, the route table %q", rt.Method, rt.Path, op.Perm, want)
		}

		seen[rt.Method+" "+rt.Path] = true
	}

	for path, ops := range doc.Paths {
		for method := range ops {
			if k := strings.ToUpper(method) + " " + path; !seen[k] && k != "GET /api/v1/openapi.json" {
				t.Errorf("openapi.json documents %s, which no route serves", k)
			}
		}
	}
}

// matrixCall is how the matrix calls a route: path parameters name things
// that do not exist, so an allowed call is answered without starting
// anything long (prune runs as a dry run).
func matrixCall(rt Route) (path, body string) {
	path = strings.NewReplacer("{id}", "nosuch0", "{name}", "nosuch").Replace(rt.Path)

	switch rt.Path {
	case "/api/v1/restore":
		body = `{"source": "nosuch", "target": "/nonexistent"}`
	case "/api/v1/prune":
		body = `{"dry_run": true}`
	case "/api/v1/replicate":
		body = `{"copy": "nosuch"}`
	case "/api/v1/snapshots/{id}/file", "/api/v1/snapshots/{id}/tree":
		path += "?path=x"
	}

	return path, body
}

// TestRoleByRouteMatrix calls every route of the OpenAPI document as every
// role and with no credential: the answers follow the route table's
// permission (401 without a credential, 403 for a role without it, neither
// for a role with it). A documented route missing from the table fails.
func TestRoleByRouteMatrix(t *testing.T) {
	f := newFixture(t)
	doc := readDocument(t)

	table := map[string]Route{}
	for _, rt := range Routes() {
		table[rt.Method+" "+rt.Path] = rt
	}

	for path, ops := range doc.Paths {
		for method := range ops {
			key := strings.ToUpper(method) + " " + path

			rt, ok := table[key]
			if !ok {
				if key != "GET /api/v1/openapi.json" {
					t.Errorf("%s is documented but has no entry in the route table", key)
				}

				continue
			}

			if rt.Permission == "" {
				continue
			}

			p, body := matrixCall(rt)

			if code, out := f.call(t, rt.Method, p, body); code != http.StatusUnauthorized {
				t.Errorf("%s without a credential: %d %s, want 401", key, code, out)
			}

			if code, _ := f.call(t, rt.Method, p, body, "Authorization", "Bearer not-a-token"); code != http.StatusUnauthorized {
				t.Errorf("%s with an unknown token: %d, want 401", key, code)
			}

			for _, role := range access.Roles {
				code, out := f.call(t, rt.Method, p, body, bearer(role)...)

				allowed := access.Allows(role, rt.Permission)
				if allowed && (code == http.StatusUnauthorized || code == http.StatusForbidden) {
					t.Errorf("%s as %s (granted %s): %d %s", key, role, rt.Permission, code, out)
				}

				if !allowed && code != http.StatusForbidden {
					t.Errorf("%s as %s (not granted %s): %d %s, want 403", key, role, rt.Permission, code, out)
				}

				if !allowed && !strings.Contains(out, string(rt.Permission)) {
					t.Errorf("%s as %s: the refusal does not name the permission: %s", key, role, out)
				}
			}
		}
	}

	// The open document answers anyone.
	if code, out := f.call(t, "GET", "/api/v1/openapi.json", ""); code != http.StatusOK || !strings.Contains(out, `"openapi"`) {
		t.Errorf("openapi.json: %d", code)
	}
}
