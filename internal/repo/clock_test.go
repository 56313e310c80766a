package repo

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/clock"
)

// A repository opened with a clock dates what it records by that clock, not
// by the machine's, so a test can run it at any time it likes.
func TestRepositoryDatesRecordsByItsClock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "repo")

	if err := Create(ctx, path, testPW); err != nil {
		t.Fatalf("create: %v", err)
	}

	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	fake := clock.NewFake(at)
	where := AtPath(path)
	where.Clock = fake

	r, err := OpenAt(ctx, where, testPW, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer r.Close(ctx)

	if r.Clock() != fake {
		t.Fatalf("Clock() = %v, want the storage's fake clock", r.Clock())
	}

	snap, err := r.BackupStreams(ctx, StreamSpec{Source: "s", Kind: "test", Type: TypeFull}, []Stream{{
		Path: "a/b.txt",
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("hello")), nil },
	}})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}

	if !snap.Time.Equal(at) || !snap.End.Equal(at) {
		t.Fatalf("snapshot dated %s to %s, want %s by the fake clock", snap.Time, snap.End, at)
	}

	fake.Advance(time.Hour)

	got, err := r.Find(ctx, "s", "latest")
	if err != nil {
		t.Fatalf("find: %v", err)
	}

	if !got.Time.Equal(at) {
		t.Fatalf("stored snapshot dated %s, want %s", got.Time, at)
	}

	locks, err := r.LockSources([]string{"s"}, "test backup")
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	defer locks.Release()

	hs := holders(filepath.Join(r.lockDir(), lockFileName("source-s")))
	if len(hs) != 1 || !hs[0].Since.Equal(at.Add(time.Hour)) {
		t.Fatalf("lock holders %+v, want one since %s", hs, at.Add(time.Hour))
	}
}
