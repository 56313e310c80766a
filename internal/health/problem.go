package health

import (
	"fmt"
	"time"
)

// Problem is the one problem a source's health names, as `lifeboat status`
// and the dashboard's alerts both say it: a failed verification before an
// unknown instant, either before a failed restore test, and the RPO only
// when nothing else is wrong ("" when nothing is).
func (s *Source) Problem() string {
	msg := s.Fault()

	switch {
	case msg != "":
	case s.Restorable.IsZero():
		msg = "no backup yet: run `lifeboat backup " + s.Name + "`"
	case s.OverObjective():
		msg = fmt.Sprintf("RPO %s is above the %s tier's objective of %s", Human(s.RPO), s.Tier, Human(s.Objective))
	}

	return msg
}

// Fault is what is wrong with the source besides its RPO and a missing
// backup: why its newest instant could not be told, a failed verification
// or a failed restore test ("" when none).
func (s *Source) Fault() string {
	msg := ""
	if s.RestorableErr != nil {
		msg = s.RestorableErr.Error()
	}

	if v := s.Verify; v != nil && !v.OK {
		msg = "the last verification found problems: run `lifeboat verify " + s.Name + "`"
	}

	if v := s.RestoreTest; v != nil && !v.OK && msg == "" {
		msg = "the last restore test failed: run `lifeboat verify " + s.Name + " --restore-test`"
	}

	return msg
}

// Human prints a duration the way people say it: 4.2s, 13m05s, 5h10m,
// 3d4h.
func Human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}

	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
