package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/skip2/go-qrcode"

	"lifeboat/internal/access"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
)

// Accounts is what a logged-in user may change of their own account, when
// the Authority keeps users (the access store does).
type Accounts interface {
	User(ctx context.Context, name string) (access.UserInfo, error)
	SetPassword(ctx context.Context, by, user, password string) error
	BeginMFA(ctx context.Context, user string) (*access.Enrolment, error)
	ConfirmMFA(ctx context.Context, by string, e *access.Enrolment, code string) error
	CreateOwnToken(ctx context.Context, by, owner, name string, expires time.Duration) (string, error)
	Tokens(ctx context.Context) ([]access.TokenInfo, error)
	RevokeToken(ctx context.Context, by, name string) error
}

// ownToken is the prefix of a user's own tokens' names: USER@NAME, so two
// users' tokens never share a name. Whose a token is, is its owner (kept
// with it), never its name: an admin's token named alice@ci is not Alice's.
func ownToken(user string) string { return user + "@" }

// account is the request's user and the store, or why the request may not
// change an account: only a user logged in with a session may.
func (s *Server) account(r *http.Request, p access.Principal) (Accounts, *session, error) {
	acc, ok := s.Authority.(Accounts)
	if !ok {
		return nil, nil, fail(http.StatusNotImplemented, "this server keeps no users")
	}

	c, err := r.Cookie(sessionCookie)
	if p.Kind != "user" || err != nil || r.Header.Get("Authorization") != "" {
		// Not a refusal of the role: the request has no account to change.
		return nil, nil, fail(http.StatusBadRequest, "%s %s has no account to change: log in as a user (POST /api/v1/session) to change your own", p.Kind, p.Name)
	}

	sess, ok := s.sessions.get(c.Value, clock.Or(s.Clock).Now())
	if !ok {
		return nil, nil, fail(http.StatusUnauthorized, "the session has ended: log in again")
	}

	return acc, sess, nil
}

// AccountInfo is GET /api/v1/account: the user and their own tokens.
type AccountInfo struct {
	User   access.UserInfo    `json:"user"`
	Tokens []access.TokenInfo `json:"tokens"`
}

func getAccount(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	acc, _, err := s.account(r, p)
	if err != nil {
		return err
	}

	u, err := acc.User(r.Context(), p.Name)
	if err != nil {
		return err
	}

	all, err := acc.Tokens(r.Context())
	if err != nil {
		return err
	}

	out := AccountInfo{User: u, Tokens: []access.TokenInfo{}}

	for _, t := range all {
		if t.Owner == p.Name {
			out.Tokens = append(out.Tokens, t)
		}
	}

	return writeJSON(w, http.StatusOK, out)
}

type passwordRequest struct {
	Current string `json:"current"`
	New     string `json:"new"`
	TOTP    string `json:"totp"`
}

// changePassword sets the user's password once the current one (and a
// code, with a second factor) is checked as a login is.
func changePassword(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	acc, _, err := s.account(r, p)
	if err != nil {
		return err
	}

	var req passwordRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	if req.Current == "" || req.New == "" {
		return fail(http.StatusBadRequest, "give the current password and the new one")
	}

	if _, err := s.Authority.Login(r.Context(), p.Name, req.Current, req.TOTP); err != nil {
		return fail(http.StatusForbidden, "the password was not changed: %v", err)
	}

	if err := acc.SetPassword(r.Context(), actor(p), p.Name, req.New); err != nil {
		return fail(http.StatusBadRequest, "the password was not changed: %v", err)
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}

// Enrolment is POST /api/v1/account/mfa: the new seed as an otpauth URI
// and a QR code, and the recovery codes, shown this once; nothing changes
// until POST /api/v1/account/mfa/confirm with a code of the app.
type Enrolment struct {
	URI      string   `json:"uri"`
	QR       string   `json:"qr_png"`
	Recovery []string `json:"recovery_codes"`
}

func beginMFA(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	acc, sess, err := s.account(r, p)
	if err != nil {
		return err
	}

	e, err := acc.BeginMFA(r.Context(), p.Name)
	if err != nil {
		return err
	}

	png, err := qrcode.Encode(e.URI, qrcode.Medium, 256)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}

	s.sessions.mu.Lock()
	sess.enrolment = e
	s.sessions.mu.Unlock()

	return writeJSON(w, http.StatusOK, Enrolment{URI: e.URI, QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), Recovery: e.Recovery})
}

type codeRequest struct {
	Code string `json:"code"`
}

func confirmMFA(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	acc, sess, err := s.account(r, p)
	if err != nil {
		return err
	}

	var req codeRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	s.sessions.mu.Lock()
	e := sess.enrolment
	s.sessions.mu.Unlock()

	if e == nil {
		return fail(http.StatusBadRequest, "no enrolment under way: start one with POST /api/v1/account/mfa")
	}

	if err := acc.ConfirmMFA(r.Context(), actor(p), e, req.Code); err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}

	s.sessions.mu.Lock()
	sess.enrolment = nil
	s.sessions.mu.Unlock()

	w.WriteHeader(http.StatusNoContent)

	return nil
}

type tokenRequest struct {
	Name string `json:"name"`
	// Expires is a duration (90d by default); "never" for none.
	Expires string `json:"expires"`
}

// NewToken is a created token: its secret is shown this once.
type NewToken struct {
	Name   string      `json:"name"`
	Role   access.Role `json:"role"`
	Secret string      `json:"secret"`
}

// createToken makes one of the user's own tokens, named USER@NAME, with
// the user's role.
func createToken(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	acc, _, err := s.account(r, p)
	if err != nil {
		return err
	}

	req := tokenRequest{Expires: "90d"}
	if err := decode(r, &req); err != nil {
		return err
	}

	var life time.Duration
	if req.Expires != "never" {
		if life, err = config.ParseDuration(req.Expires); err != nil || life <= 0 {
			return fail(http.StatusBadRequest, "expires %q: give a duration such as 90d, or never", req.Expires)
		}
	}

	name := ownToken(p.Name) + req.Name

	secret, err := acc.CreateOwnToken(r.Context(), actor(p), p.Name, name, life)
	if errors.Is(err, access.ErrExists) {
		return fail(http.StatusConflict, "%v", err)
	}

	if err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}

	return writeJSON(w, http.StatusCreated, NewToken{Name: name, Role: p.Role, Secret: secret})
}

func revokeToken(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	acc, _, err := s.account(r, p)
	if err != nil {
		return err
	}

	name := r.PathValue("name")

	all, err := acc.Tokens(r.Context())
	if err != nil {
		return err
	}

	idx := slices.IndexFunc(all, func(t access.TokenInfo) bool { return t.Name == name })
	if idx >= 0 && all[idx].Owner != p.Name {
		return fail(http.StatusForbidden, "token %s is not one of %s's own: an admin revokes it with `lifeboat token revoke`", name, p.Name)
	}

	if err := acc.RevokeToken(r.Context(), actor(p), name); err != nil {
		return fail(http.StatusNotFound, "%v", err)
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}
