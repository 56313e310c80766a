package repo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/fs/virtualfs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/policy"
	"github.com/kopia/kopia/snapshot/upload"

	"lifeboat/internal/testenv"
)

var testPW = Password{Value: "correct horse battery staple", Origin: "test"}

func newRepo(t *testing.T) (*Repository, string) {
	t.Helper()

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "repo")

	if err := Create(ctx, path, testPW); err != nil {
		t.Fatalf("create: %v", err)
	}

	r, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}

	t.Cleanup(func() { r.Close(ctx) })

	return r, path
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestNoPlaintextInRepository(t *testing.T) {
	ctx := context.Background()
	r, path := newRepo(t)
	src := t.TempDir()
	marker := "LIFEBOAT-PLAINTEXT-MARKER-7f3a9c"

	writeFile(t, filepath.Join(src, "secret.txt"), strings.Repeat(marker+"\n", 1000))
	writeFile(t, filepath.Join(src, marker+".txt"), "name is the marker")

	if _, err := r.BackupTree(ctx, TreeSpec{Source: "s", Kind: "files", Type: TypeFull, Roots: []string{src}}); err != nil {
		t.Fatal(err)
	}

	r.Close(ctx)

	found := 0
	files := 0

	err := filepath.Walk(path, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}

		files++

		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}

		if bytes.Contains(b, []byte(marker)) || strings.Contains(p, marker) {
			found++
			t.Errorf("marker found in plaintext in %s", p)
		}

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	if files < 3 || found != 0 {
		t.Fatalf("scanned %d repository files, %d with the marker", files, found)
	}
}

func TestWrongPassword(t *testing.T) {
	ctx := context.Background()
	_, path := newRepo(t)

	_, err := Open(ctx, path, Password{Value: "nope", Origin: "LIFEBOAT_PASSWORD"}, nil)
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("want ErrWrongPassword, got %v", err)
	}

	if strings.Contains(err.Error(), "nope") || !strings.Contains(err.Error(), "LIFEBOAT_PASSWORD") {
		t.Fatalf("message must name the origin and never the password: %v", err)
	}
}

func TestRestoreRefusesEscapingNames(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t)

	// A crafted snapshot whose entries try to leave the target.
	for _, evil := range []string{"..", "../escaped.txt", "a/../../escaped.txt"} {
		t.Run(evil, func(t *testing.T) {
			var id string

			err := repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{}, func(ctx context.Context, w repo.RepositoryWriter) error {
				root := virtualfs.NewStaticDirectory("root", []fs.Entry{
					virtualfs.StreamingFileFromReader("good.txt", ioNop("fine")),
					virtualfs.NewStaticDirectory("sub", []fs.Entry{
						virtualfs.StreamingFileFromReader(evil, ioNop("escaped")),
					}),
				})

				man, err := upload.NewUploader(w).Upload(ctx, root, policy.BuildTree(nil, policy.DefaultPolicy), sourceInfo("evil"))
				if err != nil {
					return err
				}

				s := &Snapshot{Source: "evil", Kind: "files", Type: TypeFull, Role: RoleBackup}
				man.Tags = s.labels()
				mid, err := snapshot.SaveSnapshot(ctx, w, man)
				id = string(mid)

				return err
			})
			if err != nil {
				t.Fatal(err)
			}

			parent := t.TempDir()
			target := filepath.Join(parent, "target")

			_, err = r.Restore(ctx, id, target, RestoreOptions{})
			if !IsUnsafePath(err) {
				t.Fatalf("want unsafe path error, got %v", err)
			}

			if !strings.Contains(err.Error(), "refusing") {
				t.Fatalf("message should say it refuses: %v", err)
			}

			if _, err := os.Stat(target); !os.IsNotExist(err) {
				t.Fatalf("target was created although the restore was refused")
			}

			ents, _ := os.ReadDir(parent)
			if len(ents) != 0 {
				t.Fatalf("something was written next to the target: %v", ents)
			}
		})
	}
}

func TestVerifyDetectsCorruption(t *testing.T) {
	ctx := context.Background()
	r, path := newRepo(t)
	src := t.TempDir()

	for i := 0; i < 5; i++ {
		writeFile(t, filepath.Join(src, "f", string(rune('a'+i))), strings.Repeat("data", 10000+i))
	}

	s, err := r.BackupTree(ctx, TreeSpec{Source: "s", Kind: "files", Type: TypeFull, Roots: []string{src}})
	if err != nil {
		t.Fatal(err)
	}

	res, err := r.Verify(ctx, []*Snapshot{s}, nil)
	if err != nil || !res.OK() || res.Files != 5 {
		t.Fatalf("clean verify: %+v %v", res, err)
	}

	r.Close(ctx)

	testenv.CorruptPacks(t, path)

	r2, err := Open(ctx, path, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close(ctx)

	res, err = r2.Verify(ctx, []*Snapshot{s}, nil)
	if err == nil && res.OK() {
		t.Fatalf("verify passed on a corrupted repository: %+v", res)
	}
}

type nopReader struct{ *strings.Reader }

func (nopReader) Close() error { return nil }

func ioNop(s string) nopReader { return nopReader{strings.NewReader(s)} }
