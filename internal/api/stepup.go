package api

import (
	"errors"
	"net/http"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
)

// StepUpAfter is how old a session's last second factor may be for the
// actions that ask for it again: a restore over production data and a
// prune that deletes. API tokens are exempt: they carry no second factor,
// and are limited by their role and expiry instead.
const StepUpAfter = 5 * time.Minute

// stepUpError is a 401 whose answer carries "step_up": true, so a client
// knows to ask for a code and call POST /api/v1/session/step-up.
type stepUpError struct{ msg string }

func (e *stepUpError) Error() string { return e.msg }

// steppedAt is when session id last proved a second factor.
func (ss *sessions) steppedAt(id string) time.Time {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	if s, ok := ss.byID[id]; ok {
		return s.stepped
	}

	return time.Time{}
}

func (ss *sessions) markStepped(id string, t time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()

	if s, ok := ss.byID[id]; ok {
		s.stepped = t
	}
}

// needStepUp refuses r, acting as p, when its session's second factor is
// older than StepUpAfter. what names the action for the refusal.
func (s *Server) needStepUp(r *http.Request, p access.Principal, what string) error {
	if r.Header.Get("Authorization") != "" {
		return nil
	}

	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}

	now := clock.Or(s.Clock).Now()
	if at := s.sessions.steppedAt(c.Value); !at.IsZero() && now.Sub(at) <= StepUpAfter {
		return nil
	}

	how := "POST /api/v1/session/step-up with {\"totp\": CODE}"
	if p.Kind == KindSSO {
		how = "log in again through GET " + oidcPath
	}

	err = &stepUpError{msg: what + " needs a second factor from the last 5 minutes: " + how}
	s.record(p, audit.Record{Action: "step-up needed", Outcome: audit.Refused, Detail: err.Error()})

	return err
}

type stepUpRequest struct {
	TOTP string `json:"totp"`
}

// stepUp checks the session user's second factor again and marks the
// session as freshly stepped up.
func stepUp(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	if r.Header.Get("Authorization") != "" {
		return fail(http.StatusBadRequest, "API tokens need no step-up: step-up is for a browser session")
	}

	p, status, err := s.principal(r, true)
	if err != nil {
		return fail(status, "%v", err)
	}

	if p.Kind == KindSSO {
		return fail(http.StatusBadRequest, "a single sign-on session steps up by logging in again through GET %s", oidcPath)
	}

	var req stepUpRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	if req.TOTP == "" {
		return fail(http.StatusBadRequest, "give totp: the current code of your authenticator app (or a recovery code)")
	}

	if err := s.Authority.StepUp(r.Context(), p.Name, req.TOTP); err != nil {
		switch {
		case errors.Is(err, access.ErrLocked):
			status = http.StatusTooManyRequests
		case errors.Is(err, access.ErrInvalid):
			status = http.StatusBadRequest
		default:
			status = http.StatusUnauthorized
		}

		return fail(status, "step-up refused: %v", err)
	}

	c, _ := r.Cookie(sessionCookie)
	now := clock.Or(s.Clock).Now()
	s.sessions.markStepped(c.Value, now)

	return writeJSON(w, http.StatusOK, map[string]any{"user": p.Name, "stepped_up_until": now.Add(StepUpAfter)})
}
