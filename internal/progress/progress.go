// Package progress draws a one-line progress bar with files, bytes, rate and
// ETA on a terminal. It stays silent when the output is not a terminal (cron,
// pipes, tests) and for work that finishes within a second, unless asked for
// lines (--progress): then it prints a plain line every few seconds and one
// when the work ends, for a log to keep.
package progress

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"lifeboat/internal/clock"
)

// Mode is how a Bar shows itself.
type Mode int

const (
	// Off records the counts and prints nothing.
	Off Mode = iota
	// Terminal redraws one line in place, from the first second on.
	Terminal
	// Lines prints a plain line (no control characters) every
	// LinesEvery while the work runs and one when it ends.
	Lines
)

// LinesEvery is how often a Lines bar prints: often enough to see that a
// long run moves, seldom enough not to flood a log.
const LinesEvery = 5 * time.Second

// Bar implements repo.Progress and repo.FileProgress.
type Bar struct {
	w          io.Writer
	label      string
	mode       Mode
	start      time.Time
	clock      clock.Clock
	total      atomic.Int64
	done       atomic.Int64
	files      atomic.Int64
	filesTotal atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
	shown      atomic.Bool
}

// New starts a bar; its elapsed time, rate and ETA are measured on clk (nil
// is the wall clock). When enabled is false (not a terminal) it records
// counts but draws nothing.
func New(w io.Writer, label string, enabled bool, clk clock.Clock) *Bar {
	mode := Off
	if enabled {
		mode = Terminal
	}

	return Start(w, label, mode, clk)
}

// Start starts a bar shown as mode.
func Start(w io.Writer, label string, mode Mode, clk clock.Clock) *Bar {
	b := &Bar{w: w, label: label, mode: mode, clock: clock.Or(clk), stop: make(chan struct{})}
	b.start = b.clock.Now()

	switch mode {
	case Terminal:
		b.wg.Add(1)

		go b.loop()
	case Lines:
		b.wg.Add(1)

		go b.lines()
	case Off:
	}

	return b
}

// SetTotal sets the expected number of bytes.
func (b *Bar) SetTotal(n int64) { b.total.Store(n) }

// Add records n more bytes done.
func (b *Bar) Add(n int64) { b.done.Add(n) }

// SetTotalFiles sets the expected number of files.
func (b *Bar) SetTotalFiles(n int64) { b.filesTotal.Store(n) }

// AddFiles records n more files done.
func (b *Bar) AddFiles(n int64) { b.files.Add(n) }

// Done stops drawing: a terminal's line is cleared, a Lines bar prints its
// last line.
func (b *Bar) Done() {
	if b.mode == Off {
		return
	}

	close(b.stop)
	b.wg.Wait()

	switch {
	case b.mode == Lines:
		fmt.Fprintln(b.w, b.line())
	case b.shown.Load():
		fmt.Fprint(b.w, "\r\033[K")
	}
}

// line is the bar's progress now.
func (b *Bar) line() string {
	return Render(Counts{
		Label: b.label, Done: b.done.Load(), Total: b.total.Load(),
		Files: b.files.Load(), FilesTotal: b.filesTotal.Load(),
	}, clock.Since(b.clock, b.start))
}

func (b *Bar) lines() {
	defer b.wg.Done()

	t := time.NewTicker(LinesEvery)
	defer t.Stop()

	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			fmt.Fprintln(b.w, b.line())
		}
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
			fmt.Fprint(b.w, "\r\033[K"+b.line())
		}
	}
}

// Line renders one progress line: "label  120.0 MiB / 2.0 GiB  85.3 MiB/s  ETA 0:22".
func Line(label string, done, total int64, elapsed time.Duration) string {
	return Render(Counts{Label: label, Done: done, Total: total}, elapsed)
}

// Counts are what a progress line shows: bytes done of a total, and files
// done of a total when the work counts files. A total of 0 is not known.
type Counts struct {
	Label       string
	Done, Total int64
	Files       int64
	FilesTotal  int64
}

// Render renders one progress line: "label  1,234 files  120.0 MiB / 2.0
// GiB (5%)  85.3 MiB/s  ETA 0:22"; the files only when some were counted.
func Render(c Counts, elapsed time.Duration) string {
	done, total := c.Done, c.Total

	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}

	s := c.Label + "  "

	switch {
	case c.FilesTotal > 0:
		s += Count(c.Files) + " / " + Count(c.FilesTotal) + " files  "
	case c.Files > 0:
		s += Count(c.Files) + " files  "
	}

	s += Bytes(done)
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

// Count formats a count with thousands separators: 1,234,567.
func Count(n int64) string {
	if n < 0 {
		return "-" + Count(-n)
	}

	s := fmt.Sprint(n)

	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}

	return s
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
