package report

import (
	"fmt"
	"strings"
	"time"

	"lifeboat/internal/health"
	"lifeboat/internal/plan"
)

// EscrowReport is the repository key's proof: when the recovery kit was
// written and when an escrow drill last opened the repository from it.
type EscrowReport struct {
	KitWritten  time.Time `json:"kit_written,omitzero"`
	LastDrill   time.Time `json:"last_drill,omitzero"`
	LastDrillOK bool      `json:"last_drill_ok"`
	LastPassed  time.Time `json:"last_passed,omitzero"`
	// Method is how the last passed drill opened the password.
	Method string `json:"method,omitempty"`
	// OldPassword names the copies still on the password before the last
	// change.
	OldPassword []string `json:"copies_on_old_password,omitempty"`
	// KitStale says why the recovery kit no longer serves ("" when it does).
	KitStale string `json:"kit_stale,omitempty"`
}

// escrowOf is the report's key section and its findings; nil when no kit
// was written, no drill ran and no copy is on an old password.
func escrowOf(h *health.Health, now time.Time) (*EscrowReport, []string) {
	k := h.Key
	e := &EscrowReport{KitWritten: k.KitWritten, LastPassed: k.LastPassed, KitStale: k.KitStale()}

	if d := k.EscrowDrill; d != nil {
		e.LastDrill, e.LastDrillOK = d.At, d.OK
	}

	if p := k.Passed; p != nil {
		e.Method = p.Method
	}

	for _, c := range h.Copies {
		if c.OldPassword {
			e.OldPassword = append(e.OldPassword, c.Name)
		}
	}

	if e.KitWritten.IsZero() && e.LastDrill.IsZero() && len(e.OldPassword) == 0 && e.KitStale == "" {
		return nil, nil
	}

	var out []string

	if e.KitStale != "" {
		out = append(out, e.KitStale)
	}

	switch {
	case k.EscrowOverdue(now) && k.LastPassed.IsZero():
		out = append(out, "a recovery kit was written and no escrow drill has passed: run `lifeboat key escrow-drill`")
	case k.EscrowOverdue(now):
		out = append(out, fmt.Sprintf("the escrowed password was last proven %s ago (more than %d days): run `lifeboat key escrow-drill`",
			plan.Dur(now.Sub(k.LastPassed).Seconds()), int(health.EscrowDrillMaxAge.Hours()/24)))
	}

	if len(e.OldPassword) > 0 {
		out = append(out, "copies still open with the repository's old password: "+strings.Join(e.OldPassword, ", ")+" (run `lifeboat replicate`)")
	}

	return e, out
}

// markdown is the section of the Markdown report.
func (e *EscrowReport) markdown() string {
	if e == nil {
		return ""
	}

	t := func(v time.Time) string {
		if v.IsZero() {
			return "never"
		}

		return v.Local().Format(time.DateTime)
	}

	last := t(e.LastDrill)
	if !e.LastDrill.IsZero() {
		last += map[bool]string{true: " passed", false: " FAILED"}[e.LastDrillOK]
	}

	stale := ""
	if e.KitStale != "" {
		stale = "- " + e.KitStale + "\n"
	}

	return fmt.Sprintf("\n## Key escrow\n\n- Recovery kit written: %s\n%s- Last escrow drill: %s\n- Last passed: %s %s\n", t(e.KitWritten), stale, last, t(e.LastPassed), e.Method)
}
