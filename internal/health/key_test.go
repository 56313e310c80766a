package health

import (
	"testing"
	"time"
)

// TestEscrowOverdue: no kit and no drill is nothing to prove; a kit without
// a passed drill is overdue at once; a pass is good for 180 days.
func TestEscrowOverdue(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour

	for _, c := range []struct {
		name string
		k    Key
		want bool
	}{
		{"nothing", Key{}, false},
		{"kit, no drill", Key{KitWritten: now.Add(-day)}, true},
		{"passed 179 days ago", Key{KitWritten: now.Add(-300 * day), LastPassed: now.Add(-179 * day)}, false},
		{"passed 181 days ago", Key{KitWritten: now.Add(-300 * day), LastPassed: now.Add(-181 * day)}, true},
	} {
		if got := c.k.EscrowOverdue(now); got != c.want {
			t.Errorf("%s: overdue %v, want %v", c.name, got, c.want)
		}
	}
}
