package config

import (
	"strings"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	// 2026-11-23 is a Monday.
	at := func(day int, hhmm string) time.Time {
		c, err := clock(hhmm)
		if err != nil {
			t.Fatal(err)
		}

		return time.Date(2026, 11, 23+day, 0, 0, 0, 0, time.Local).Add(c)
	}

	for _, c := range []struct {
		window string
		in     []time.Time
		out    []time.Time
	}{
		{"Mon-Fri 08:00-18:00", []time.Time{at(0, "08:00"), at(0, "17:59"), at(4, "12:00")}, []time.Time{at(0, "07:59"), at(0, "18:00"), at(5, "12:00"), at(6, "09:00")}},
		{"08:00-18:00", []time.Time{at(5, "12:00"), at(6, "08:00")}, []time.Time{at(6, "18:30")}},
		// Past midnight: Friday night's span reaches into Saturday morning;
		// Saturday evening starts no span.
		{"Mon-Fri 22:00-06:00", []time.Time{at(4, "23:00"), at(5, "05:59"), at(0, "22:00")}, []time.Time{at(0, "05:00"), at(5, "22:30"), at(5, "06:00")}},
		{"Sat,Sun 00:00-24:00", []time.Time{at(5, "00:00"), at(6, "23:59")}, []time.Time{at(0, "00:00"), at(4, "23:59")}},
		{"Fri-Mon 09:00-10:00", []time.Time{at(4, "09:30"), at(0, "09:30"), at(6, "09:00")}, []time.Time{at(1, "09:30")}},
	} {
		w, err := ParseWindow(c.window)
		if err != nil {
			t.Fatalf("%s: %v", c.window, err)
		}

		for _, x := range c.in {
			if !w.Contains(x) {
				t.Errorf("%s should contain %s", c.window, x.Format("Mon 15:04"))
			}
		}

		for _, x := range c.out {
			if w.Contains(x) {
				t.Errorf("%s should not contain %s", c.window, x.Format("Mon 15:04"))
			}
		}
	}

	for s, want := range map[string]string{
		"":                     "expected [DAYS ]HH:MM-HH:MM",
		"Mon Fri 08:00-18:00":  "expected [DAYS ]HH:MM-HH:MM",
		"Monday 08:00-18:00":   `"monday" is not a day`,
		"08:00":                "not a span of hours",
		"08:00-25:00":          `"25:00" is not a time of day`,
		"8:0-18:00":            `"8:0" is not a time of day`,
		"Mon-Fri 09:00-09:00":  "starts and ends at the same time",
		"Mon-Fri 08:00-18:60":  `"18:60" is not a time of day`,
		"Mon-Fri  08:00-18:00": "", // extra space is fine
	} {
		_, err := ParseWindow(s)
		if (err == nil) != (want == "") || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("ParseWindow(%q): %v, want %q", s, err, want)
		}
	}
}
