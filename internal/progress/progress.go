// Package progress draws a one-line progress bar with bytes, rate and ETA on a
// terminal. It stays silent when the output is not a terminal (cron, pipes,
// tests) and for work that finishes within a second.
package progress

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"lifeboat/internal/clock"
)

// Bar implements repo.Progress.
type Bar struct {
	w       io.Writer
	label   string
	enabled bool
	start   time.Time
	clock   clock.Clock
	total   atomic.Int64
	done    atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
	shown   atomic.Bool
}

// New starts a bar; its elapsed time, rate and ETA are measured on clk (nil
// is the wall clock). When enabled is false (not a terminal) it records
// counts but draws nothing.
func New(w io.Writer, label string, enabled bool, clk clock.Clock) *Bar {
	b := &Bar{w: w, label: label, enabled: enabled, clock: clock.Or(clk), stop: make(chan struct{})}
	b.start = b.clock.Now()

	if enabled {
		b.wg.Add(1)

		go b.loop()
	}

	return b
}

// SetTotal sets the expected number of bytes.
func (b *Bar) SetTotal(n int64) { b.total.Store(n) }

// Add records n more bytes done.
func (b *Bar) Add(n int64) { b.done.Add(n) }

// Done stops drawing and clears the line.
func (b *Bar) Done() {
	if !b.enabled {
		return
	}

	close(b.stop)
	b.wg.Wait()

	if b.shown.Load() {
		fmt.Fprint(b.w, "\r\033[K")
	}
}

func (b *Bar) loop() {
	defer b.wg.Done()

	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()

	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			elapsed := clock.Since(b.clock, b.start)
			if elapsed < time.Second {
				continue
			}

			b.shown.Store(true)
			fmt.Fprint(b.w, "\r\033[K"+Line(b.label, b.done.Load(), b.total.Load(), elapsed))
		}
	}
}

// Line renders one progress line: "label  120.0 MiB / 2.0 GiB  85.3 MiB/s  ETA 0:22".
func Line(label string, done, total int64, elapsed time.Duration) string {
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}

	s := fmt.Sprintf("%s  %s", label, Bytes(done))
	if total > 0 {
		s += " / " + Bytes(total)
		if done <= total {
			s += fmt.Sprintf(" (%d%%)", done*100/total)
		}
	}

	s += fmt.Sprintf("  %s/s", Bytes(int64(rate)))

	if total > done && rate > 0 {
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		s += "  ETA " + hms(eta)
	}

	return s
}

func hms(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60

	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}

	return fmt.Sprintf("%d:%02d", m, s)
}

// Bytes formats a byte count with binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}

	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}

	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
