package repo

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestMatchID: an exact ID wins, a unique prefix of six or more characters
// picks its snapshot, a shared prefix lists every candidate, a short one is
// refused naming what it matches, and an unknown one matches nothing.
func TestMatchID(t *testing.T) {
	at := time.Date(2026, 11, 25, 14, 3, 27, 0, time.UTC)
	snaps := []*Snapshot{
		{ID: "3f2a9c11aa", Source: "docs", Time: at},
		{ID: "3f2a9c22bb", Source: "docs", Time: at.Add(time.Hour)},
		{ID: "77aa00", Source: "site", Time: at},
	}

	if s, err := MatchID(snaps, "3f2a9c22"); err != nil || s != snaps[1] {
		t.Errorf("unique prefix: %v, %v", s, err)
	}

	if s, err := MatchID(snaps, "77aa00"); err != nil || s != snaps[2] {
		t.Errorf("exact ID: %v, %v", s, err)
	}

	_, err := MatchID(snaps, "3f2a9c")

	var amb *AmbiguousError
	if !errors.As(err, &amb) || !errors.Is(err, ErrSnapshotNotFound) || len(amb.Candidates) != 2 {
		t.Fatalf("shared prefix: %v", err)
	}

	for _, want := range []string{`prefix "3f2a9c" matches 2 snapshots`, "3f2a9c11aa  docs  ", "3f2a9c22bb  docs  "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("shared prefix: message lacks %q:\n%v", want, err)
		}
	}

	if _, err := MatchID(snaps, "77a"); !errors.Is(err, ErrSnapshotNotFound) || !strings.Contains(err.Error(), "shorter than 6 characters (it matches 77aa00  site") {
		t.Errorf("short unique prefix: %v", err)
	}

	if s, err := MatchID(snaps, "ffffff"); s != nil || err != nil {
		t.Errorf("unknown ID: %v, %v", s, err)
	}
}
