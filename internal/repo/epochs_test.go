package repo

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/snapshot"
)

// TestIndexEpochs: a new repository gets the short index epochs; one made
// with kopia's defaults (as older versions made them) gets them once from
// TuneIndexEpochs, which then changes nothing more; and quick maintenance
// runs on it, recorded in kopia's maintenance schedule.
func TestIndexEpochs(t *testing.T) {
	ctx := context.Background()
	r, path := newRepo(t)

	got, err := r.IndexEpochs(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if !got.Tuned || got.MinDuration != 10*time.Minute || got.Refresh*3 > got.MinDuration {
		t.Fatalf("a new repository's epochs: %+v", got)
	}

	// What older versions created: kopia's defaults.
	dr := r.rep.(repo.DirectRepository)
	err = repo.DirectWriteSession(ctx, dr, repo.WriteSessionOptions{}, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		fm := w.FormatManager()
		mp, _ := fm.GetMutableParameters(ctx)
		mp.EpochParameters.MinEpochDuration, mp.EpochParameters.EpochRefreshFrequency = 24*time.Hour, 20*time.Minute
		cfg, _ := fm.BlobCfgBlob(ctx)
		feats, _ := fm.RequiredFeatures(ctx)

		return fm.SetParameters(ctx, mp, cfg, feats)
	})
	if err != nil {
		t.Fatal(err)
	}

	r.Close(ctx)

	old, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)

	before, err := old.TuneIndexEpochs(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if before.Tuned || before.MinDuration != 24*time.Hour {
		t.Fatalf("before tuning: %+v", before)
	}

	old.Close(ctx)

	r, err = Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	if got, err := r.TuneIndexEpochs(ctx); err != nil || !got.Tuned {
		t.Fatalf("after tuning, reopened: %+v %v", got, err)
	}

	if last, err := r.LastQuickMaintenance(ctx); err != nil || !last.IsZero() {
		t.Fatalf("quick maintenance before any ran: %v %v", last, err)
	}

	// Ownership is free: quick maintenance takes it and runs.
	if err := r.QuickMaintain(ctx); err != nil {
		t.Fatal(err)
	}

	last, err := r.LastQuickMaintenance(ctx)
	if err != nil || last.IsZero() {
		t.Fatalf("quick maintenance was not recorded: %v %v", last, err)
	}

	// Full maintenance (prune) owns maintenance; quick maintenance still
	// runs after it, and again.
	if err := r.Maintain(ctx, false); err != nil {
		t.Fatal(err)
	}

	if err := r.QuickMaintain(ctx); err != nil {
		t.Fatal(err)
	}

	if again, err := r.LastQuickMaintenance(ctx); err != nil || !again.After(last) {
		t.Fatalf("the second quick maintenance was not recorded: %v (first %v) %v", again, last, err)
	}
}

// TestStateKeepsTheNewest: progress records written often are added, not
// replaced, and swept every stateSweepEvery writes: State always reads the
// newest, and the older ones never pile up.
func TestStateKeepsTheNewest(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t)

	for i := 1; i <= 2*stateSweepEvery+5; i++ {
		if err := r.PutState(ctx, "db", "binlog", map[string]string{"n": strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}

		st, err := r.State(ctx, "db", "binlog")
		if err != nil || st["n"] != strconv.Itoa(i) {
			t.Fatalf("after write %d, State reads %v (%v)", i, st, err)
		}

		ms, err := r.rep.FindManifests(ctx, map[string]string{"type": recordType, labelKindR: "state:binlog"})
		if err != nil || len(ms) > stateSweepEvery {
			t.Fatalf("after write %d, %d state records (%v)", i, len(ms), err)
		}
	}
}

// TestBackupDropsCheckpoints: a complete backup drops the checkpoints of an
// earlier killed run and its own, found in the opened repository rather
// than by loading every manifest again in its write session.
func TestBackupDropsCheckpoints(t *testing.T) {
	ctx := context.Background()
	r, path := newRepo(t)
	src := t.TempDir()

	buf := make([]byte, 4<<20)
	for i := 0; i < 6; i++ {
		rand.Read(buf)
		writeFile(t, filepath.Join(src, fmt.Sprintf("f%d", i)), string(buf))
	}

	// What a killed run leaves: a checkpoint manifest of the source.
	err := repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{}, func(ctx context.Context, w repo.RepositoryWriter) error {
		_, err := snapshot.SaveSnapshot(ctx, w, &snapshot.Manifest{
			Source: sourceInfo("data"), IncompleteReason: "checkpoint",
			Tags: map[string]string{labelMarker: "1", labelSource: "data", labelRole: "checkpoint"},
		})

		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	checkpoints := func(r *Repository) int {
		ids, err := snapshot.ListSnapshotManifests(ctx, r.rep, nil, map[string]string{"type": "snapshot", labelRole: "checkpoint"})
		if err != nil {
			t.Fatal(err)
		}

		return len(ids)
	}

	if n := checkpoints(r); n != 1 {
		t.Fatalf("%d checkpoints before the backup", n)
	}

	if _, err := r.BackupTree(ctx, TreeSpec{Source: "data", Kind: "files", Type: TypeFull, Roots: []string{src}, CheckpointInterval: time.Millisecond}); err != nil {
		t.Fatal(err)
	}

	// What the next command sees: the repository opened afresh (this
	// process's open view may still hold the manifests the backup's own
	// session deleted until it refreshes).
	next, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close(ctx)

	if n := checkpoints(next); n != 0 {
		t.Fatalf("%d checkpoints left after a complete backup", n)
	}
}
