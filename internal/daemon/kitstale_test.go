package daemon

import (
	"context"
	"testing"
	"time"

	"lifeboat/internal/records"
)

// TestRecoveryKitStaleMetric: lifeboat_recovery_kit_stale is 0 while the
// newest kit is as new as the password, 1 once the password changed after
// it, and 0 again when a new kit is made.
func TestRecoveryKitStaleMetric(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	h := newHarness(t, t0, nil, time.Hour)

	put := func(kind, key string, v any) {
		t.Helper()

		if err := records.Put(ctx, h.r, kind, key, v); err != nil {
			t.Fatal(err)
		}
	}

	refresh := func(want string) {
		t.Helper()

		h.fake.Advance(time.Minute)
		h.d.refresh(ctx)

		if got := h.metric(t, "lifeboat_recovery_kit_stale "); got != "lifeboat_recovery_kit_stale "+want {
			t.Fatalf("metric: %q, want %s", got, want)
		}
	}

	put(records.KindKit, records.KeyKitLast, records.Kit{At: t0, ID: "k1"})
	refresh("0")

	put(records.KindKey, records.KeyPassword, records.PasswordChange{At: t0.Add(time.Hour)})
	refresh("1")

	put(records.KindKit, records.KeyKitLast, records.Kit{At: t0.Add(2 * time.Hour), ID: "k2"})
	refresh("0")
}
