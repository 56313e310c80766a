package retention

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/schedule"
)

// simClock jumps straight to whatever the scheduler waits for.
type simClock struct{ now time.Time }

func (c *simClock) Now() time.Time { return c.now }

func (c *simClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now

	return ch
}

// TestSimulatedYear runs the real scheduler on a simulated clock for a year
// and a day: hourly backups, a daily full at 02:00 and a prune at 03:30 every
// day. What survives is exactly what the rules promise over the whole
// history (checked by an independent count per rule), and the pinned
// snapshot survives whatever the rules say.
func TestSimulatedYear(t *testing.T) {
	rules := config.Retention{Hourly: 48, Daily: 30, Weekly: 8, Monthly: 12, Yearly: 3}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(1, 0, 1)
	clock := &simClock{now: start}

	var (
		all  []Item
		live = map[string]Item{}
		seq  int
		last []Decision
	)

	pinned := ""

	take := func(kind string) func(context.Context) error {
		return func(context.Context) error {
			seq++
			it := Item{ID: fmt.Sprintf("%s-%05d", kind, seq), Time: clock.Now()}

			// A legal hold on one March snapshot.
			if pinned == "" && it.Time.Month() == time.March && it.Time.Day() == 10 && it.Time.Hour() == 13 {
				it.Pin, pinned = "legal hold", it.ID
			}

			all = append(all, it)
			live[it.ID] = it

			return nil
		}
	}

	ctx, cancel := context.WithCancel(context.Background())

	prune := func(context.Context) error {
		items := make([]Item, 0, len(live))
		for _, it := range live {
			items = append(items, it)
		}

		last = Apply(items, rules, clock.Now(), time.UTC)
		for _, d := range last {
			if !d.Keep {
				delete(live, d.ID)
			}
		}

		if !clock.Now().Before(end) {
			cancel()
		}

		return nil
	}

	var jobs []*schedule.Job

	for _, j := range []struct {
		name, spec string
		run        func(context.Context) error
	}{
		{"backup hourly", "0 * * * *", take("hourly")},
		{"backup daily", "0 2 * * *", take("daily")},
		{"prune", "30 3 * * *", prune},
	} {
		job, err := schedule.NewJob(j.name, j.name, j.spec, j.run)
		if err != nil {
			t.Fatal(err)
		}

		jobs = append(jobs, job)
	}

	s := &schedule.Scheduler{Jobs: jobs, Clock: clock, Inline: true}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}

	if n := len(all); n < 365*25 {
		t.Fatalf("only %d backups in a simulated year", n)
	}

	// Count per rule among the survivors.
	count := map[string]int{}

	for _, d := range last {
		if !d.Keep {
			continue
		}

		for _, r := range d.Reasons {
			count[strings.Fields(r)[0]]++
		}
	}

	for rule, want := range map[string]int{"hourly": 48, "daily": 30, "weekly": 8, "monthly": 12, "yearly": 2, "pinned:": 1} {
		if count[rule] != want {
			t.Errorf("%s keeps %d snapshots, want %d (%v)", rule, count[rule], want, count)
		}
	}

	if _, ok := live[pinned]; !ok || pinned == "" {
		t.Errorf("the pinned snapshot %q was removed", pinned)
	}

	// Independently: the newest snapshot of each of the N newest buckets of
	// the whole history, per rule, plus the pin and the newest of all.
	want := map[string]bool{pinned: true}
	bucket := func(n int, key func(time.Time) string) {
		newest := map[string]Item{}
		for _, it := range all {
			k := key(it.Time)
			if cur, ok := newest[k]; !ok || it.Time.After(cur.Time) || it.Time.Equal(cur.Time) && it.ID > cur.ID {
				newest[k] = it
			}
		}

		keys := make([]string, 0, len(newest))
		for k := range newest {
			keys = append(keys, k)
		}

		sort.Sort(sort.Reverse(sort.StringSlice(keys)))

		for _, k := range keys[:min(n, len(keys))] {
			want[newest[k].ID] = true
		}
	}

	bucket(48, func(t time.Time) string { return t.Format("2006-01-02 15") })
	bucket(30, func(t time.Time) string { return t.Format("2006-01-02") })
	bucket(8, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) })
	bucket(12, func(t time.Time) string { return t.Format("2006-01") })
	bucket(3, func(t time.Time) string { return t.Format("2006") })

	var missing, extra []string

	for id := range want {
		if _, ok := live[id]; !ok {
			missing = append(missing, id)
		}
	}

	for id := range live {
		if !want[id] {
			extra = append(extra, id)
		}
	}

	if len(missing)+len(extra) > 0 {
		t.Errorf("after a year: %d snapshots kept, the rules promise %d; missing %v, extra %v", len(live), len(want), missing, extra)
	}
}

func TestReasons(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	items := []Item{
		{ID: "a", Time: now.Add(-1 * time.Hour)},
		{ID: "b", Time: now.Add(-2 * time.Hour)},
		{ID: "c", Time: now.Add(-50 * time.Hour), Verified: true},
		{ID: "d", Time: now.Add(-100 * 24 * time.Hour)},
		{ID: "e", Time: now.Add(-200 * 24 * time.Hour), Pin: "legal hold"},
	}

	got := map[string]Decision{}
	for _, d := range Apply(items, config.Retention{Latest: 1, Daily: 1, Within: 48 * time.Hour}, now, time.UTC) {
		got[d.ID] = d
	}

	for id, want := range map[string]string{
		"a": "latest 1 of 1",
		"b": "within 2d",
		"c": "the newest snapshot that passed verification",
		"d": "no rule keeps it: its day 2026-08-17 is older than the 1 newest kept by daily; not among the latest 1; older than 2d",
		"e": "pinned: legal hold",
	} {
		if !strings.Contains(strings.Join(got[id].Reasons, "; "), want) {
			t.Errorf("%s: %v, want %q", id, got[id].Reasons, want)
		}
	}

	if got["d"].Keep || !got["a"].Keep || !got["e"].Keep || !got["c"].Keep {
		t.Errorf("decisions: %+v", got)
	}

	// With no rules everything stays; with none verified the newest stays.
	for _, d := range Apply(items, config.Retention{}, now, time.UTC) {
		if !d.Keep {
			t.Errorf("no rules removed %s", d.ID)
		}
	}

	ds := Apply([]Item{{ID: "x", Time: now.Add(-400 * 24 * time.Hour)}}, config.Retention{Within: time.Hour}, now, time.UTC)
	if !ds[0].Keep || !strings.Contains(ds[0].Reasons[0], "none has been verified") {
		t.Errorf("the only snapshot: %+v", ds)
	}
}
