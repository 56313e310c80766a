package api

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/repo"
)

// The tests' users and tokens, made in each fixture's repository by the
// real access store: a token per role, named ci-ROLE, and alice, an
// operator with a second factor.
var (
	tokensMu sync.Mutex
	tokens   = map[access.Role]string{}
	// aliceSecret is alice's TOTP seed, to compute her codes.
	aliceSecret string
)

const alicePassword = "alice-password"

// tokenFor is the current fixture's token of a role.
func tokenFor(r access.Role) string {
	tokensMu.Lock()
	defer tokensMu.Unlock()

	return tokens[r]
}

// users makes the store the server uses, with the tests' tokens and user.
func users(t *testing.T, r *repo.Repository, log *audit.Log) *access.Store {
	t.Helper()

	ctx := context.Background()
	s := &access.Store{Repo: r, Audit: log}

	tokensMu.Lock()
	defer tokensMu.Unlock()

	for _, role := range access.Roles {
		secret, err := s.CreateToken(ctx, "test", "ci-"+string(role), role, 0)
		if err != nil {
			t.Fatal(err)
		}

		tokens[role] = secret
	}

	if err := s.AddUser(ctx, "test", "alice", access.Operator, alicePassword); err != nil {
		t.Fatal(err)
	}

	e, err := s.BeginMFA(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}

	aliceSecret = u.Query().Get("secret")

	// The confirmation uses the previous step's code, so alice's first
	// login (this step's) is not a reused code.
	if err := s.ConfirmMFA(ctx, "test", e, aliceCode(t, -30*time.Second)); err != nil {
		t.Fatal(err)
	}

	return s
}

// aliceCode is alice's TOTP code at now+offset.
func aliceCode(t *testing.T, offset time.Duration) string {
	t.Helper()

	c, err := totp.GenerateCode(aliceSecret, time.Now().Add(offset))
	if err != nil {
		t.Fatal(err)
	}

	return c
}

// TestRevokedTokenRefusedAtOnce: a token the store revokes is refused by
// the next request, and its secret is in no audit record.
func TestRevokedTokenRefusedAtOnce(t *testing.T) {
	f := newFixture(t)
	tok := tokenFor(access.Viewer)

	if code, out := f.call(t, "GET", "/api/v1/sources", "", bearer(access.Viewer)...); code != 200 {
		t.Fatalf("a fresh viewer token: %d %s", code, out)
	}

	store, _ := f.srv.Authority.(*access.Store)
	if err := store.RevokeToken(context.Background(), "test", "ci-viewer"); err != nil {
		t.Fatal(err)
	}

	if code, out := f.call(t, "GET", "/api/v1/sources", "", bearer(access.Viewer)...); code != 401 {
		t.Fatalf("the revoked token: %d %s, want 401", code, out)
	}

	for _, r := range f.records(t) {
		if strings.Contains(r.Detail+r.Actor+r.Action, tok) {
			t.Fatalf("the token's secret is in the audit record %+v", r)
		}
	}
}
