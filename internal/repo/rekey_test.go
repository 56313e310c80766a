package repo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRekeyReusedFileThatChanged: a file rewritten with the same size and
// times between two full backups holds other content in each; the rekey
// offers the second snapshot's copy the first's file (kopia's previous
// manifest matches it by name, size and times), its check finds the
// content differs, and the snapshot is copied again without reuse: each
// snapshot restores from the new repository with its own content.
func TestRekeyReusedFileThatChanged(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t)

	src := t.TempDir()
	f := filepath.Join(src, "ledger.txt")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	contents := []string{"balance 100 on the first day", "balance 900 on the first day"}

	for _, c := range contents {
		writeFile(t, f, c)

		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}

		if _, err := r.BackupTree(ctx, TreeSpec{Source: "s", Kind: "files", Type: TypeFull, Roots: []string{src}}); err != nil {
			t.Fatal(err)
		}
	}

	dstPath := filepath.Join(t.TempDir(), "new")
	newPW := Password{Value: "another key entirely", Origin: "test"}

	if err := Create(ctx, dstPath, newPW); err != nil {
		t.Fatal(err)
	}

	dst, err := Open(ctx, dstPath, newPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close(ctx)

	st, err := r.RekeyInto(ctx, dst, nil)
	if err != nil || st.Snapshots != 2 {
		t.Fatalf("rekey: %+v, %v", st, err)
	}

	snaps, err := dst.Snapshots(ctx, "s")
	if err != nil || len(snaps) != 2 {
		t.Fatalf("the new repository holds %d snapshots (%v)", len(snaps), err)
	}

	for i, sn := range snaps {
		target := filepath.Join(t.TempDir(), "out")
		if _, err := dst.Restore(ctx, sn.ID, target, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}

		var got []byte

		filepath.Walk(target, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Name() == "ledger.txt" {
				got, _ = os.ReadFile(p)
			}

			return nil
		})

		if string(got) != contents[i] {
			t.Fatalf("snapshot %d restores %q from the new repository, want %q", i, got, contents[i])
		}
	}
}
