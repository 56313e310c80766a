package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
)

const (
	sessionCookie = "lifeboat_session"
	csrfHeader    = "X-CSRF-Token"
	// sessionLife is how long a login lasts without being renewed.
	sessionLife = 12 * time.Hour
)

type session struct {
	principal access.Principal
	csrf      string
	expires   time.Time
	// stepped is when the session last proved a second factor (a TOTP
	// code, or a single sign-on login); guarded by sessions.mu.
	stepped time.Time
	// enrolment is a second factor being enrolled, until confirmed.
	enrolment *access.Enrolment
}

func (s *session) csrfMatches(v string) bool {
	return v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(s.csrf)) == 1
}

// sessions are the logged-in browsers, in memory: a restarted daemon asks
// everyone to log in again.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
}

func (ss *sessions) get(id string, now time.Time) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	s, ok := ss.byID[id]
	if ok && now.After(s.expires) {
		delete(ss.byID, id)
		return nil, false
	}

	return s, ok
}

func (ss *sessions) add(s *session) (string, error) {
	id, err := randomHex(32)
	if err != nil {
		return "", err
	}

	ss.mu.Lock()
	defer ss.mu.Unlock()

	if ss.byID == nil {
		ss.byID = map[string]*session{}
	}

	ss.byID[id] = s

	return id, nil
}

func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	delete(ss.byID, id)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random session id: %w", err)
	}

	return hex.EncodeToString(b), nil
}

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

type loginResponse struct {
	User      string      `json:"user"`
	Role      access.Role `json:"role"`
	CSRFToken string      `json:"csrf_token"`
	Expires   time.Time   `json:"expires"`
}

// login checks a user's password and second factor and starts a session:
// an HttpOnly, Secure, SameSite=Strict cookie, and a CSRF token the
// browser sends back as a header.
func login(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	var req loginRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	if req.User == "" || req.Password == "" {
		return fail(http.StatusBadRequest, "give user and password (and totp once the user enrolled a second factor)")
	}

	if s.Authority == nil {
		return fail(http.StatusUnauthorized, "this server has no users yet: add one with `lifeboat user add NAME --role ROLE`")
	}

	// The store says why (wrong credentials, a locked account and until
	// when); its messages never hold the password or the code.
	// The store records the login, refused or not, with how it was made.
	p, err := s.Authority.Login(r.Context(), req.User, req.Password, req.TOTP)
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, access.ErrLocked) {
			status = http.StatusTooManyRequests
		}

		return fail(status, "login refused: %v", err)
	}

	return s.startSession(w, p)
}

// startSession starts p's session: an HttpOnly, Secure, SameSite=Strict
// cookie, and the CSRF token in the answer.
func (s *Server) startSession(w http.ResponseWriter, p access.Principal) error {
	csrf, expires, err := s.openSession(w, p)
	if err != nil {
		return err
	}

	return writeJSON(w, http.StatusOK, loginResponse{User: p.Name, Role: p.Role, CSRFToken: csrf, Expires: expires})
}

// openSession keeps p's new session and sets its cookie.
func (s *Server) openSession(w http.ResponseWriter, p access.Principal) (string, time.Time, error) {
	csrf, err := randomHex(32)
	if err != nil {
		return "", time.Time{}, err
	}

	now := clock.Or(s.Clock).Now()
	sess := &session{principal: p, csrf: csrf, expires: now.Add(sessionLife)}

	if p.SecondFactor {
		sess.stepped = now
	}

	id, err := s.sessions.add(sess)
	if err != nil {
		return "", time.Time{}, err
	}

	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
		Expires: sess.expires,
	})

	return csrf, sess.expires, nil
}

// logout ends the request's session, if it has one.
func logout(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, ok := s.sessions.get(c.Value, clock.Or(s.Clock).Now()); ok {
			if !sess.csrfMatches(r.Header.Get(csrfHeader)) {
				return fail(http.StatusForbidden, "missing or wrong %s header", csrfHeader)
			}

			s.sessions.remove(c.Value)
			s.record(sess.principal, audit.Record{Action: "api logout", Outcome: audit.OK})
		}
	}

	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)

	return nil
}
