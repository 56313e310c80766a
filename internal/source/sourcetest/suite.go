// Package sourcetest is the conformance suite every source implementation
// runs: full and incremental backups restore to exactly the state they were
// taken of, labels are complete, and restores refuse to clobber data or land
// inside their source. It uses a real repository on disk, never a fake.
package sourcetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	// Inside returns a path inside the source's data.
	Inside func() string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	pw := repo.Password{Value: "conformance", Origin: "test"}
	repoPath := filepath.Join(t.TempDir(), "repo")

	if err := repo.Create(ctx, repoPath, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, repoPath, pw, nil)
	if err != nil {
		t.Fatal(err)
	}
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

	t.Run("labels", func(t *testing.T) {
		for _, s := range []*repo.Snapshot{full, inc} {
			if s.ID == "" || s.Source != src.Name() || s.Kind != src.Kind() || s.Host == "" || s.Version != "test" ||
				s.Time.IsZero() || s.End.Before(s.Time) || !strings.HasPrefix(s.Digest, "sha256:") || s.Role != repo.RoleBackup {
				t.Errorf("incomplete labels: %+v", s)
			}
		}

		if full.Type != repo.TypeFull || inc.Type != repo.TypeIncremental || inc.Base != full.ID {
			t.Errorf("types/bases: full %s, incremental %s on %s", full.Type, inc.Type, inc.Base)
		}
	})

	t.Run("each snapshot restores its own state", func(t *testing.T) {
		for _, c := range []struct {
			snap *repo.Snapshot
			want string
		}{{full, first}, {inc, second}} {
			target := filepath.Join(t.TempDir(), "restore")
			if _, err := src.Restore(ctx, r, c.snap, target, source.RestoreOptions{Version: "test"}); err != nil {
				t.Fatalf("restore %s: %v", c.snap.Type, err)
			}

			if got := h.State(t, target); got != c.want {
				t.Errorf("restore of the %s snapshot:\n got %s\nwant %s", c.snap.Type, got, c.want)
			}
		}
	})

	t.Run("non-empty target needs overwrite, which saves what it replaces", func(t *testing.T) {
		target := t.TempDir()
		os.WriteFile(filepath.Join(target, "precious"), []byte("local"), 0o600)

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
