package schedule

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// simClock is a clock tests move. With auto set, every After lets its whole
// duration pass at once, so a loop waiting on the clock runs through
// simulated days in microseconds; without it, After never fires.
type simClock struct {
	mu   sync.Mutex
	now  time.Time
	auto bool
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.now
}

func (c *simClock) After(d time.Duration) <-chan time.Time {
	if !c.auto {
		return nil
	}

	c.advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()

	return ch
}

func (c *simClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// utc is a minute of March 2026; the 9th is a Monday.
func utc(day, h, m int) time.Time { return time.Date(2026, 3, day, h, m, 0, 0, time.UTC) }

func mustJob(t *testing.T, name, lock, spec string, run func(context.Context) error) *Job {
	t.Helper()

	j, err := NewJob(name, lock, spec, run)
	if err != nil {
		t.Fatal(err)
	}

	return j
}

func noop(context.Context) error { return nil }

func TestNextRuns(t *testing.T) {
	cases := []struct {
		spec     string
		from     time.Time
		want     time.Time
		wantNext time.Time
	}{
		{"0 2 * * *", utc(10, 1, 59), utc(10, 2, 0), utc(11, 2, 0)},
		{"0 2 * * *", utc(10, 2, 0), utc(11, 2, 0), utc(12, 2, 0)},
		{"*/15 * * * *", utc(10, 10, 7), utc(10, 10, 15), utc(10, 10, 30)},
		{"@hourly", utc(10, 23, 30), utc(11, 0, 0), utc(11, 1, 0)},
		{"@weekly", utc(11, 12, 0), utc(15, 0, 0), utc(22, 0, 0)},                                                                    // Sundays
		{"30 4 * * 1-5", utc(13, 5, 0), utc(16, 4, 30), utc(17, 4, 30)},                                                              // Friday to Monday
		{"0 6 1 1,4,7,10 *", utc(1, 6, 0), time.Date(2026, 4, 1, 6, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC)}, // quarterly
	}

	for _, c := range cases {
		j := mustJob(t, "job", "db", c.spec, noop)
		if got := j.Next(c.from); !got.Equal(c.want) {
			t.Errorf("%q after %s: %s, want %s", c.spec, c.from, got, c.want)
		}

		if got := j.Next(c.want); !got.Equal(c.wantNext) {
			t.Errorf("%q after %s: %s, want %s", c.spec, c.want, got, c.wantNext)
		}
	}

	// A schedule is read in the zone of the instant it starts from.
	berlin := time.FixedZone("CET", 3600)
	j := mustJob(t, "job", "db", "0 2 * * *", noop)

	if got := j.Next(time.Date(2026, 3, 10, 1, 0, 0, 0, berlin)); !got.Equal(utc(10, 1, 0)) {
		t.Errorf("02:00 in a zone one hour east: %s", got.UTC())
	}
}

func TestNewJobRefusesBadSchedules(t *testing.T) {
	for spec, detail := range map[string]string{
		"61 * * * *":  "above maximum",
		"0 2 * *":     "expected exactly 5 fields",
		"* * * * * *": "expected exactly 5 fields",
		"@sometimes":  "unrecognized descriptor",
		"":            "empty spec string",
	} {
		j, err := NewJob("backup db full", "db", spec, noop)

		prefix := `job backup db full: schedule "` + spec + `": `
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), detail) {
			t.Errorf("spec %q: job %v, error %v; want %q...%q", spec, j, err, prefix, detail)
		}
	}
}

func TestSchedulerNextSoonestFirst(t *testing.T) {
	s := &Scheduler{Jobs: []*Job{
		mustJob(t, "daily", "repository", "0 2 * * *", noop),
		mustJob(t, "hourly", "db", "0 * * * *", noop),
		mustJob(t, "quarter", "files", "*/15 * * * *", noop),
		mustJob(t, "also hourly", "git", "@hourly", noop),
	}}

	var got []string
	for _, p := range s.Next(utc(10, 0, 50)) {
		got = append(got, p.Job.Name+" "+p.At.Format("15:04"))
	}

	// Ties keep the configured order.
	want := "hourly 01:00,quarter 01:00,also hourly 01:00,daily 02:00"
	if strings.Join(got, ",") != want {
		t.Errorf("Next = %v, want %s", got, want)
	}
}

// outcomes collects what the scheduler reports, safe for runs on goroutines.
type outcomes struct {
	mu   sync.Mutex
	list []Outcome
}

func (o *outcomes) add(x Outcome) {
	o.mu.Lock()
	o.list = append(o.list, x)
	o.mu.Unlock()
}

func (o *outcomes) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()

	var out []string

	for _, x := range o.list {
		l := x.Job.Name + " " + x.Start.Format("02 15:04")
		if !x.End.Equal(x.Start) {
			l += "-" + x.End.Format("15:04")
		}

		if x.CatchUp {
			l += " catch-up"
		}

		if x.Skipped {
			l += " skipped"
		}

		if x.Err != nil {
			l += " error: " + x.Err.Error()
		}

		out = append(out, l)
	}

	return out
}

func TestRunCatchesUpAndFiresOnTime(t *testing.T) {
	clock := &simClock{now: utc(9, 0, 30), auto: true}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var got outcomes

	failing := errors.New("disk full")
	hourly := mustJob(t, "hourly", "db", "0 * * * *", noop)
	daily := mustJob(t, "daily", "repository", "0 2 * * *", func(context.Context) error { return failing })
	s := &Scheduler{
		Jobs: []*Job{hourly, daily}, Clock: clock, Inline: true,
		LastRun: func(j *Job) time.Time {
			if j == hourly {
				return utc(9, 0, 0) // its next run, 01:00, is still ahead
			}

			return utc(7, 2, 0) // missed the 8th's run
		},
		Done: func(o Outcome) {
			got.add(o)

			if !o.Start.Before(utc(9, 3, 0)) {
				cancel()
			}
		},
	}

	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}

	want := []string{"daily 09 00:30 catch-up error: disk full", "hourly 09 01:00", "hourly 09 02:00", "daily 09 02:00 error: disk full", "hourly 09 03:00"}
	if g := got.lines(); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("runs:\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
}

func TestRunNeverRunBeforeCatchesUpAndOverrunsCoalesce(t *testing.T) {
	clock := &simClock{now: utc(9, 0, 50), auto: true}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var got outcomes

	// Each run takes 90 minutes: the slots it overruns fire once, late.
	slow := mustJob(t, "slow", "db", "0 * * * *", func(context.Context) error { clock.advance(90 * time.Minute); return nil })
	s := &Scheduler{
		Jobs: []*Job{slow}, Clock: clock, Inline: true,
		LastRun: func(*Job) time.Time { return time.Time{} },
		Done: func(o Outcome) {
			got.add(o)

			if len(got.lines()) == 4 {
				cancel()
			}
		},
	}

	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}

	want := []string{"slow 09 00:50-02:20 catch-up", "slow 09 02:20-03:50", "slow 09 03:50-05:20", "slow 09 05:20-06:50"}
	if g := got.lines(); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("runs:\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
}

func TestRunJitterDelaysScheduledRunsOnly(t *testing.T) {
	clock := &simClock{now: utc(9, 0, 0), auto: true}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var got outcomes

	s := &Scheduler{
		Jobs: []*Job{mustJob(t, "hourly", "db", "0 * * * *", noop)}, Clock: clock, Inline: true, Jitter: 10 * time.Minute,
		Done: func(o Outcome) {
			got.add(o)

			if len(got.lines()) == 50 {
				cancel()
			}
		},
	}

	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}

	got.mu.Lock()
	defer got.mu.Unlock()

	if o := got.list[0]; !o.CatchUp || !o.Start.Equal(utc(9, 0, 0)) {
		t.Errorf("catch-up started at %s (catch-up %v): it is never delayed", o.Start, o.CatchUp)
	}

	for i, o := range got.list[1:] {
		slot := o.Start.Truncate(time.Hour)
		if d := o.Start.Sub(slot); d < 0 || d >= 10*time.Minute {
			t.Errorf("run %d started %s after its slot, jitter is 10m", i+1, d)
		}

		if i > 0 && !slot.Equal(got.list[i].Start.Truncate(time.Hour).Add(time.Hour)) {
			t.Errorf("run %d in slot %s: a slot was skipped or repeated", i+1, slot)
		}
	}
}

func TestRunSkipsASourceThatIsBusy(t *testing.T) {
	clock := &simClock{now: utc(9, 0, 50), auto: true}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var got outcomes

	release := make(chan struct{})
	backup := mustJob(t, "backup db", "db", "0 * * * *", func(context.Context) error { <-release; return nil })
	point := mustJob(t, "point", "point", "30 * * * *", noop)
	point.Also = []string{"db", "files"}
	files := mustJob(t, "backup files", "files", "15 * * * *", noop)

	s := &Scheduler{
		Jobs: []*Job{backup, point, files}, Clock: clock, Concurrency: 2,
		LastRun: func(*Job) time.Time { return utc(9, 0, 50) },
		Done: func(o Outcome) {
			got.add(o)

			if o.Skipped {
				close(release)
				cancel()
			}
		},
	}

	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}

	// Run has waited for the backup to finish: every outcome is in. A
	// run on its own goroutine reads its start from the clock when it
	// begins, which the loop has moved on meanwhile: only the skip's
	// time is exact.
	lines := got.lines()
	if len(lines) != 3 || !containsLine(lines, "point 09 01:30 skipped") {
		t.Errorf("outcomes:\n%s", strings.Join(lines, "\n"))
	}

	ran := map[*Job]int{}

	for _, o := range got.list {
		if !o.Skipped && o.Err == nil {
			ran[o.Job]++
		}
	}

	if ran[backup] != 1 || ran[files] != 1 {
		t.Errorf("runs that finished: backup %d, files %d; want one each", ran[backup], ran[files])
	}
}

func containsLine(lines []string, l string) bool {
	for _, x := range lines {
		if x == l {
			return true
		}
	}

	return false
}

func TestStopCancelsJobsAfterTheTimeout(t *testing.T) {
	clock := &simClock{now: utc(9, 0, 50)}
	ctx, cancel := context.WithCancel(t.Context())

	var got outcomes

	started := make(chan struct{})
	stubborn := mustJob(t, "backup db", "db", "0 * * * *", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()

		return ctx.Err()
	})
	s := &Scheduler{Jobs: []*Job{stubborn}, Clock: clock, StopTimeout: 10 * time.Millisecond, Done: got.add}

	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	<-started
	cancel()

	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if lines := got.lines(); strings.Join(lines, "\n") != "backup db 09 00:50 catch-up error: context canceled" {
		t.Errorf("outcomes: %q", lines)
	}
}
