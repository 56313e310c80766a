// Package retention decides which snapshots a source keeps: the union of its
// rules (latest N; the newest snapshot of each of the N newest hours, days,
// ISO weeks, months and years that have one; everything within a duration),
// as kopia and restic define them, plus two rules no configuration can
// override: a pinned snapshot is kept, and so is the newest snapshot that
// passed verification (or the newest of all when none has been verified).
// Every decision carries its reasons, so prune can say why each snapshot
// stays or goes. It is pure: it reads nothing and deletes nothing.
package retention

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"lifeboat/internal/config"
)

// Item is one snapshot as retention sees it.
type Item struct {
	ID   string
	Time time.Time
	// Pin is the reason it is pinned ("" when it is not).
	Pin string
	// Verified is true when the snapshot passed verification.
	Verified bool
}

// Decision says whether an item is kept and why.
type Decision struct {
	Item
	Keep    bool
	Reasons []string
}

type period struct {
	name  string
	n     int
	key   func(time.Time) string
	label string
}

// Apply decides for every item; the result is newest first. loc is the time
// zone days and weeks are counted in.
func Apply(items []Item, r config.Retention, now time.Time, loc *time.Location) []Decision {
	if loc == nil {
		loc = time.Local
	}

	ds := make([]Decision, len(items))
	for i, it := range items {
		ds[i] = Decision{Item: it}
	}

	// Newest first; equal times by ID, so the outcome never depends on the
	// order the snapshots were listed in.
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].Time.Equal(ds[j].Time) {
			return ds[i].Time.After(ds[j].Time)
		}

		return ds[i].ID > ds[j].ID
	})

	if r.IsZero() {
		for i := range ds {
			keep(&ds[i], "no retention rules: everything is kept")
		}

		return ds
	}

	for i := range ds {
		if i < r.Latest {
			keep(&ds[i], fmt.Sprintf("latest %d of %d", i+1, r.Latest))
		}

		if r.Within > 0 && now.Sub(ds[i].Time) <= r.Within {
			keep(&ds[i], "within "+human(r.Within))
		}

		if ds[i].Pin != "" {
			keep(&ds[i], "pinned: "+ds[i].Pin)
		}
	}

	passed := keepPeriods(ds, r, loc)
	keepGuard(ds)

	for i := range ds {
		if ds[i].Keep {
			continue
		}

		why := passed[i]
		if r.Latest > 0 {
			why = append(why, fmt.Sprintf("not among the latest %d", r.Latest))
		}

		if r.Within > 0 {
			why = append(why, "older than "+human(r.Within))
		}

		ds[i].Reasons = []string{"no rule keeps it: " + strings.Join(why, "; ")}
	}

	return ds
}

func human(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}

	return d.String()
}

func keep(d *Decision, why string) {
	d.Keep = true
	d.Reasons = append(d.Reasons, why)
}

// keepPeriods keeps the newest item of each of the newest hours, days,
// weeks, months and years the rules ask for, counted in loc; it returns why
// a rule passed each item over.
func keepPeriods(ds []Decision, r config.Retention, loc *time.Location) [][]string {
	periods := []period{
		{"hourly", r.Hourly, func(t time.Time) string { return t.Format("2006-01-02 15h") }, "hour"},
		{"daily", r.Daily, func(t time.Time) string { return t.Format("2006-01-02") }, "day"},
		{"weekly", r.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }, "week"},
		{"monthly", r.Monthly, func(t time.Time) string { return t.Format("2006-01") }, "month"},
		{"yearly", r.Yearly, func(t time.Time) string { return t.Format("2006") }, "year"},
	}

	// Why a period rule passed an item over, for items nothing keeps.
	passed := make([][]string, len(ds))

	for _, p := range periods {
		if p.n == 0 {
			continue
		}

		seen := map[string]bool{}

		for i := range ds {
			k := p.key(ds[i].Time.In(loc))

			switch {
			case seen[k]:
				passed[i] = append(passed[i], fmt.Sprintf("a newer snapshot is kept for its %s %s", p.label, k))
			case len(seen) < p.n:
				seen[k] = true
				keep(&ds[i], fmt.Sprintf("%s %d of %d (%s)", p.name, len(seen), p.n, k))
			default:
				passed[i] = append(passed[i], fmt.Sprintf("its %s %s is older than the %d newest kept by %s", p.label, k, p.n, p.name))
			}
		}
	}

	return passed
}

// keepGuard keeps the newest verified-good item whatever the rules say (the
// newest item while none is verified).
func keepGuard(ds []Decision) {
	for i := range ds {
		if ds[i].Verified {
			keep(&ds[i], "the newest snapshot that passed verification")
			return
		}
	}

	if len(ds) > 0 {
		keep(&ds[0], "the newest snapshot (none has been verified yet)")
	}
}
