package cli

import (
	"fmt"
	"strings"
	"time"

	"lifeboat/internal/health"
)

// keyStatus prints, under the copies, what concerns the key: the copies
// still on the old password and the escrow drill's age. Nothing when there
// is nothing to say, so a status without kit or password change is as it
// was. With --json it goes to stderr.
func (a *App) keyStatus(h *health.Health, now time.Time, asJSON bool) {
	w := a.Stdout
	if asJSON {
		w = a.Stderr
	}

	var old, oldKey []string

	for _, c := range h.Copies {
		if c.OldPassword {
			old = append(old, c.Name)
		}

		if c.OldKey {
			oldKey = append(oldKey, c.Name)
		}
	}

	k := h.Key

	if len(oldKey) > 0 {
		fmt.Fprintf(w, "\nkey: the repository was rekeyed %s; still on the old key: %s (run `lifeboat replicate`: it re-seeds them from the new repository)\n",
			k.Rekeyed.Local().Format(time.DateTime), strings.Join(oldKey, ", "))
	}

	if len(old) > 0 {
		fmt.Fprintf(w, "\nkey: the password changed %s; still on the old password: %s (run `lifeboat replicate`)\n",
			k.PasswordChanged.Local().Format(time.DateTime), strings.Join(old, ", "))
	}

	if stale := k.KitStale(); stale != "" {
		fmt.Fprintf(w, "\nrecovery kit: PROBLEM: %s\n", stale)
	}

	switch {
	case k.EscrowOverdue(now) && k.LastPassed.IsZero():
		fmt.Fprintf(w, "\nescrow drill: PROBLEM: a recovery kit was written %s and no escrow drill has passed: run `lifeboat key escrow-drill`\n",
			k.KitWritten.Local().Format(time.DateTime))
	case k.EscrowOverdue(now):
		fmt.Fprintf(w, "\nescrow drill: PROBLEM: the last passed %s, more than %d days ago: run `lifeboat key escrow-drill`\n",
			k.LastPassed.Local().Format(time.DateTime), int(health.EscrowDrillMaxAge.Hours()/24))
	case !k.LastPassed.IsZero():
		fmt.Fprintf(w, "\nescrow drill: passed %s (%s ago, %s)\n", k.LastPassed.Local().Format(time.DateTime), human(now.Sub(k.LastPassed)), k.Passed.Method)
	}
}
