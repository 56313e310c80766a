package config

import (
	"net/url"
	"slices"

	"gopkg.in/yaml.v3"

	"lifeboat/internal/access"
)

// OIDC is server.oidc: single sign-on through an OpenID Connect provider
// (authorization code flow with PKCE), whose groups map to Lifeboat roles.
type OIDC struct {
	// Issuer is the provider's issuer URL, where its discovery document is.
	Issuer   string
	ClientID string
	// The client secret is read from ClientSecretEnv or ClientSecretFile
	// when the daemon starts, never kept in the file.
	ClientSecretEnv  string
	ClientSecretFile string
	// RedirectURL is this server's callback as the provider knows it:
	// https://HOST:PORT/api/v1/session/oidc/callback.
	RedirectURL string
	// GroupsClaim names the ID token's claim listing the user's groups.
	GroupsClaim string
	// Scopes are asked of the provider (openid is always among them).
	Scopes []string
	// Roles maps a provider group to the role its members get; a member of
	// several gets the highest.
	Roles map[string]access.Role
}

// DefaultGroupsClaim is the claim most providers (Keycloak's group mapper,
// Authentik) put the groups in.
const DefaultGroupsClaim = "groups"

// oidc reads server.oidc.
func (p *parser) oidc(n *yaml.Node) *OIDC {
	const key = "server.oidc"

	m := p.mapping(n, key, "issuer", "client_id", "client_secret_env", "client_secret_file", "redirect_url", "groups_claim", "scopes", "roles")
	o := &OIDC{GroupsClaim: DefaultGroupsClaim, Scopes: []string{"openid", "profile", "email"}}

	for _, f := range []struct {
		k   string
		dst *string
		url bool
	}{{"issuer", &o.Issuer, true}, {"client_id", &o.ClientID, false}, {"redirect_url", &o.RedirectURL, true}} {
		v, ok := m[f.k]
		if !ok {
			p.fail(n, key+"."+f.k, "missing; see the README's single sign-on section")
			continue
		}

		if v.Kind != yaml.ScalarNode || v.Value == "" {
			p.fail(v, key+"."+f.k, "expected a string, found %s", describe(v))
			continue
		}

		if u, err := url.Parse(v.Value); f.url && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			p.fail(v, key+"."+f.k, "expected an http(s) URL such as https://sso.example.org/realms/ops, found %s", describe(v))
			continue
		}

		*f.dst = v.Value
	}

	if v, ok := m["groups_claim"]; ok {
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			p.fail(v, key+".groups_claim", "expected a claim name such as groups, found %s", describe(v))
		} else {
			o.GroupsClaim = v.Value
		}
	}

	if v, ok := m["scopes"]; ok {
		o.Scopes = p.stringList(v, key+".scopes")
		if !slices.Contains(o.Scopes, "openid") {
			o.Scopes = append([]string{"openid"}, o.Scopes...)
		}
	}

	p.oidcSecret(n, m, o)
	o.Roles = p.oidcRoles(n, m["roles"])

	return o
}

// oidcSecret reads where the client secret is: exactly one of
// client_secret_env and client_secret_file.
func (p *parser) oidcSecret(n *yaml.Node, m map[string]*yaml.Node, o *OIDC) {
	env, hasEnv := m["client_secret_env"]
	file, hasFile := m["client_secret_file"]

	switch {
	case hasEnv && hasFile:
		p.fail(file, "server.oidc.client_secret_file", "give client_secret_env or client_secret_file, not both")
	case hasEnv:
		if env.Kind != yaml.ScalarNode || env.Value == "" {
			p.fail(env, "server.oidc.client_secret_env", "expected an environment variable name such as LIFEBOAT_OIDC_SECRET, found %s", describe(env))
			return
		}

		o.ClientSecretEnv = env.Value
		p.secretVar(env, "server.oidc.client_secret_env")
	case hasFile:
		o.ClientSecretFile = p.absPath(file, "server.oidc.client_secret_file")
	default:
		p.fail(n, "server.oidc.client_secret_env", "missing; name the variable holding the client secret (or give client_secret_file)")
	}
}

// oidcRoles reads server.oidc.roles: {GROUP: ROLE}.
func (p *parser) oidcRoles(parent, n *yaml.Node) map[string]access.Role {
	const key = "server.oidc.roles"

	if n == nil {
		p.fail(parent, key, "missing; map the provider's groups to roles, e.g. {lifeboat-admins: admin, developers: viewer}")
		return nil
	}

	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.fail(n, key, "expected a mapping of groups to roles, e.g. {lifeboat-admins: admin}, found %s", describe(n))
		return nil
	}

	roles := map[string]access.Role{}

	for i := 0; i+1 < len(n.Content); i += 2 {
		g, v := n.Content[i], n.Content[i+1]

		r, err := access.ParseRole(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode {
			p.fail(v, key+"."+g.Value, "unknown role %s: use viewer, developer, auditor, operator or admin", describe(v))
			continue
		}

		roles[g.Value] = r
	}

	return roles
}
