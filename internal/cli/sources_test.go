package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// fingerprint describes a tree as a restore must give it back: every entry's
// type, mode, owner, mtime, size and content hash, or its link target.
func fingerprint(t *testing.T, root string) map[string]string {
	t.Helper()

	out := map[string]string{}

	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}

		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}

		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%s uid=%d gid=%d", fi.Mode(), st.Uid, st.Gid)

		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.IsDir():
			// kopia records a directory's time as its newest entry's, so
			// directory mtimes are not compared (file mtimes are, exactly).
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}

			sum := sha256.Sum256(b)
			desc += fmt.Sprintf(" size=%d mtime=%s sha=%s", fi.Size(), fi.ModTime().UTC().Format(time.RFC3339Nano), hex.EncodeToString(sum[:8]))
		}

		out[rel] = desc

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	return out
}

func diffPrints(t *testing.T, what string, want, got map[string]string) {
	t.Helper()

	var keys []string
	for k := range want {
		keys = append(keys, k)
	}

	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}

	sort.Strings(keys)

	bad := 0

	for _, k := range keys {
		if want[k] != got[k] {
			bad++
			t.Errorf("%s: %s\n  want %q\n  got  %q", what, k, want[k], got[k])
		}
	}

	if bad > 0 {
		t.FailNow()
	}
}

// makeUploads lays out a tree with everything a files backup must keep.
func makeUploads(t *testing.T, root string) {
	t.Helper()

	write(t, filepath.Join(root, "covers", "book-1.jpg"), strings.Repeat("jpeg", 5000))
	write(t, filepath.Join(root, "covers", "book-2.jpg"), strings.Repeat("JPEG", 7000))
	write(t, filepath.Join(root, "docs", "rules.pdf"), "rules v1")
	write(t, filepath.Join(root, "docs", "draft.tmp"), "excluded by glob")
	write(t, filepath.Join(root, "cache", "thumb.bin"), "excluded dir")
	write(t, filepath.Join(root, "secret.env"), "mode 0600")
	os.Chmod(filepath.Join(root, "secret.env"), 0o600)
	os.Chmod(filepath.Join(root, "docs"), 0o750)
	os.MkdirAll(filepath.Join(root, "empty", "nested-empty"), 0o755)
	os.Symlink("covers/book-1.jpg", filepath.Join(root, "latest-cover"))
	os.Symlink("/nonexistent/target", filepath.Join(root, "dangling"))

	if os.Geteuid() == 0 {
		os.Lchown(filepath.Join(root, "covers", "book-2.jpg"), 1234, 5678)
		os.Lchown(filepath.Join(root, "latest-cover"), 33, 33)
	}

	old := time.Date(2021, 3, 4, 5, 6, 7, 890000000, time.UTC)
	os.Chtimes(filepath.Join(root, "docs", "rules.pdf"), old, old)
	os.Chtimes(filepath.Join(root, "empty", "nested-empty"), old, old)
}

func withoutExcluded(p map[string]string) map[string]string {
	out := map[string]string{}

	for k, v := range p {
		if strings.HasSuffix(k, ".tmp") || k == "cache" || strings.HasPrefix(k, "cache/") {
			continue
		}

		out[k] = v
	}

	return out
}

func TestFilesFullIncrementalDifferential(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n    exclude: [\"*.tmp\", \"cache/\"]\n")
	e.mustRun("init")

	var states []map[string]string

	backup := func(typ string) {
		states = append(states, withoutExcluded(fingerprint(t, data)))
		e.mustRun("backup", "uploads", "--type", typ)
	}

	backup("full")

	// Day 2: one changed, one new, one deleted.
	write(t, filepath.Join(data, "docs", "rules.pdf"), "rules v2, longer")
	write(t, filepath.Join(data, "covers", "book-3.jpg"), "new cover")
	os.Remove(filepath.Join(data, "covers", "book-2.jpg"))
	backup("incremental")

	// Day 3: another change; a differential reads everything changed since the full.
	write(t, filepath.Join(data, "covers", "book-4.jpg"), "another new cover")
	backup("differential")

	snaps := e.snapshots("uploads")
	if len(snaps) != 3 {
		t.Fatalf("want 3 snapshots, got %d", len(snaps))
	}

	full, inc, diff := snaps[0], snaps[1], snaps[2]
	if full.Type != "full" || inc.Type != "incremental" || diff.Type != "differential" {
		t.Fatalf("types: %s %s %s", full.Type, inc.Type, diff.Type)
	}

	if inc.Base != full.ID || diff.Base != full.ID {
		t.Fatalf("bases: incremental %q differential %q, full %q", inc.Base, diff.Base, full.ID)
	}

	// Full reads everything; the incremental reads only the 2 changed files;
	// the differential reads the 3 files changed since the full.
	if full.ReadFiles != full.Files || full.ReusedFiles != 0 {
		t.Errorf("full read %d of %d files, reused %d", full.ReadFiles, full.Files, full.ReusedFiles)
	}

	// ReusedFiles also counts the two symlinks.
	if inc.ReadFiles != 2 || inc.ReusedFiles < inc.Files-2 {
		t.Errorf("incremental read %d files, reused %d (of %d)", inc.ReadFiles, inc.ReusedFiles, inc.Files)
	}

	if diff.ReadFiles != 3 {
		t.Errorf("differential read %d files, want 3", diff.ReadFiles)
	}

	for i, s := range snaps {
		if s.Digest == "" || !strings.HasPrefix(s.Digest, "sha256:") || s.Host == "" || s.Version == "" || s.End.Before(s.Time) {
			t.Errorf("snapshot %d lacks labels: %+v", i, s)
		}

		target := filepath.Join(t.TempDir(), "restore")
		e.mustRun("restore", "uploads", "--snapshot", s.ID, "--target", target)
		diffPrints(t, fmt.Sprintf("snapshot %d (%s)", i, s.Type), states[i], fingerprint(t, target))
	}

	ls := e.mustRun("ls", "uploads", "--snapshot", full.ID[:8], "docs")
	if !strings.Contains(ls, "docs/rules.pdf") || strings.Contains(ls, "draft.tmp") || strings.Contains(ls, "covers") {
		t.Fatalf("ls docs: %s", ls)
	}

	e.mustRun("verify", "uploads")
}

func TestFilesMultiplePathsAndInclude(t *testing.T) {
	base := t.TempDir()
	write(t, filepath.Join(base, "etc", "nginx", "nginx.conf"), "server {}")
	write(t, filepath.Join(base, "etc", "nginx", "sites", "library.conf"), "location / {}")
	write(t, filepath.Join(base, "etc", "nginx", "nginx.conf.bak"), "old")
	write(t, filepath.Join(base, "opt", "app", ".env"), "DB_PASSWORD=x")
	write(t, filepath.Join(base, "opt", "app", "other"), "not listed")

	e := newEnv(t, fmt.Sprintf("  config:\n    type: files\n    paths: [%s, %s]\n    include: [\"*.conf\", \".env\"]\n",
		filepath.Join(base, "etc", "nginx"), filepath.Join(base, "opt", "app", ".env")))
	e.mustRun("init")
	e.mustRun("backup")

	target := t.TempDir() + "/out"
	e.mustRun("restore", "config", "--target", target)

	got := fingerprint(t, filepath.Join(target, base))
	for _, want := range []string{"etc/nginx/nginx.conf", "etc/nginx/sites/library.conf", "opt/app/.env"} {
		if _, ok := got[want]; !ok {
			t.Errorf("missing %s in restore: %v", want, got)
		}
	}

	for _, not := range []string{"etc/nginx/nginx.conf.bak", "opt/app/other"} {
		if _, ok := got[not]; ok {
			t.Errorf("%s should not be backed up", not)
		}
	}

	// Intermediate directories keep their real modes.
	fi, _ := os.Stat(filepath.Join(target, base, "etc"))
	src, _ := os.Stat(filepath.Join(base, "etc"))

	if fi.Mode() != src.Mode() {
		t.Errorf("intermediate dir mode %v, want %v", fi.Mode(), src.Mode())
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()

	return testenv.Git(t, dir, args...)
}

func TestGitBundleRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is not installed: apt-get install -y git (make test installs it)")
	}

	app := filepath.Join(t.TempDir(), "sml-library")
	os.MkdirAll(app, 0o755)
	git(t, app, "init", "-q", "-b", "main")
	write(t, filepath.Join(app, "index.js"), "console.log('v1')\n")
	git(t, app, "add", "-A")
	git(t, app, "commit", "-qm", "v1")
	git(t, app, "tag", "-a", "v1.0", "-m", "release 1.0")
	git(t, app, "checkout", "-qb", "feature/waitlist")
	write(t, filepath.Join(app, "waitlist.js"), "// waitlist\n")
	git(t, app, "add", "-A")
	git(t, app, "commit", "-qm", "waitlist")
	git(t, app, "tag", "light")

	e := newEnv(t, "  code:\n    type: git\n    path: "+app+"\n")
	e.mustRun("init")
	e.mustRun("backup", "code")

	refs := git(t, app, "for-each-ref", "--format=%(refname) %(objectname)")
	head := git(t, app, "symbolic-ref", "HEAD")

	// Later work, then an incremental: each snapshot restores its own state.
	git(t, app, "checkout", "-q", "main")
	write(t, filepath.Join(app, "index.js"), "console.log('v2')\n")
	git(t, app, "commit", "-qam", "v2")
	e.mustRun("backup", "code", "--type", "incremental")

	snaps := e.snapshots("code")
	if len(snaps) != 2 || snaps[0].Kind != "git" {
		t.Fatalf("snapshots: %+v", snaps)
	}

	target := filepath.Join(t.TempDir(), "restored")
	e.mustRun("restore", "code", "--snapshot", snaps[0].ID, "--target", target)

	if got := git(t, target, "for-each-ref", "--format=%(refname) %(objectname)"); got != refs {
		t.Fatalf("refs differ:\nwant %s\ngot  %s", refs, got)
	}

	if got := git(t, target, "symbolic-ref", "HEAD"); got != head {
		t.Fatalf("HEAD %s, want %s", got, head)
	}

	if got := git(t, target, "status", "--porcelain"); got != "" {
		t.Fatalf("restored work tree is not clean: %s", got)
	}

	if b, _ := os.ReadFile(filepath.Join(target, "waitlist.js")); string(b) != "// waitlist\n" {
		t.Fatalf("work tree not checked out: %q", b)
	}

	git(t, target, "fsck", "--strict")

	latest := filepath.Join(t.TempDir(), "latest")
	e.mustRun("restore", "code", "--target", latest)

	if got := git(t, latest, "log", "-1", "--format=%s", "main"); got != "v2" {
		t.Fatalf("latest snapshot main is at %q", got)
	}

	// A folder that is not a repository fails with a clear message.
	notRepo := t.TempDir()
	e.writeConfig("repository:\n  path: " + filepath.Join(e.dir, "repo") + "\nsources:\n  code: {type: git, path: " + notRepo + "}\n")
	e.expectFailure(1, []string{"is not a git repository", notRepo}, "backup")
}
