package report

import (
	"math"
	"testing"
	"time"
)

func TestRPOIsTimeWeighted(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	for _, c := range []struct {
		name       string
		points     []time.Time
		since, now time.Time
		worst, p95 float64
	}{
		// Spans rising 0→10, 0→30, 0→20 over 60 s: 5% is 3 s, spent above 27 s.
		{"points from the start", []time.Time{at(0), at(10), at(40)}, at(0), at(60), 30, 27},
		// Before the first point ever there is nothing to lose.
		{"source younger than the period", []time.Time{at(10), at(40)}, at(0), at(60), 30, 27.5},
		// A point before the period counts for the start of the period.
		{"point before the period", []time.Time{at(-50), at(40)}, at(0), at(60), 90, 87},
		{"nothing yet", nil, at(0), at(60), 0, 0},
	} {
		worst, p95 := RPO(c.points, c.since, c.now)
		if math.Abs(worst-c.worst) > 1e-6 || math.Abs(p95-c.p95) > 1e-3 {
			t.Errorf("%s: worst %.3f p95 %.3f, want %.3f and %.3f", c.name, worst, p95, c.worst, c.p95)
		}
	}
}
