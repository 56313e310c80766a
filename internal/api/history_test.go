package api

import (
	"testing"
	"time"

	"lifeboat/internal/repo"
)

// TestHistoryMarksBackupsFailuresAndOverdueDays: the overview's 30-day
// strip counts each day's backups and failed backups, and marks a day
// overdue when the time since the last backup rose above the objective
// within it; days before the first backup are not overdue.
func TestHistoryMarksBackupsFailuresAndOverdueDays(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }

	snaps := []*repo.Snapshot{
		// Out of order on purpose, with a safety snapshot that is no backup.
		{Time: day(20, 13), Role: repo.RoleBackup},
		{Time: day(20, 1), Role: repo.RoleBackup},
		{Time: day(21, 1), Role: repo.RoleBackup},
		{Time: day(21, 2), Role: repo.RoleSafety},
		{Time: day(25, 1), Role: repo.RoleBackup},
		{Time: day(31, 1), Role: repo.RoleBackup},
	}

	days := history(now, 24*time.Hour, snaps, []time.Time{day(23, 5), day(23, 6)})
	if len(days) != 30 || days[0].Date != "2026-03-02" || days[29].Date != "2026-03-31" {
		t.Fatalf("%d days from %s to %s, want 30 ending today", len(days), days[0].Date, days[len(days)-1].Date)
	}

	want := map[string]Day{
		"2026-03-19": {Backups: 0},                // before the first backup
		"2026-03-20": {Backups: 2},                // 1:00 and 13:00
		"2026-03-21": {Backups: 1},                // 12 h after the one before
		"2026-03-22": {Backups: 0, Overdue: true}, // 24 h after 21 1:00 it is overdue
		"2026-03-23": {Failed: 2, Overdue: true},  // two failures, still overdue
		"2026-03-25": {Backups: 1, Overdue: true}, // overdue until 1:00
		"2026-03-26": {Backups: 0, Overdue: true}, // overdue from 1:00 on
		"2026-03-31": {Backups: 1, Overdue: true}, // overdue until 1:00 today
	}

	for _, d := range days {
		w, ok := want[d.Date]
		if !ok {
			continue
		}

		w.Date = d.Date
		if d != w {
			t.Errorf("%s: %+v, want %+v", d.Date, d, w)
		}
	}
}
