package ops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lifeboat/internal/audit"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// TestRestoreIntoFolder: a restore of a files snapshot into an empty folder
// gives back every file, sends Started, its steps and byte counts and
// Finished, and writes one audit record with what was asked and how long it
// took; Begin is told the snapshot before anything is written.
func TestRestoreIntoFolder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	snap, err := f.e.Backup(ctx, Backup{Source: "data", Type: repo.TypeFull}, nil)
	if err != nil {
		t.Fatal(err)
	}

	target := filepath.Join(t.TempDir(), "back")

	var (
		ev    events
		begun *repo.Snapshot
	)

	res, err := f.e.Restore(ctx, Restore{
		Source: "data", Snapshot: "latest", Target: target, Asked: "restore data --target back",
		Begin: func(s *repo.Snapshot, resuming *repo.IncompleteRestore) {
			if resuming != nil {
				t.Errorf("a new folder holds no interrupted restore, got %v", resuming)
			}

			if _, err := os.Stat(target); err == nil {
				t.Error("the target exists before the restore began")
			}

			begun = s
		},
	}, ev.observe)
	if err != nil {
		t.Fatal(err)
	}

	if begun == nil || begun.ID != snap.ID || res.Snapshot.ID != snap.ID {
		t.Fatalf("restored %v (begun with %v), want snapshot %s", res.Snapshot, begun, snap.ID)
	}

	if res.Restored.Stats.Files != 3 || res.Restored.Safety != nil {
		t.Errorf("restored %d files (safety %v), want 3 and no safety snapshot", res.Restored.Stats.Files, res.Restored.Safety)
	}

	for i := range 3 {
		name := "f" + string(rune('0'+i)) + ".txt"

		want, _ := os.ReadFile(filepath.Join(f.data, name))
		got, err := os.ReadFile(filepath.Join(target, name))

		if err != nil || string(got) != string(want) {
			t.Errorf("%s restored as %d bytes (%v), want %d", name, len(got), err, len(want))
		}
	}

	kinds := ev.kinds()
	if kinds[0] != Started || kinds[len(kinds)-1] != Finished || !slices.Contains(kinds, Step) || !slices.Contains(kinds, Bytes) {
		t.Errorf("events %v: want Started, a step, byte counts, then Finished", kinds)
	}

	recs := f.records(t)
	last := recs[len(recs)-1]

	if last.Action != "restore" || last.Source != "data" || last.Outcome != audit.OK || last.Detail != "restore data --target back" || last.Seconds <= 0 {
		t.Errorf("audit record %+v: want restore of data, ok, with what was asked and its duration", last)
	}
}

// TestRestoreRefusals: a folder that holds files and a snapshot that does
// not exist are refused with messages that say what to do, each audited as
// a failed restore, and nothing is written.
func TestRestoreRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	if _, err := f.e.Backup(ctx, Backup{Source: "data", Type: repo.TypeFull}, nil); err != nil {
		t.Fatal(err)
	}

	full := t.TempDir()
	writeFile(t, filepath.Join(full, "mine.txt"), "keep me")

	var ev events

	_, err := f.e.Restore(ctx, Restore{Source: "data", Snapshot: "latest", Target: full}, ev.observe)
	if !errors.Is(err, source.ErrTargetNotEmpty) || !strings.Contains(err.Error(), full+" holds files; choose an empty or new folder, or pass --overwrite") {
		t.Fatalf("restore into a folder with files: %v", err)
	}

	if kinds := ev.kinds(); !slices.Equal(kinds, []EventKind{Started, Failed}) {
		t.Errorf("events %v, want Started then Failed", kinds)
	}

	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Errorf("the refused target holds %d entries, want its one file", len(entries))
	}

	_, err = f.e.Restore(ctx, Restore{Source: "data", Snapshot: "0123456789abcdef", Target: filepath.Join(t.TempDir(), "new")}, nil)
	if !errors.Is(err, repo.ErrSnapshotNotFound) || !strings.Contains(err.Error(), "0123456789abcdef") {
		t.Fatalf("restore of an unknown snapshot: %v", err)
	}

	recs := f.records(t)
	for i, rec := range recs[len(recs)-2:] {
		if rec.Action != "restore" || rec.Source != "data" || rec.Outcome != audit.Failed || rec.Detail == "" {
			t.Errorf("audit record %d %+v: want a failed restore of data with the reason", i, rec)
		}
	}

	if !strings.Contains(recs[len(recs)-2].Detail, "holds files") || !strings.Contains(recs[len(recs)-1].Detail, "0123456789abcdef") {
		t.Errorf("the records' details do not give the reasons: %q, %q", recs[len(recs)-2].Detail, recs[len(recs)-1].Detail)
	}
}

// TestExportOfAFilesSourceIsARequestError: asking a files source for what
// only a database source can do is the request's mistake, not a run: it is
// refused with a message and not audited.
func TestExportOfAFilesSourceIsARequestError(t *testing.T) {
	f := newFixture(t)

	if _, err := f.e.Backup(context.Background(), Backup{Source: "data", Type: repo.TypeFull}, nil); err != nil {
		t.Fatal(err)
	}

	before := len(f.records(t))

	_, err := f.e.Export(context.Background(), Export{Source: "data", Snapshot: "latest", Output: filepath.Join(t.TempDir(), "x.sql")}, nil)

	var re *RequestError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "export: source data is a files source; export writes database snapshots") {
		t.Fatalf("export of a files source: %v", err)
	}

	if after := len(f.records(t)); after != before {
		t.Errorf("%d audit records written for a request that cannot run", after-before)
	}
}
