package access

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/audit"
)

// TestStepUp: a step-up takes a TOTP code not used before (the login's
// included) or an unused recovery code, refuses the rest, counts wrong
// codes towards the lockout, and refuses a user without a second factor
// with what to do.
func TestStepUp(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	g.addAlice(Admin)

	if err := g.store.StepUp(ctx, "alice", "123456"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "lifeboat user mfa alice") {
		t.Fatalf("a step-up without a second factor: %v", err)
	}

	secret, recovery := g.enrol()

	g.clock.Advance(30 * time.Second)

	login := g.code(secret, 0)

	p, err := g.store.Login(ctx, "alice", alicePW, login)
	if err != nil || !p.SecondFactor {
		t.Fatalf("login with TOTP: %+v %v", p, err)
	}

	if err := g.store.StepUp(ctx, "alice", login); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a step-up with the login's code: %v, want refused", err)
	}

	g.clock.Advance(30 * time.Second)

	if err := g.store.StepUp(ctx, "alice", g.code(secret, 0)); err != nil {
		t.Fatalf("a step-up with a fresh code: %v", err)
	}

	if err := g.store.StepUp(ctx, "alice", recovery[0]); err != nil {
		t.Fatalf("a step-up with a recovery code: %v", err)
	}

	if err := g.store.StepUp(ctx, "alice", recovery[0]); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a spent recovery code: %v, want refused", err)
	}

	for i := 2; i < MaxFailures; i++ {
		if err := g.store.StepUp(ctx, "alice", "000000"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}

	if err := g.store.StepUp(ctx, "alice", "000000"); !errors.Is(err, ErrLocked) {
		t.Fatalf("the wrong code that reaches the limit: %v, want a lockout", err)
	}

	recs := g.trail()
	if count(recs, "step-up", audit.OK, "TOTP") != 1 || count(recs, "step-up", audit.OK, "recovery code") != 1 ||
		count(recs, "step-up", audit.Refused, "already used") != 1 || count(recs, "lockout", audit.Refused, "locked until") != 1 {
		t.Errorf("the audit trail lacks the step-ups:\n%s", dump(recs))
	}

	// The TOTP seed is kept (encrypted) with the user; the password and
	// the recovery code are not, and none is in the trail.
	g.noSecret(alicePW, recovery[0])
}
