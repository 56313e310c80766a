package repo

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

// TestAuditKey: the audit key is the same every time the repository, or a
// copy of it, is opened, is not the password, and another repository's
// differs.
func TestAuditKey(t *testing.T) {
	ctx := context.Background()
	r, path := newRepo(t)

	k1, err := r.AuditKey()
	if err != nil || len(k1) != 32 {
		t.Fatalf("audit key: %d bytes, %v", len(k1), err)
	}

	if bytes.Contains(k1, []byte(testPW.Value)) {
		t.Fatal("the audit key holds the password")
	}

	again, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctx)

	copyPath := filepath.Join(t.TempDir(), "copy")
	if _, err := r.Replicate(ctx, AtPath(copyPath), nil); err != nil {
		t.Fatal(err)
	}

	cp, err := Open(ctx, copyPath, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close(ctx)

	other, _ := newRepo(t)

	for _, c := range []struct {
		name string
		r    *Repository
		same bool
	}{{"reopened", again, true}, {"a copy", cp, true}, {"another repository", other, false}} {
		k, err := c.r.AuditKey()
		if err != nil {
			t.Fatal(err)
		}

		if bytes.Equal(k, k1) != c.same {
			t.Errorf("%s: same key %v, want %v", c.name, !c.same, c.same)
		}
	}
}
