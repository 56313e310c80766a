package api

import (
	"cmp"
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
)

const (
	// oidcCookie binds a login under way to the browser that started it:
	// it holds the state the callback must bring back. It is Lax, not
	// Strict: the provider's redirect back is a cross-site navigation.
	oidcCookie = "lifeboat_oidc"
	oidcPath   = "/api/v1/session/oidc"
	// oidcWait is how long a login may stay at the provider.
	oidcWait = 10 * time.Minute
	// oidcPending bounds the logins under way, which anyone may start.
	oidcPending = 1000
	// KindSSO is the principal kind of a user logged in through the
	// provider: the audit trail names them sso:NAME.
	KindSSO = "sso"
)

// SSO is single sign-on through an OpenID provider: the authorization code
// flow with PKCE (S256), a state bound to the browser and a nonce bound to
// the ID token. The provider's discovery document is read at the first
// login (and again after a failure), so a provider down when the daemon
// starts does not stop it.
type SSO struct {
	Cfg    *config.OIDC
	Secret string
	// Client reaches the provider.
	Client *http.Client

	mu      sync.Mutex
	party   rp.RelyingParty
	pending map[string]pendingLogin
}

// pendingLogin is what a login under way must bring back: the nonce its ID
// token must hold and the PKCE verifier of its code.
type pendingLogin struct {
	nonce, verifier string
	// next is the dashboard's page the browser returns to.
	next    string
	expires time.Time
}

// NewSSO is single sign-on as cfg configures it, with the client secret
// read from its variable (getenv) or file.
func NewSSO(cfg *config.OIDC, getenv func(string) string) (*SSO, error) {
	secret := ""

	switch {
	case cfg.ClientSecretEnv != "":
		secret = getenv(cfg.ClientSecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("server.oidc.client_secret_env: %s is empty or not set: export the client secret the provider gave", cfg.ClientSecretEnv)
		}
	case cfg.ClientSecretFile != "":
		b, err := os.ReadFile(cfg.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("server.oidc.client_secret_file: %w", err)
		}

		secret = strings.TrimSpace(string(b))
		if secret == "" {
			return nil, fmt.Errorf("server.oidc.client_secret_file: %s is empty", cfg.ClientSecretFile)
		}
	}

	return &SSO{Cfg: cfg, Secret: secret, Client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Name is how the login page names the provider: its issuer's host.
func (o *SSO) Name() string {
	if u, err := url.Parse(o.Cfg.Issuer); err == nil && u.Host != "" {
		return u.Host
	}

	return o.Cfg.Issuer
}

type nonceKey struct{}

// relyingParty is the client of the provider, discovered once.
func (o *SSO) relyingParty(ctx context.Context) (rp.RelyingParty, error) {
	o.mu.Lock()
	party := o.party
	o.mu.Unlock()

	if party != nil {
		return party, nil
	}

	// Discovery runs outside the lock, so a slow provider does not hold
	// up the logins already under way; two first logins may both discover.
	// The verifier checks the ID token's signature (the provider's keys),
	// issuer, audience, expiry and the nonce this login sent.
	nonce := rp.WithNonce(func(ctx context.Context) string {
		n, _ := ctx.Value(nonceKey{}).(string)
		return n
	})

	party, err := rp.NewRelyingPartyOIDC(ctx, o.Cfg.Issuer, o.Cfg.ClientID, o.Secret, o.Cfg.RedirectURL, o.Cfg.Scopes,
		rp.WithHTTPClient(o.Client), rp.WithVerifierOpts(nonce))
	if err != nil {
		return nil, fmt.Errorf("the OpenID provider %s: %w", o.Cfg.Issuer, err)
	}

	o.mu.Lock()
	o.party = party
	o.mu.Unlock()

	return party, nil
}

// begin keeps a login under way, refusing beyond oidcPending.
func (o *SSO) begin(state string, p pendingLogin, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()

	if o.pending == nil {
		o.pending = map[string]pendingLogin{}
	}

	for k, v := range o.pending {
		if now.After(v.expires) {
			delete(o.pending, k)
		}
	}

	if len(o.pending) >= oidcPending {
		return fail(http.StatusServiceUnavailable, "too many single sign-on logins under way: try again in a few minutes")
	}

	o.pending[state] = p

	return nil
}

// take ends the login under way with state: each is used once.
func (o *SSO) take(state string, now time.Time) (pendingLogin, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()

	p, ok := o.pending[state]
	delete(o.pending, state)

	return p, ok && !now.After(p.expires)
}

// role is the highest role groups map to.
func (o *SSO) role(groups []string) (access.Role, bool) {
	best := -1

	for _, g := range groups {
		if r, ok := o.Cfg.Roles[g]; ok {
			best = max(best, slices.Index(access.Roles, r))
		}
	}

	if best < 0 {
		return "", false
	}

	return access.Roles[best], true
}

func (s *Server) sso() (*SSO, error) {
	if s.SSO == nil {
		return nil, fail(http.StatusNotFound, "single sign-on is not configured: add server.oidc to the configuration (see the README)")
	}

	return s.SSO, nil
}

// oidcStart sends the browser to the provider's login.
func oidcStart(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	o, err := s.sso()
	if err != nil {
		return err
	}

	party, err := o.relyingParty(r.Context())
	if err != nil {
		return fail(http.StatusBadGateway, "%v", err)
	}

	state, err := randomHex(32)
	if err != nil {
		return err
	}

	nonce, err := randomHex(32)
	if err != nil {
		return err
	}

	verifier := oauth2.GenerateVerifier()
	now := clock.Or(s.Clock).Now()

	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = ""
	}

	if err := o.begin(state, pendingLogin{nonce: nonce, verifier: verifier, next: next, expires: now.Add(oidcWait)}, now); err != nil {
		return err
	}

	http.SetCookie(w, &http.Cookie{
		Name: oidcCookie, Value: state, Path: oidcPath, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
		MaxAge: int(oidcWait / time.Second),
	})

	withNonce := func() []oauth2.AuthCodeOption { return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", nonce)} }
	http.Redirect(w, r, rp.AuthURL(state, party, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier)), withNonce), http.StatusFound)

	return nil
}

// oidcCallback ends a login at the provider and starts the session. A
// browser (which asks for a page) is sent on to the dashboard's page it
// started from, or back to the login page with the reason of a refusal;
// anything else gets the session or the refusal as JSON.
func oidcCallback(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	pend, p, err := s.ssoCallback(w, r)
	page := s.Pages != nil && strings.Contains(r.Header.Get("Accept"), "text/html")

	switch {
	case !page && err != nil:
		return err
	case !page:
		return s.startSession(w, p)
	case err != nil:
		back := url.Values{"sso_error": {err.Error()}}
		if pend.next != "" {
			back.Set("next", pend.next)
		}

		http.Redirect(w, r, "/login?"+back.Encode(), http.StatusSeeOther)

		return nil
	}

	if _, _, err := s.openSession(w, p); err != nil {
		return err
	}

	http.Redirect(w, r, cmp.Or(pend.next, "/"), http.StatusSeeOther)

	return nil
}

// localPath says whether next is a path on this server (not another site's
// address, which a login must never be sent on to).
func localPath(next string) bool {
	return strings.HasPrefix(next, "/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n")
}

// ssoCallback checks the provider's answer: the state must be the one
// this browser started with, the code is exchanged with its PKCE verifier,
// the ID token is verified (signature, issuer, audience, expiry, nonce),
// and its groups give the role.
func (s *Server) ssoCallback(w http.ResponseWriter, r *http.Request) (pendingLogin, access.Principal, error) {
	none := access.Principal{}

	o, err := s.sso()
	if err != nil {
		return pendingLogin{}, none, err
	}

	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: oidcPath, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})

	q := r.URL.Query()
	state := q.Get("state")

	c, err := r.Cookie(oidcCookie)
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		return pendingLogin{}, none, s.ssoRefused(none, http.StatusBadRequest, "the state does not match the login this browser started: start again at GET "+oidcPath)
	}

	pend, ok := o.take(state, clock.Or(s.Clock).Now())
	if !ok {
		return pend, none, s.ssoRefused(none, http.StatusBadRequest, "no login under way with this state (used already, or older than 10 minutes): start again at GET "+oidcPath)
	}

	if e := q.Get("error"); e != "" {
		return pend, none, s.ssoRefused(none, http.StatusUnauthorized, fmt.Sprintf("the provider refused the login: %s %s", shown(e), shown(q.Get("error_description"))))
	}

	party, err := o.relyingParty(r.Context())
	if err != nil {
		return pend, none, fail(http.StatusBadGateway, "%v", err)
	}

	ctx := context.WithValue(r.Context(), nonceKey{}, pend.nonce)

	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, q.Get("code"), party, rp.WithCodeVerifier(pend.verifier))
	if err != nil {
		return pend, none, s.ssoRefused(none, http.StatusUnauthorized, fmt.Sprintf("the provider's answer was refused: %s", shown(err.Error())))
	}

	p, err := s.ssoLogin(o, tokens.IDTokenClaims)

	return pend, p, err
}

// ssoLogin maps a verified ID token's groups to a role.
func (s *Server) ssoLogin(o *SSO, claims *oidc.IDTokenClaims) (access.Principal, error) {
	name := cmp.Or(claims.PreferredUsername, claims.Email, claims.Subject)
	groups := groupsOf(claims.Claims[o.Cfg.GroupsClaim])
	who := fmt.Sprintf("subject %s at %s, groups [%s]", shown(claims.Subject), o.Cfg.Issuer, shown(strings.Join(groups, ", ")))
	p := access.Principal{Name: shown(name), Kind: KindSSO}

	role, ok := o.role(groups)
	if !ok {
		mapped := make([]string, 0, len(o.Cfg.Roles))
		for g := range o.Cfg.Roles {
			mapped = append(mapped, g)
		}

		sort.Strings(mapped)

		return p, s.ssoRefused(p, http.StatusForbidden, fmt.Sprintf("%s is in no group server.oidc.roles maps to a role (%s claim: [%s]); ask for one of [%s]",
			p.Name, o.Cfg.GroupsClaim, strings.Join(groups, ", "), strings.Join(mapped, ", ")), who)
	}

	p.Role, p.SecondFactor = role, true
	s.record(p, audit.Record{Action: "sso login", Outcome: audit.OK, Detail: fmt.Sprintf("%s: role %s", who, role)})

	return p, nil
}

// ssoRefused audits a refused single sign-on and answers why.
func (s *Server) ssoRefused(p access.Principal, status int, why string, detail ...string) error {
	s.record(p, audit.Record{Action: "sso login", Outcome: audit.Refused, Detail: strings.Join(append([]string{why}, detail...), "; ")})
	return fail(status, "single sign-on refused: %s", why)
}

// groupsOf reads a groups claim: a list of names, or one name.
func groupsOf(v any) []string {
	switch g := v.(type) {
	case string:
		return []string{g}
	case []any:
		out := make([]string, 0, len(g))

		for _, x := range g {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}

		return out
	}

	return nil
}

// shown is a value the provider or a browser sent, fit for a message and
// the audit trail: control characters replaced, at most 200 characters.
func shown(s string) string {
	r := []rune(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}

		return r
	}, s))
	if len(r) > 200 {
		r = append(r[:200], '…')
	}

	return string(r)
}
