// Package clock is Lifeboat's one source of time. Everything whose behaviour
// depends on the time (schedules, RPO, retention, segment closing, drills)
// takes a Clock, so tests run a year of it in a second and nothing reads the
// wall clock behind their back.
package clock

import (
	"sync"
	"time"
)

// Clock is the time as Lifeboat sees it.
type Clock interface {
	Now() time.Time
	// After fires once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now is the wall clock's time.
func (Real) Now() time.Time { return time.Now() } //nolint:forbidigo // the one place that reads the wall clock

// After fires once d has passed on the wall clock.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Since is how long ago t was on c.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Or returns c, or the wall clock when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}

	return c
}

// Fake is a clock that moves only when told to. After channels fire as
// Advance passes their deadline.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake starts a fake clock at t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()

	return f.now
}

// After fires once Advance has moved the clock d past now.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()

	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}

	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), ch: ch})

	return ch
}

// Advance moves the clock by d and fires every After whose time has come.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.now = f.now.Add(d)

	kept := f.waiters[:0]

	for _, w := range f.waiters {
		if w.at.After(f.now) {
			kept = append(kept, w)
			continue
		}

		w.ch <- f.now
	}

	f.waiters = kept
}

// Waiters is how many After channels have not fired yet, so a test can wait
// until the code under test is asleep before it moves the clock.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()

	return len(f.waiters)
}
