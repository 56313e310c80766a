package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"lifeboat/internal/testenv"
)

// TestRekeyS3: a repository in a bucket is rekeyed beside itself; the rekey
// is killed (SIGKILL) mid-copy and again just before the switch, and
// resumes; afterwards the configured location opens the new repository,
// every snapshot restores as it did before, the old password is refused
// there; a second rekey to a named prefix moves the pointer on, --retire
// deletes both replaced repositories but not the pointer, and a damaged
// pointer is named. Places a new repository cannot go are refused first.
func TestRekeyS3(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "lifeboat")

	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	e := s3Env(t, srv, "lifeboat", "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "uploads")
	write(t, filepath.Join(data, "second.txt"), strings.Repeat("second ", 3000))
	e.mustRun("backup", "uploads")

	// What each snapshot restores before the rekey.
	var before []map[string]int64

	for _, sn := range e.snapshots("uploads") {
		got := filepath.Join(t.TempDir(), "before")
		e.mustRun("restore", "uploads", "--snapshot", sn.ID, "--target", got)
		before = append(before, treeOf(t, got))
	}

	const newPW = "rekeyed-s3-pass-51d2"
	e.vars["NEW_PW"] = newPW

	// Places the new repository cannot go: refused before anything is made.
	e.expectFailure(ExitUsage, []string{"overlaps the repository"}, "key", "rekey", "--new-password-env", "NEW_PW", "--to", "s3://lifeboat/sml/inner")
	e.expectFailure(ExitUsage, []string{"goes to s3://BUCKET/PREFIX"}, "key", "rekey", "--new-password-env", "NEW_PW", "--to", filepath.Join(t.TempDir(), "folder"))

	if n := len(objectsUnder(t, srv, "lifeboat", "sml.")); n != 0 {
		t.Fatalf("a refused rekey wrote %d objects", n)
	}

	e.startAsMain(map[string]string{envKillAt: "copied 1"}, "key", "rekey", "--new-password-env", "NEW_PW").killed(t)

	staged := objectsUnder(t, srv, "lifeboat", "sml.rekey-")
	if len(staged) == 0 {
		t.Fatal("the killed rekey left no new repository beside the old one")
	}

	e.startAsMain(map[string]string{envKillAt: "switching"}, "key", "rekey", "--new-password-env", "NEW_PW").killed(t)

	// Not switched yet: the old password still opens the configured place.
	if n := len(e.snapshots("uploads")); n != 2 {
		t.Fatalf("before the switch the repository holds %d snapshots", n)
	}

	out := e.mustRun("key", "rekey", "--new-password-env", "NEW_PW")
	if !strings.Contains(out, "now opens the new repository at s3://lifeboat/sml.rekey-") || !strings.Contains(out, "already there from an earlier run") {
		t.Fatalf("resumed rekey:\n%s", out)
	}

	e.expectFailure(ExitWrongPassword, []string{"wrong password"}, "snapshots")
	e.vars[EnvPassword] = newPW

	snaps := e.snapshots("uploads")
	if len(snaps) != len(before) {
		t.Fatalf("the new repository holds %d snapshots, want %d", len(snaps), len(before))
	}

	for i, sn := range snaps {
		got := filepath.Join(t.TempDir(), "after")
		e.mustRun("restore", "uploads", "--snapshot", sn.ID, "--target", got)

		if !sameMap(treeOf(t, got), before[i]) {
			t.Fatalf("snapshot %d restores differently from the new repository", i)
		}
	}

	// A backup after the switch goes into the new repository.
	write(t, filepath.Join(data, "after.txt"), "written after the rekey")
	e.mustRun("backup", "uploads")

	if n := len(objectsUnder(t, srv, "lifeboat", "sml/")); n < 3 {
		t.Fatalf("the old repository holds %d objects before --retire", n)
	}

	// A second rekey, to a place the user names: the pointer follows.
	const thirdPW = "rekeyed-again-pass-77c3"
	e.vars["THIRD_PW"] = thirdPW

	if out := e.mustRun("key", "rekey", "--new-password-env", "THIRD_PW", "--to", "s3://lifeboat/rotated"); !strings.Contains(out, "now opens the new repository at s3://lifeboat/rotated") {
		t.Fatalf("rekey --to:\n%s", out)
	}

	e.vars[EnvPassword] = thirdPW

	out = e.mustRun("key", "rekey", "--retire")
	if strings.Count(out, "deleted the retired repository") != 2 || !strings.Contains(out, "s3://lifeboat/sml.rekey-") {
		t.Fatalf("retire:\n%s", out)
	}

	if left := objectsUnder(t, srv, "lifeboat", "sml/"); len(left) != 1 || left[0] != "sml/lifeboat.rekeyed" {
		t.Fatalf("after --retire the old prefix holds %v, want only the pointer to the new repository", left)
	}

	if left := objectsUnder(t, srv, "lifeboat", "sml.rekey-"); len(left) != 0 {
		t.Fatalf("after --retire the first new repository still holds %d objects", len(left))
	}

	if n := len(e.snapshots("uploads")); n != 3 {
		t.Fatalf("after --retire the repository holds %d snapshots, want 3", n)
	}

	for _, old := range []string{testPassword, newPW} {
		e.vars[EnvPassword] = old
		e.expectFailure(ExitWrongPassword, []string{"wrong password"}, "snapshots")
	}

	e.vars[EnvPassword] = thirdPW
	e.expectFailure(ExitUsage, []string{"no retired repository"}, "key", "rekey", "--retire")

	// A damaged pointer is named, not followed.
	cli, _ := srv.Client()
	if _, err := cli.PutObject(t.Context(), "lifeboat", "sml/lifeboat.rekeyed", strings.NewReader("{not json"), 9, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	e.expectFailure(1, []string{"lifeboat.rekeyed of s3://lifeboat/sml", "is damaged"}, "snapshots")
}

// objectsUnder lists the bucket's object keys that begin with prefix.
func objectsUnder(t *testing.T, srv *testenv.S3, bucket, prefix string) []string {
	t.Helper()

	cli, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}

	var keys []string

	for obj := range cli.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}

		keys = append(keys, obj.Key)
	}

	return keys
}
