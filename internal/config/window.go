package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a weekly span of local time, such as business hours
// ("Mon-Fri 08:00-18:00"). A span that ends before it starts runs past
// midnight ("22:00-06:00"); its days are the days it starts on.
type Window struct {
	Text string
	// Days holds the weekdays a span starts on (time.Sunday = 0).
	Days       [7]bool
	Start, End time.Duration // since midnight
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWindow reads "[DAYS ]HH:MM-HH:MM", where DAYS is a comma-separated
// list of days (Mon) and ranges of days (Mon-Fri); without DAYS, every day.
func ParseWindow(s string) (*Window, error) {
	w := &Window{Text: strings.TrimSpace(s)}
	fields := strings.Fields(w.Text)

	var days, hours string

	switch len(fields) {
	case 1:
		days, hours = "mon-sun", fields[0]
	case 2:
		days, hours = fields[0], fields[1]
	default:
		return nil, errors.New("expected [DAYS ]HH:MM-HH:MM, such as Mon-Fri 08:00-18:00")
	}

	for _, part := range strings.Split(strings.ToLower(days), ",") {
		from, to, isRange := strings.Cut(part, "-")

		first, ok1 := weekdays[from]
		last, ok2 := weekdays[to]

		if !isRange {
			last, ok2 = first, ok1
		}

		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%q is not a day or a range of days (Mon, Mon-Fri, Sat,Sun)", part)
		}

		for d := first; ; d = (d + 1) % 7 {
			w.Days[d] = true

			if d == last {
				break
			}
		}
	}

	from, to, ok := strings.Cut(hours, "-")
	if !ok {
		return nil, fmt.Errorf("%q is not a span of hours such as 08:00-18:00", hours)
	}

	var err error

	if w.Start, err = clock(from); err != nil {
		return nil, err
	}

	if w.End, err = clock(to); err != nil {
		return nil, err
	}

	if w.Start == w.End {
		return nil, fmt.Errorf("%s starts and ends at the same time: leave the window out to mean always", hours)
	}

	return w, nil
}

func clock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)

	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day such as 08:00", s)
	}

	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// Contains reports whether t (in its own location) falls in the window.
func (w *Window) Contains(t time.Time) bool {
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	since := t.Sub(midnight)

	if w.Start < w.End {
		return w.Days[t.Weekday()] && since >= w.Start && since < w.End
	}

	// Past midnight: the evening part belongs to today, the morning part to
	// the span that started yesterday.
	yesterday := (t.Weekday() + 6) % 7

	return (w.Days[t.Weekday()] && since >= w.Start) || (w.Days[yesterday] && since < w.End)
}

func (w *Window) String() string { return w.Text }
