package report

import (
	"math"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/config"
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

func TestRetentionReach(t *testing.T) {
	day := 24 * time.Hour

	for _, c := range []struct {
		rules config.Retention
		want  time.Duration
	}{
		{config.Retention{Latest: 5}, 0},
		{config.Retention{Daily: 7}, 6 * day},
		{config.Retention{Daily: 7, Weekly: 4}, 21 * day},
		{config.Retention{Daily: 7, Monthly: 12, Within: 30 * day}, 11 * 28 * day},
		{config.Retention{Hourly: 24, Within: 2 * day}, 2 * day},
		{config.Retention{Yearly: 1}, 0},
	} {
		if got := PromisedReach(c.rules); got != c.want {
			t.Errorf("%s: promised %s, want %s", retentionText(c.rules), got, c.want)
		}
	}

	within30 := config.Retention{Within: 30 * day}

	for _, c := range []struct {
		name   string
		reach  time.Duration
		pruned bool
		want   string
	}{
		{"history built up", 30 * day, true, ""},
		{"within the schedule's gap", 29*day + time.Hour, true, ""},
		{"older backups deleted", 12 * day, true, "uploads: retention (within 30.0d) promises restores 30.0d back, but the oldest backup kept is 12.0d old and older ones are gone"},
		{"backups began recently", 12 * day, false, "uploads: retention (within 30.0d) promises restores 30.0d back; backups began 12.0d ago"},
	} {
		sr := SourceReport{Source: "uploads", Retention: retentionText(within30), PromisedSeconds: PromisedReach(within30).Seconds(),
			ReachSeconds: c.reach.Seconds(), Pruned: c.pruned}

		got := sr.reachFinding()
		if (c.want == "") != (got == "") || !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: finding %q, want %q", c.name, got, c.want)
		}
	}
}
