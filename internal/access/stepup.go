package access

import (
	"context"
	"fmt"
	"strings"
	"time"

	"lifeboat/internal/audit"
)

// StepUp checks user's second factor again, for an action that asks for a
// recent one (a restore over production, a prune). The code follows the
// login's rule: a TOTP code of this time not used before (or an unused
// recovery code, then spent); a wrong one counts towards the lockout. A
// user without a second factor cannot step up: enrol one first.
func (s *Store) StepUp(ctx context.Context, user, totp string) error {
	actor := Principal{Name: user, Kind: KindUser}.Actor()

	s.write.Lock()
	defer s.write.Unlock()

	u, ok, err := s.user(ctx, user)
	if err != nil {
		return err
	}

	if !ok {
		s.record(actor, "step-up", audit.Refused, "no such user")
		return ErrBadCredentials
	}

	now := s.clock().Now()
	if now.Before(u.LockedUntil) {
		s.record(actor, "step-up", audit.Refused, "the account is locked until "+u.LockedUntil.UTC().Format(time.RFC3339))
		return &LockedError{Until: u.LockedUntil}
	}

	if u.TOTP == "" {
		s.record(actor, "step-up", audit.Refused, "no second factor enrolled")
		return invalid("user %s has no second factor to step up with: enrol one with `lifeboat user mfa %s`", user, user)
	}

	how, why := secondFactor(&u, totp, now)
	if why != "" {
		// failed records the refusal as a login; the step-up record says
		// which kind of check it was.
		s.record(actor, "step-up", audit.Refused, why)
		return s.failed(ctx, user, u, why, now)
	}

	u.Failures, u.LockedUntil = 0, time.Time{}
	if err := s.putUser(ctx, user, u); err != nil {
		return fmt.Errorf("step-up %s: %w", user, err)
	}

	s.record(actor, "step-up", audit.OK, strings.TrimPrefix(how, "password and "))

	return nil
}
