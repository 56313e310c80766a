// Package sourcetest is the conformance suite every source implementation
// runs: full and incremental backups restore to exactly the state they were
// taken of, labels are complete, and restores refuse to clobber data or land
// inside their source. It uses a real repository on disk, never a fake.
// Where a kind of source restores differently (into a database server, or an
// incremental only through the full it builds on), the suite asks for the
// capability that says so and holds the source to it.
package sourcetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Harness adapts one source implementation to the suite.
type Harness struct {
	// New lays out fresh data under dir and returns the source reading it.
	New func(t *testing.T, dir string) source.Source
	// Change alters the data the way a day of use would.
	Change func(t *testing.T)
	// State describes, comparably, what a restore into dir holds; for the
	// live data it is called with "" and describes the source itself.
	State func(t *testing.T, dir string) string
	// Inside returns a path inside the source's data; nil for a source that
	// reads no paths (a database), which must then contain none.
	Inside func() string
	// Target returns a new place to restore into: nil gives a folder that
	// does not exist yet; a database source gives a database name.
	Target func(t *testing.T) string
	// Occupy puts data of its own into target, which a restore must not
	// replace without Overwrite; nil writes a file into the folder.
	Occupy func(t *testing.T, target string)
}

func (h Harness) target(t *testing.T) string {
	if h.Target != nil {
		return h.Target(t)
	}

	return filepath.Join(t.TempDir(), "restore")
}

func (h Harness) occupy(t *testing.T, target string) {
	if h.Occupy != nil {
		h.Occupy(t, target)
		return
	}

	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(target, "precious"), []byte("local"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// restore restores snap into target. The incremental of a source whose
// incrementals build on a full (source.Chain) holds changes, not a copy:
// its state is the full plus the changes up to its end, which the source's
// point-in-time restore gives back.
func restore(ctx context.Context, t *testing.T, r *repo.Repository, src source.Source, snap *repo.Snapshot, target string) error {
	chain, chained := src.(source.Chain)
	if !chained || snap.Type == repo.TypeFull {
		_, err := src.Restore(ctx, r, snap, target, source.RestoreOptions{Version: "test"})
		return err
	}

	pit, ok := src.(source.PointInTimeRestorer)
	if !ok {
		t.Fatalf("%s: its incrementals build on a full (source.Chain), but it cannot restore to a point (source.PointInTimeRestorer)", src.Kind())
	}

	end, ok := chain.End(snap)
	if !ok || end.File == "" {
		t.Fatalf("%s snapshot %s records no end in the archive", snap.Type, snap.ID)
	}

	_, err := pit.RestoreToPoint(ctx, r, source.PointOptions{
		DatabaseRestoreOptions: source.DatabaseRestoreOptions{Database: target, Version: "test"},
		Target:                 binlog.Target{File: end.File, Pos: end.Pos},
	})

	return err
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()

	r := newRepo(ctx, t)
	defer r.Close(ctx)

	src := h.New(t, t.TempDir())

	first := h.State(t, "")
	full, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull, Version: "test"})
	if err != nil {
		t.Fatalf("full backup: %v", err)
	}

	h.Change(t)

	second := h.State(t, "")
	if second == first {
		t.Fatal("Change did not change the state; the suite would prove nothing")
	}

	inc, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental, Version: "test"})
	if err != nil {
		t.Fatalf("incremental backup: %v", err)
	}

	t.Run("labels", func(t *testing.T) { checkLabels(t, src, full, inc) })

	t.Run("each snapshot restores its own state", func(t *testing.T) {
		for _, c := range []struct {
			snap *repo.Snapshot
			want string
		}{{full, first}, {inc, second}} {
			target := h.target(t)
			if err := restore(ctx, t, r, src, c.snap, target); err != nil {
				t.Fatalf("restore %s: %v", c.snap.Type, err)
			}

			if got := h.State(t, target); got != c.want {
				t.Errorf("restore of the %s snapshot:\n got %s\nwant %s", c.snap.Type, got, c.want)
			}
		}
	})

	t.Run("non-empty target needs overwrite, which saves what it replaces", func(t *testing.T) {
		target := h.target(t)
		h.occupy(t, target)

		_, err := src.Restore(ctx, r, full, target, source.RestoreOptions{Version: "test"})
		if !errors.Is(err, source.ErrTargetNotEmpty) {
			t.Fatalf("want ErrTargetNotEmpty, got %v", err)
		}

		res, err := src.Restore(ctx, r, full, target, source.RestoreOptions{Overwrite: true, Version: "test"})
		if err != nil {
			t.Fatal(err)
		}

		if res.Safety == nil || res.Safety.Role != repo.RoleSafety || res.Safety.Files < 1 {
			t.Fatalf("no safety snapshot of the replaced data: %+v", res.Safety)
		}
	})

	t.Run("contains", func(t *testing.T) {
		if h.Inside == nil {
			if src.Contains(t.TempDir()) || src.Contains("/") {
				t.Fatal("a source that reads no paths contains one")
			}

			return
		}

		if !src.Contains(h.Inside()) || src.Contains(t.TempDir()) {
			t.Fatal("Contains does not tell the source's data from elsewhere")
		}
	})

	t.Run("verify", func(t *testing.T) {
		snaps, err := r.Snapshots(ctx, src.Name())
		if err != nil {
			t.Fatal(err)
		}

		res, err := r.Verify(ctx, snaps, nil)
		if err != nil || !res.OK() {
			t.Fatalf("verify: %v %v", err, res.Problems)
		}
	})
}

// newRepo creates and opens an empty repository for the suite.
func newRepo(ctx context.Context, t *testing.T) *repo.Repository {
	t.Helper()

	pw := repo.Password{Value: "conformance", Origin: "test"}
	repoPath := filepath.Join(t.TempDir(), "repo")

	if err := repo.Create(ctx, repoPath, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, repoPath, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	return r
}

// checkLabels checks what the full and the incremental backup of src record
// about themselves.
func checkLabels(t *testing.T, src source.Source, full, inc *repo.Snapshot) {
	t.Helper()

	for _, s := range []*repo.Snapshot{full, inc} {
		if s.ID == "" || s.Source != src.Name() || s.Kind != src.Kind() || s.Host == "" || s.Version != "test" ||
			s.Time.IsZero() || s.End.Before(s.Time) || !strings.HasPrefix(s.Digest, "sha256:") || s.Role != repo.RoleBackup {
			t.Errorf("incomplete labels: %+v", s)
		}
	}

	if full.Type != repo.TypeFull || inc.Type != repo.TypeIncremental || inc.Base != full.ID {
		t.Errorf("types/bases: full %s, incremental %s on %s", full.Type, inc.Type, inc.Base)
	}
}
