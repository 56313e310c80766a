package access

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"lifeboat/internal/audit"
	"lifeboat/internal/records"
)

// Login checks a user's password and, when the user enrolled a second
// factor, the TOTP code (or one of the recovery codes in its place, once).
// A wrong answer is ErrBadCredentials whatever part was wrong; MaxFailures
// of them in a row lock the account for LockFor (a *LockedError, then and
// until the lock ends, whatever is given). Every success, failure and
// lockout is audited, with the part that was wrong.
func (s *Store) Login(ctx context.Context, user, password, totp string) (Principal, error) {
	u, ok, err := s.user(ctx, user)
	if err != nil {
		return Principal{}, err
	}

	if !ok {
		_, _ = verifyPassword(dummyHash(), password)
		s.record("anonymous", "login", audit.Refused, fmt.Sprintf("no user %q", shown(user)))

		return Principal{}, ErrBadCredentials
	}

	actor := Principal{Name: user, Kind: KindUser}.Actor()

	now := s.clock().Now()
	if now.Before(u.LockedUntil) {
		s.record(actor, "login", audit.Refused, "the account is locked until "+u.LockedUntil.UTC().Format(time.RFC3339))
		return Principal{}, &LockedError{Until: u.LockedUntil}
	}

	// The slow hash runs outside the lock; what it decided is applied to
	// the user as they are now (another login may have counted meanwhile).
	checked := u.Password

	good, err := verifyPassword(checked, password)
	if err != nil {
		return Principal{}, fmt.Errorf("user %s: %w", user, err)
	}

	s.write.Lock()
	defer s.write.Unlock()

	if u, ok, err = s.user(ctx, user); err != nil || !ok {
		return Principal{}, cmp.Or(err, ErrBadCredentials)
	}

	if now.Before(u.LockedUntil) {
		return Principal{}, &LockedError{Until: u.LockedUntil}
	}

	how, why := "password", ""
	switch {
	case !good || u.Password != checked:
		why = "wrong password"
	case u.TOTP != "":
		how, why = secondFactor(&u, totp, now)
	}

	if why != "" {
		return Principal{}, s.failed(ctx, user, u, why, now)
	}

	if u.Failures != 0 || !u.LockedUntil.IsZero() || u.TOTP != "" {
		u.Failures, u.LockedUntil = 0, time.Time{}
		if err := s.putUser(ctx, user, u); err != nil {
			return Principal{}, fmt.Errorf("login %s: %w", user, err)
		}
	}

	s.record(actor, "login", audit.OK, how)

	return Principal{Name: user, Kind: KindUser, Role: Role(u.Role), SecondFactor: how != "password"}, nil
}

// failed counts a failed login of u, locks the account at MaxFailures, and
// audits both. The caller holds s.write.
func (s *Store) failed(ctx context.Context, name string, u records.User, why string, now time.Time) error {
	actor := Principal{Name: name, Kind: KindUser}.Actor()

	u.Failures++
	n := u.Failures

	var locked *LockedError
	if n >= MaxFailures {
		u.Failures, u.LockedUntil = 0, now.Add(LockFor)
		locked = &LockedError{Until: u.LockedUntil}
	}

	err := s.putUser(ctx, name, u)

	s.record(actor, "login", audit.Refused, fmt.Sprintf("%s (%d failed in a row)", why, n))

	if err != nil {
		return fmt.Errorf("login %s: count the failure: %w", name, err)
	}

	if locked != nil {
		s.record(actor, "lockout", audit.Refused, fmt.Sprintf("%d failed logins in a row: locked until %s", n, locked.Until.UTC().Format(time.RFC3339)))
		return locked
	}

	return ErrBadCredentials
}

// secondFactor checks code as a TOTP code of u, then as one of u's recovery
// codes, and takes what it used out of use. It returns how the user logged
// in, or why not.
func secondFactor(u *records.User, code string, now time.Time) (how, why string) {
	code = strings.TrimSpace(code)
	if code == "" {
		return "", "no second factor given"
	}

	if step, ok := matchTOTP(u.TOTP, code, now); ok {
		if step <= u.TOTPStep {
			return "", "a TOTP code already used"
		}

		u.TOTPStep = step

		return "password and TOTP", ""
	}

	if i := recoveryIndex(u.Recovery, code); i >= 0 {
		u.Recovery = append(u.Recovery[:i:i], u.Recovery[i+1:]...)
		return fmt.Sprintf("password and a recovery code (%d left)", len(u.Recovery)), ""
	}

	return "", "wrong second factor (not a TOTP code of this time, nor an unused recovery code)"
}

// shown is a name someone typed, fit for the audit trail: control
// characters replaced, at most 64 characters.
func shown(s string) string {
	r := []rune(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}

		return r
	}, s))
	if len(r) > 64 {
		r = append(r[:64], '…')
	}

	return string(r)
}
