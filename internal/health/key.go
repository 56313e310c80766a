package health

import (
	"context"
	"time"

	"lifeboat/internal/copies"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// EscrowDrillMaxAge is how old the last passed escrow drill may be before
// it is a problem: people, keys and machines change within half a year.
const EscrowDrillMaxAge = 180 * 24 * time.Hour

// Key is the repository key's state.
type Key struct {
	// PasswordChanged is the last password change (zero: none recorded).
	PasswordChanged time.Time
	// Rekeyed is when the repository got a new key (zero: never).
	Rekeyed time.Time
	// KitWritten is when a recovery kit was last written (zero: never).
	KitWritten time.Time
	// EscrowDrill is the last escrow drill, nil when none ran; Passed the
	// last one that passed (nil: none) and LastPassed its time.
	EscrowDrill *records.EscrowDrill
	Passed      *records.EscrowDrill
	LastPassed  time.Time
	// Kit is the newest recovery kit's record (nil: none recorded) and
	// Places the locations the configuration names now (KitPlaces):
	// KitStale compares them with Rekeyed.
	Kit    *records.Kit
	Places string
}

// EscrowOverdue says whether, at now, escrow is unproven: a kit was written
// and no drill passed, or the last pass is older than EscrowDrillMaxAge.
func (k Key) EscrowOverdue(now time.Time) bool {
	if k.LastPassed.IsZero() {
		return !k.KitWritten.IsZero()
	}

	return now.Sub(k.LastPassed) > EscrowDrillMaxAge
}

// loadKey reads the key's records and marks the copies last replicated
// before the password changed.
func loadKey(ctx context.Context, r *repo.Repository, cps []*copies.Copy) (Key, error) {
	var k Key

	pc, ok, err := records.Get[records.PasswordChange](ctx, r, records.KindKey, records.KeyPassword)
	if err != nil {
		return k, err
	}

	if ok {
		k.PasswordChanged = pc.At

		for _, c := range cps {
			if !c.Replicated.IsZero() && c.Replicated.Before(pc.At) {
				c.OldPassword = true
			}
		}
	}

	if rk, ok, err := records.Get[records.PasswordChange](ctx, r, records.KindKey, rekeyRecord); err == nil && ok {
		k.Rekeyed = rk.At

		for _, c := range cps {
			c.OldKey = !c.Replicated.IsZero() && c.Replicated.Before(rk.At)
		}
	}

	if kit, ok, err := records.Get[records.PasswordChange](ctx, r, records.KindKey, records.KeyKit); err == nil && ok {
		k.KitWritten = kit.At
	}

	d, ok, err := records.Get[records.EscrowDrill](ctx, r, records.KindKey, records.KeyEscrowDrill)
	if err != nil {
		return k, err
	}

	if ok {
		k.EscrowDrill = &d
	}

	if p, ok, err := records.Get[records.EscrowDrill](ctx, r, records.KindKey, records.KeyEscrowPassed); err == nil && ok {
		k.Passed, k.LastPassed = &p, p.At
	}

	return k, k.loadKit(ctx, r)
}
