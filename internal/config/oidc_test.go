package config

import (
	"slices"
	"strings"
	"testing"

	"lifeboat/internal/access"
)

const oidcBase = "repository: {path: /r}\nsources:\n  u: {type: files, paths: [/srv]}\n"

// TestOIDCConfig: a complete server.oidc is read with its defaults, and
// its client secret's variable is held back from the programs Lifeboat
// starts.
func TestOIDCConfig(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(oidcBase+`server:
  oidc:
    issuer: https://sso.example.org/realms/ops
    client_id: lifeboat
    client_secret_env: LIFEBOAT_OIDC_SECRET
    redirect_url: https://backup.example.org:9750/api/v1/session/oidc/callback
    roles: {lifeboat-admins: admin, developers: viewer}
`))
	if err != nil {
		t.Fatal(err)
	}

	o := cfg.Server.OIDC
	if o == nil || o.Issuer != "https://sso.example.org/realms/ops" || o.ClientID != "lifeboat" || o.GroupsClaim != "groups" ||
		o.Roles["lifeboat-admins"] != access.Admin || o.Roles["developers"] != access.Viewer || !slices.Contains(o.Scopes, "openid") {
		t.Fatalf("server.oidc read as %+v", o)
	}

	if !slices.Contains(cfg.SecretEnv(), "LIFEBOAT_OIDC_SECRET") {
		t.Fatalf("the client secret's variable is not among the secrets: %v", cfg.SecretEnv())
	}
}

// TestOIDCConfigErrors: each mistake in server.oidc is named by its key.
func TestOIDCConfigErrors(t *testing.T) {
	const ok = "issuer: https://sso.example.org, client_id: lb, client_secret_env: LB_OIDC, redirect_url: https://lb.example.org/api/v1/session/oidc/callback"

	for _, c := range []struct{ oidc, want string }{
		{"{client_id: lb, client_secret_env: LB_OIDC, redirect_url: https://x/cb, roles: {a: admin}}", "server.oidc.issuer: missing"},
		{"{issuer: sso.example.org, client_id: lb, client_secret_env: LB_OIDC, redirect_url: https://x/cb, roles: {a: admin}}", "server.oidc.issuer: expected an http(s) URL"},
		{"{issuer: https://sso, client_secret_env: LB_OIDC, redirect_url: https://x/cb, roles: {a: admin}}", "server.oidc.client_id: missing"},
		{"{issuer: https://sso, client_id: lb, redirect_url: https://x/cb, roles: {a: admin}}", "server.oidc.client_secret_env: missing"},
		{"{" + ok + ", client_secret_file: /s, roles: {a: admin}}", "server.oidc.client_secret_file: give client_secret_env or client_secret_file, not both"},
		{"{issuer: https://sso, client_id: lb, client_secret_env: PATH, redirect_url: https://x/cb, roles: {a: admin}}", "server.oidc.client_secret_env: PATH is passed to every program"},
		{"{issuer: https://sso, client_id: lb, client_secret_env: LB_OIDC, roles: {a: admin}}", "server.oidc.redirect_url: missing"},
		{"{" + ok + "}", "server.oidc.roles: missing"},
		{"{" + ok + ", roles: {ops: root}}", "server.oidc.roles.ops: unknown role \"root\""},
		{"{" + ok + ", roles: [admin]}", "server.oidc.roles: expected a mapping of groups to roles"},
		{"{" + ok + ", roles: {a: admin}, groups_claim: [x]}", "server.oidc.groups_claim: expected a claim name"},
		{"{" + ok + ", roles: {a: admin}, group_claim: groups}", "server.oidc.group_claim: unknown key"},
	} {
		_, err := Parse("c.yaml", []byte(oidcBase+"server:\n  oidc: "+c.oidc+"\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.oidc, err, c.want)
		}
	}
}
