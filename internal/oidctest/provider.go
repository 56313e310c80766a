// Package oidctest is a real OpenID provider for tests, on loopback: built
// on zitadel/oidc's op package over a small in-memory storage, with one
// confidential client and a few users with groups. The API's single
// sign-on tests and the dashboard's browser test log in through it.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"lifeboat/internal/clock"
)

// Provider is a real OpenID provider on loopback, built on zitadel/oidc's
// op package over a small in-memory storage: one confidential client and a
// few users with groups. Its login page is a form that takes a user name
// (no password: the provider's own login is not what is tested).
type Provider struct {
	Issuer       string
	ClientID     string
	ClientSecret string

	key *rsa.PrivateKey
	op  *op.Provider

	mu       sync.Mutex
	redirect string
	users    map[string]providerUser
	requests map[string]*providerRequest
	codes    map[string]string // code -> request ID
	tokens   map[string]string // access token ID -> subject
	n        int
}

type providerUser struct {
	subject, name string
	groups        []string
}

// New starts the provider, which accepts redirectURL as its one
// client's callback.
func New(t *testing.T, redirectURL string) *Provider {
	t.Helper()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	p := &Provider{
		ClientID: "lifeboat", ClientSecret: "provider-test-secret", key: key, redirect: redirectURL,
		users: map[string]providerUser{
			// ann is in an admin group and a viewer group: the highest
			// role wins.
			"ann": {subject: "sub-ann-0001", name: "ann", groups: []string{"staff", "lifeboat-admins"}},
			"vic": {subject: "sub-vic-0002", name: "vic", groups: []string{"developers"}},
			"nob": {subject: "sub-nob-0003", name: "nob", groups: []string{"marketing"}},
			// eve's ID tokens carry another nonce than the login sent, as
			// a token replayed from another login would.
			"eve": {subject: "sub-eve-0004", name: "eve", groups: []string{"lifeboat-admins"}},
		},
		requests: map[string]*providerRequest{}, codes: map[string]string{}, tokens: map[string]string{},
	}

	srv := httptest.NewUnstartedServer(nil)
	p.Issuer = "http://" + srv.Listener.Addr().String()

	cfg := &op.Config{CryptoKey: sha256.Sum256([]byte("Provider test key")), CodeMethodS256: true}

	p.op, err = op.NewProvider(cfg, p, op.StaticIssuer(p.Issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/login", p.login)
	mux.Handle("/", p.op)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)

	return p
}

// login is the provider's login page: GET shows the form, POST logs the
// named user in and sends the browser back through the provider.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("id")

	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<form method="post" action="/login"><input type="hidden" name="id" value="%s">`+
			`<label for="username">User</label> <input id="username" name="username"> <button type="submit" id="provider-login">Log in</button></form>`, html.EscapeString(id))
		return
	}

	p.mu.Lock()
	u, okUser := p.users[r.FormValue("username")]
	req, okReq := p.requests[id]

	if okUser && okReq {
		req.subject, req.done, req.authTime = u.subject, true, clock.Real{}.Now()
	}
	p.mu.Unlock()

	if !okUser || !okReq {
		http.Error(w, "unknown user or login request", http.StatusBadRequest)
		return
	}

	http.Redirect(w, r, p.Issuer+"/authorize/callback?id="+id, http.StatusFound)
}

func (p *Provider) user(subject string) (providerUser, bool) {
	for _, u := range p.users {
		if u.subject == subject {
			return u, true
		}
	}

	return providerUser{}, false
}

// providerRequest is an authorization request the provider holds.
type providerRequest struct {
	id       string
	req      oidc.AuthRequest
	subject  string
	done     bool
	authTime time.Time
}

func (a *providerRequest) GetID() string                      { return a.id }
func (a *providerRequest) GetACR() string                     { return "" }
func (a *providerRequest) GetAMR() []string                   { return []string{"pwd"} }
func (a *providerRequest) GetAudience() []string              { return []string{a.req.ClientID} }
func (a *providerRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *providerRequest) GetClientID() string                { return a.req.ClientID }
func (a *providerRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *providerRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }
func (a *providerRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *providerRequest) GetScopes() []string                { return a.req.Scopes }
func (a *providerRequest) GetState() string                   { return a.req.State }
func (a *providerRequest) GetSubject() string                 { return a.subject }
func (a *providerRequest) Done() bool                         { return a.done }

func (a *providerRequest) GetNonce() string {
	if a.subject == "sub-eve-0004" {
		return "another-login-" + a.req.Nonce
	}

	return a.req.Nonce
}

func (a *providerRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}

	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}

var errNotFound = errors.New("not found")

// The op.Storage methods.

func (p *Provider) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.n++
	a := &providerRequest{id: fmt.Sprintf("req-%d", p.n), req: *req}
	p.requests[a.id] = a

	return a, nil
}

func (p *Provider) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if a, ok := p.requests[id]; ok {
		return a, nil
	}

	return nil, errNotFound
}

func (p *Provider) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	p.mu.Lock()
	id, ok := p.codes[code]
	p.mu.Unlock()

	if !ok {
		return nil, errNotFound
	}

	return p.AuthRequestByID(ctx, id)
}

func (p *Provider) SaveAuthCode(_ context.Context, id, code string) error {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.codes[code] = id

	return nil
}

func (p *Provider) DeleteAuthRequest(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()

	delete(p.requests, id)

	for c, rid := range p.codes {
		if rid == id {
			delete(p.codes, c)
		}
	}

	return nil
}

func (p *Provider) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.n++
	id := fmt.Sprintf("at-%d", p.n)
	p.tokens[id] = req.GetSubject()

	return id, clock.Real{}.Now().Add(5 * time.Minute), nil
}

func (p *Provider) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("no refresh tokens here")
}

func (p *Provider) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (p *Provider) TerminateSession(context.Context, string, string) error { return nil }

func (p *Provider) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (p *Provider) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type providerKey struct{ key *rsa.PrivateKey }

func (k providerKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k providerKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k providerKey) ID() string                                  { return "provider-test-key" }
func (k providerKey) Use() string                                 { return "sig" }
func (k providerKey) Key() any                                    { return k.key }

type providerPublicKey struct{ providerKey }

func (k providerPublicKey) Key() any { return &k.key.PublicKey }

func (p *Provider) SigningKey(context.Context) (op.SigningKey, error) {
	return providerKey{p.key}, nil
}

func (p *Provider) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (p *Provider) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{providerPublicKey{providerKey{p.key}}}, nil
}

func (p *Provider) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != p.ClientID {
		return nil, errNotFound
	}

	return providerClient{p}, nil
}

func (p *Provider) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != p.ClientID || secret != p.ClientSecret {
		return errors.New("wrong client credentials")
	}

	return nil
}

func (p *Provider) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, subject, _ string, _ []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()

	u, ok := p.user(subject)
	if !ok {
		return errNotFound
	}

	info.Subject, info.PreferredUsername = u.subject, u.name
	info.AppendClaims("groups", u.groups)

	return nil
}

func (p *Provider) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	p.mu.Lock()
	subject, ok := p.tokens[tokenID]
	p.mu.Unlock()

	if !ok {
		return errNotFound
	}

	return p.SetUserinfoFromScopes(ctx, info, subject, "", nil)
}

func (p *Provider) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("no introspection here")
}

func (p *Provider) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (p *Provider) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (p *Provider) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("no JWT profile here")
}

func (p *Provider) Health(context.Context) error { return nil }

// providerClient is the provider's one client: Lifeboat, a confidential
// web application with a secret.
type providerClient struct{ p *Provider }

func (c providerClient) GetID() string                       { return c.p.ClientID }
func (c providerClient) RedirectURIs() []string              { return []string{c.p.redirect} }
func (c providerClient) PostLogoutRedirectURIs() []string    { return nil }
func (c providerClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c providerClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c providerClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c providerClient) GrantTypes() []oidc.GrantType         { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c providerClient) LoginURL(id string) string            { return c.p.Issuer + "/login?id=" + id }
func (c providerClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c providerClient) IDTokenLifetime() time.Duration       { return 5 * time.Minute }
func (c providerClient) DevMode() bool                        { return false }
func (c providerClient) IsScopeAllowed(s string) bool         { return slices.Contains([]string{"groups"}, s) }
func (c providerClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c providerClient) ClockSkew() time.Duration             { return 0 }

func (c providerClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c providerClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
