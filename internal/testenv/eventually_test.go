package testenv

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPollReturnsOnceTheConditionHolds: Poll returns as soon as the check
// passes, without waiting out the timeout.
func TestPollReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32

	start := time.Now()

	err := Poll(time.Minute, func() error {
		if n.Add(1) < 3 {
			return errors.New("two more")
		}

		return nil
	})
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}

	if n.Load() != 3 {
		t.Errorf("checked %d times, want 3", n.Load())
	}

	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s for a check that passes on the third look", took)
	}
}

// TestPollNamesTheLastError: after the timeout, Poll's error carries the
// last check's error, so a failing test says how far it got.
func TestPollNamesTheLastError(t *testing.T) {
	err := Poll(30*time.Millisecond, func() error { return errors.New("2 of 3 rows") })
	if err == nil || !strings.Contains(err.Error(), "2 of 3 rows") {
		t.Fatalf("Poll after the timeout: %v, want the last check's error", err)
	}

	err = Poll(30*time.Millisecond, func() error { return errNotYet })
	if err == nil || !strings.Contains(err.Error(), "did not happen") {
		t.Fatalf("Poll of a false condition: %v", err)
	}
}

// TestEventuallyFailsNamingWhat: Eventually fails the test with a message
// that names what did not happen.
func TestEventuallyFailsNamingWhat(t *testing.T) {
	rec := &recorder{TB: t}

	func() {
		defer func() { recover() }() //nolint:errcheck // Fatalf of the recorder ends the wait by panicking
		Eventually(rec, 30*time.Millisecond, func() bool { return false }, "the backup to finish")
	}()

	if !strings.Contains(rec.msg, "the backup to finish") || !strings.Contains(rec.msg, "did not happen") {
		t.Fatalf("failure message %q, want it to name what was awaited", rec.msg)
	}

	ok := &recorder{TB: t}
	Eventually(ok, time.Second, func() bool { return true }, "nothing")

	if ok.msg != "" {
		t.Fatalf("a true condition failed: %q", ok.msg)
	}
}

// recorder is a testing.TB whose Fatalf records the message and stops the
// caller, as the real one does, without failing the enclosing test.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}
