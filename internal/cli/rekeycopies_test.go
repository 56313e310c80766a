package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"lifeboat/internal/testenv"
)

// TestRekeyCopies: after a rekey, status lists the copies still on the old
// key; the next replicate notices each copy holds the retired repository
// and re-seeds it from the new one (a folder copy moved aside and refilled
// in place, a copy in an Object Lock bucket beside the old, which is kept);
// the re-seeded copies restore with the new password and refuse the old one;
// a copy location holding an unrelated repository is refused untouched.
func TestRekeyCopies(t *testing.T) {
	srv := testenv.StartS3(t)

	cli, _ := srv.Client()
	if err := cli.MakeBucket(t.Context(), "offsite", minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		t.Fatal(err)
	}

	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	near := filepath.Join(t.TempDir(), "near")
	other := filepath.Join(t.TempDir(), "other")

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.writeConfig(readFile(t, e.cfg) + "copies:\n  near:\n    path: " + near + "\n" +
		"  offsite:\n    url: s3://offsite/lifeboat\n    endpoint: " + srv.Endpoint + "\n    tls: false\n    immutable_for: 1d\n" +
		"  other:\n    path: " + other + "\n")
	e.vars["AWS_ACCESS_KEY_ID"] = srv.AccessKey
	e.vars["AWS_SECRET_ACCESS_KEY"] = srv.SecretKey
	e.mustRun("init")
	e.mustRun("backup", "uploads")
	e.mustRun("replicate", "--to", "near")
	e.mustRun("replicate", "--to", "offsite")

	// "other" holds a repository of its own.
	o := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	o.writeConfig(strings.Replace(readFile(t, o.cfg), filepath.Join(o.dir, "repo"), other, 1))
	o.mustRun("init")

	const newPW = "rekeyed-copies-pass-0b7e"
	e.vars["NEW_PW"] = newPW
	e.mustRun("key", "rekey", "--new-password-env", "NEW_PW")
	e.vars[EnvPassword] = newPW

	if out := e.mustRun("status"); !strings.Contains(out, "still on the old key: near, offsite") {
		t.Fatalf("status after the rekey:\n%s", out)
	}

	oldObjects := len(objectsUnder(t, srv, "offsite", "lifeboat/"))

	// A dry run says what would happen and does nothing.
	out := e.mustRun("replicate", "--dry-run", "--to", "near") + e.mustRun("replicate", "--dry-run", "--to", "offsite")
	if !strings.Contains(out, "copy near holds the repository's retired key") || !strings.Contains(out, "would be moved aside") ||
		!strings.Contains(out, "would be re-seeded from the new repository at s3://offsite/lifeboat.rekey-") {
		t.Fatalf("replicate --dry-run after the rekey:\n%s", out)
	}

	if aside, _ := filepath.Glob(near + ".retired-*"); len(aside) != 0 || len(objectsUnder(t, srv, "offsite", "lifeboat.")) != 0 {
		t.Fatalf("the dry run changed a copy: %v", aside)
	}

	out = e.mustRun("replicate", "--to", "near")
	if !strings.Contains(out, "copy near held the repository's retired key") || !strings.Contains(out, "moved aside to "+near+".retired-") {
		t.Fatalf("replicate to the folder copy:\n%s", out)
	}

	aside, _ := filepath.Glob(near + ".retired-*")
	if len(aside) != 1 || !exists(filepath.Join(aside[0], "kopia.repository.f")) {
		t.Fatalf("the old folder copy is not kept: %v", aside)
	}

	out = e.mustRun("replicate", "--to", "offsite")
	if !strings.Contains(out, "copy offsite held the repository's retired key") || !strings.Contains(out, "locked (Object Lock)") ||
		!strings.Contains(out, "re-seeded from the new repository at s3://offsite/lifeboat.rekey-") {
		t.Fatalf("replicate to the bucket copy:\n%s", out)
	}

	if n := len(objectsUnder(t, srv, "offsite", "lifeboat/")); n != oldObjects+1 {
		t.Fatalf("the old bucket copy holds %d objects, want its %d and the pointer", n, oldObjects)
	}

	if out := e.mustRun("status"); strings.Contains(out, "still on the old key") {
		t.Fatalf("status after the copies were re-seeded:\n%s", out)
	}

	// Both copies restore alone with the new password; the old one fails.
	for _, name := range []string{"near", "offsite"} {
		target := filepath.Join(t.TempDir(), name)
		e.mustRun("--from", name, "restore", "uploads", "--target", target)
		diffPrints(t, "restore from the re-seeded copy "+name, fingerprint(t, data), fingerprint(t, target))

		e.vars[EnvPassword] = testPassword
		e.expectFailure(ExitWrongPassword, []string{"wrong password"}, "--from", name, "snapshots")
		e.vars[EnvPassword] = newPW
	}

	// The next replicate is an ordinary incremental one.
	if out := e.mustRun("replicate", "--to", "offsite"); strings.Contains(out, "retired key") || !strings.Contains(out, "already there") {
		t.Fatalf("second replicate after the re-seed:\n%s", out)
	}

	// A copy place holding an unrelated repository: refused, untouched.
	before := treeOf(t, other)
	e.expectFailure(1, []string{"copy other", "holds another repository", "nothing was written to it"}, "replicate", "--to", "other")

	if !sameMap(before, treeOf(t, other)) {
		t.Fatal("the refused replicate changed the unrelated repository")
	}

	if _, err := os.Stat(filepath.Join(other, "kopia.repository.f")); err != nil {
		t.Fatal(err)
	}
}
