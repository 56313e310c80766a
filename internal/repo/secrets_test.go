package repo

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kopia/kopia/repo/blob/throttling"

	"lifeboat/internal/testenv"
)

// TestS3KeysNeverOnDisk: while an S3 repository is open (and written, with
// its upload cap switched on and off, which makes kopia rewrite its
// connection file) and after it is closed, no file under the temporary,
// cache, configuration or home folders holds the access or the secret key.
// The connection still works: a backup restores.
func TestS3KeysNeverOnDisk(t *testing.T) {
	defer func(d time.Duration) { uploadHoursTick = d }(uploadHoursTick)
	uploadHoursTick = 20 * time.Millisecond

	hours := &switchHours{}
	hours.on.Store(true)

	where := newS3Repo(t, func(o *S3) { o.UploadBytesPerSecond, o.UploadHours = 50e6, hours })

	// Everything a process keeps locally goes under one folder to scan.
	local := t.TempDir()
	for _, v := range []string{"TMPDIR", "HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"} {
		dir := filepath.Join(local, v)
		os.MkdirAll(dir, 0o700)
		t.Setenv(v, dir)
	}

	secrets := [][]byte{[]byte(where.S3.SecretKey), []byte(where.S3.AccessKey)}

	scan := func(when string) int {
		t.Helper()

		files := 0

		filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}

			files++

			b, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("%s: read %s: %v", when, p, err)
				return nil
			}

			for _, s := range secrets {
				if bytes.Contains(b, s) {
					t.Errorf("%s: %s holds an S3 key:\n%s", when, p, b)
				}
			}

			return nil
		})

		return files
	}

	ctx := context.Background()

	r, err := OpenAt(ctx, where, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}

	if n := scan("just opened"); n == 0 {
		t.Fatal("no connection file was found to scan: the test no longer looks where kopia writes")
	}

	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello"), 0o644)

	snap, err := r.BackupTree(ctx, TreeSpec{Source: "s", Kind: "files", Type: TypeFull, Roots: []string{src}})
	if err != nil {
		t.Fatal(err)
	}

	// Out of the upload hours: kopia records the new cap in the file.
	hours.on.Store(false)

	th := r.rep.(interface {
		Throttler() throttling.SettableThrottler
	}).Throttler()

	testenv.Eventually(t, 10*time.Second, func() bool { return th.Limits().UploadBytesPerSecond == 0 }, "the upload cap to end with the hours")

	target := t.TempDir()
	if _, err := r.Restore(ctx, snap.ID, target, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}

	scan("while open")
	r.Close(ctx)
	scan("after close")
}
