package testenv

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// pollEvery is how often Eventually looks again: short enough that a test
// waits little past the moment its condition comes true, long enough not to
// spin a core the code under test needs.
const pollEvery = 10 * time.Millisecond

// Eventually waits until cond is true, looking again every few milliseconds,
// and fails the test (naming what) when it is still false after timeout. It
// is how a test waits for something to happen instead of sleeping for a
// guessed time: it returns as soon as the thing happened, and says what did
// not happen when it never does.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()

	EventuallyNoError(t, timeout, func() error {
		if cond() {
			return nil
		}

		return errNotYet
	}, what)
}

// EventuallyNoError waits until check returns nil, looking again every few
// milliseconds, and fails the test when it still returns an error after
// timeout; the message names what was awaited and the last error, which
// usually says how far it got.
func EventuallyNoError(t testing.TB, timeout time.Duration, check func() error, what string) {
	t.Helper()

	if err := Poll(timeout, check); err != nil {
		t.Fatalf("waited %s for %s: %v", timeout, what, err)
	}
}

// Poll calls check until it returns nil or timeout has passed, and returns
// the last error (nil when check succeeded). It is Eventually for a waiter
// that is not a test's own goroutine (t.Fatal must not be called there) or
// that handles the failure itself.
func Poll(timeout time.Duration, check func() error) error {
	deadline := time.After(timeout)

	tick := time.NewTicker(pollEvery)
	defer tick.Stop()

	for {
		err := check()
		if err == nil {
			return nil
		}

		select {
		case <-deadline:
			if errors.Is(err, errNotYet) {
				return errors.New("it did not happen")
			}

			return fmt.Errorf("still not, the last check said: %w", err)
		case <-tick.C:
		}
	}
}

// errNotYet is a condition that is still false.
var errNotYet = errors.New("not yet")
