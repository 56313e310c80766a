// Package api is the daemon's versioned JSON API under /api/v1: what the
// command line reads and does, for the dashboard and for scripts, with the
// roles of internal/access enforced on every route. It reads through the
// same packages the command line reads through (internal/health, records,
// the repository) and acts only through internal/ops, so an action from
// here is locked, audited, measured and notified exactly as from the
// command line. It never keeps users or tokens itself: an Authority tells
// who a request acts as.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/httpgzip"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Authority tells who a request acts as: a user logging in, or the bearer
// of an API token.
type Authority interface {
	Login(ctx context.Context, user, password, totp string) (access.Principal, error)
	Token(ctx context.Context, bearer string) (access.Principal, error)
	// StepUp checks a logged-in user's second factor again.
	StepUp(ctx context.Context, user, totp string) error
}

// Server is the API over one open repository.
type Server struct {
	Cfg     *config.Config
	Repo    *repo.Repository
	Sources map[string]source.Source
	// Exec runs every action; each request's run is audited as its
	// principal.
	Exec *ops.Executor
	// Audit is the audit trail requests are recorded in and read from.
	Audit *audit.Log
	// Authority checks logins and tokens; nil refuses every credential.
	Authority Authority
	// SSO is single sign-on through an OpenID provider; nil: none.
	SSO *SSO
	// Transport says whether the endpoint is on loopback and over TLS.
	Transport *Transport
	// Password and Getenv open the copies to replicate.
	Password repo.Password
	Getenv   func(string) string
	Log      *slog.Logger
	Clock    clock.Clock
	// Pages, when set, wraps the daemon's own handler (/metrics, /healthz,
	// /readyz) with the web pages served beside the API.
	Pages func(base http.Handler) http.Handler
	// AfterJob runs when a job has ended (the daemon copies the audit
	// trail into the repository there, as after its scheduled jobs).
	AfterJob func(ctx context.Context)

	jobs     jobs
	sessions sessions
	reads    readCache
	once     sync.Once
}

// Route is one entry of the API's route table: the permission it needs
// ("" for a route anyone may call) and whether a call is audited (it reads
// backup data or changes something).
type Route struct {
	Method, Path string
	Permission   access.Permission
	Audited      bool
	handle       func(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error
}

// Routes is the API's route table, which the README's roles table and the
// OpenAPI document follow.
func Routes() []Route {
	return routes
}

// Handler serves the API under /api/v1 and, for the rest, base (the
// daemon's /metrics, /healthz and /readyz), with the security headers on
// every answer. Beyond loopback /metrics needs a token.
func (s *Server) Handler(base http.Handler) http.Handler {
	s.once.Do(func() { s.jobs.byID = map[string]*job{} })

	mux := http.NewServeMux()

	for _, rt := range routes {
		mux.Handle(rt.Method+" "+rt.Path, s.guard(rt))
	}

	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})

	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no route %s %s: the routes are listed in /api/v1/openapi.json", r.Method, r.URL.Path))
	})

	if s.Pages != nil {
		base = s.Pages(base)
	}

	mux.Handle("/metrics", s.metricsGuard(base))
	mux.Handle("/", base)

	return s.headers(httpgzip.Handler(mux))
}

// headers sets the security headers and bounds the request body.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")

		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		}

		if overTLS(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}

		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// metricsGuard lets /metrics through on loopback, and elsewhere only with
// a token (or session) that may read health.
func (s *Server) metricsGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Transport == nil || !s.Transport.Loopback {
			p, status, err := s.principal(r, false)
			if err == nil && !access.Allows(p.Role, access.ReadHealth) {
				status, err = http.StatusForbidden, fmt.Errorf("%s %s (role %s) may not read /metrics", p.Kind, p.Name, p.Role)
			}

			if err != nil {
				writeError(w, status, err)
				return
			}
		}

		next.ServeHTTP(w, r)
	})
}

// errUnauthenticated is a request without a credential.
var errUnauthenticated = errors.New("authentication needed: send Authorization: Bearer TOKEN (lifeboat token create), or log in with POST /api/v1/session")

// principal is who r acts as, from its bearer token or its session cookie
// (whose state-changing requests need the CSRF header when csrf is set).
func (s *Server) principal(r *http.Request, csrf bool) (access.Principal, int, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		bearer, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || bearer == "" {
			return access.Principal{}, http.StatusUnauthorized, errors.New("the Authorization header must be Bearer TOKEN")
		}

		if s.Authority == nil {
			return access.Principal{}, http.StatusUnauthorized, errors.New("this server accepts no tokens yet")
		}

		p, err := s.Authority.Token(r.Context(), bearer)
		if err != nil {
			// The store's message never holds the token.
			return access.Principal{}, http.StatusUnauthorized, fmt.Errorf("token refused: %w", err)
		}

		return p, 0, nil
	}

	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return access.Principal{}, http.StatusUnauthorized, errUnauthenticated
	}

	sess, ok := s.sessions.get(c.Value, clock.Or(s.Clock).Now())
	if !ok {
		return access.Principal{}, http.StatusUnauthorized, errors.New("the session has ended: log in again with POST /api/v1/session")
	}

	if csrf && !safeMethod(r.Method) && !sess.csrfMatches(r.Header.Get(csrfHeader)) {
		return access.Principal{}, http.StatusForbidden, errors.New("missing or wrong " + csrfHeader + " header: send the csrf_token the login returned with every request that changes something")
	}

	return sess.principal, 0, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// guard checks rt's permission for the request's principal, then serves it.
func (s *Server) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p access.Principal

		if rt.Permission != "" {
			var (
				status int
				err    error
			)

			p, status, err = s.principal(r, true)
			if err == nil && !access.Allows(p.Role, rt.Permission) {
				status, err = http.StatusForbidden, refusal(p, rt.Permission)
			}

			if err != nil {
				if status == http.StatusForbidden && rt.Audited {
					s.record(p, audit.Record{Action: "api " + rt.Method + " " + rt.Path, Outcome: audit.Refused, Detail: err.Error()})
				}

				writeError(w, status, err)

				return
			}
		}

		err := rt.handle(s, w, r, p)

		// A change answered here is seen by the next read.
		if !safeMethod(r.Method) {
			s.reads.invalidate()
		}

		if err != nil {
			writeError(w, statusOf(err), err)
		}
	})
}

func refusal(p access.Principal, perm access.Permission) error {
	return fmt.Errorf("%s %s has role %s, which does not grant %s", p.Kind, p.Name, p.Role, perm)
}

// actor is how the audit trail names a principal.
func actor(p access.Principal) string {
	if p.Name == "" {
		return "api (anonymous)"
	}

	return p.Kind + ":" + p.Name + " (api)"
}

// record appends r to the audit trail as p.
func (s *Server) record(p access.Principal, r audit.Record) {
	if s.Audit == nil {
		return
	}

	r.Actor = actor(p)
	if _, err := s.Audit.Append(r); err != nil && s.Log != nil {
		s.Log.Error("audit log not written", "err", err)
	}
}

// principalAuditor records an executor's records as the principal.
type principalAuditor struct {
	log ops.Auditor
	p   access.Principal
}

func (a principalAuditor) Append(r audit.Record) (audit.Record, error) {
	r.Actor = actor(a.p)
	return a.log.Append(r)
}

// executor is the server's executor, auditing as p.
func (s *Server) executor(p access.Principal) *ops.Executor {
	e := *s.Exec
	if s.Audit != nil {
		e.Audit = principalAuditor{log: s.Audit, p: p}
	}

	e.Who = "lifeboat api (" + actor(p) + ")"

	return &e
}

// httpError carries the status an error answers with.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func fail(status int, format string, args ...any) error {
	return &httpError{status: status, err: fmt.Errorf(format, args...)}
}

func statusOf(err error) int {
	var he *httpError

	switch {
	case errors.As(err, &he):
		return he.status
	case errors.As(err, new(*stepUpError)):
		return http.StatusUnauthorized
	case errors.Is(err, repo.ErrSnapshotNotFound):
		return http.StatusNotFound
	case errors.Is(err, repo.ErrBusy):
		return http.StatusConflict
	case errors.As(err, new(*ops.RequestError)):
		return http.StatusBadRequest
	}

	return http.StatusInternalServerError
}

// writeJSON answers v. It is encoded before the status is sent, so an
// error encoding it can still be answered; a client gone before the answer
// is written is nobody's to tell.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))

	return nil
}

func writeError(w http.ResponseWriter, status int, err error) {
	if errors.As(err, new(*stepUpError)) {
		_ = writeJSON(w, http.StatusUnauthorized, map[string]any{"error": err.Error(), "step_up": true})
		return
	}

	_ = writeJSON(w, status, map[string]string{"error": err.Error()})
}

// decode reads a JSON request body into v; an empty body leaves v as is.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()

	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fail(http.StatusBadRequest, "request body: %v", err)
	}

	return nil
}

// HTTPServer is the endpoint's server: the API around base, with the
// transport's timeouts and limits.
func (s *Server) HTTPServer(base http.Handler) *http.Server {
	return s.Transport.Server(s.Handler(base))
}

// Serve serves srv on l over the transport (TLS, and plain HTTP on
// loopback).
func (s *Server) Serve(srv *http.Server, l net.Listener) error {
	return s.Transport.Serve(srv, l)
}
