package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCopiesReplicateAndFallback: replicate brings a copy up to date and
// verifies it; an offline copy absent during three backups is brought up to
// date by one replicate when attached; restore reads a copy with --from, falls
// back to one when the repository is gone, and heals the repository from one
// when its data is corrupt.
func TestCopiesReplicateAndFallback(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	vault := filepath.Join(t.TempDir(), "vault-disk", "lifeboat")
	near := filepath.Join(t.TempDir(), "near")

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.writeConfig(readFile(t, e.cfg) + "copies:\n  near:\n    path: " + near + "\n  vault:\n    path: " + vault + "\n    offline: true\n")
	e.mustRun("config", "check")
	e.mustRun("init")
	e.mustRun("backup", "uploads")

	out := e.mustRun("replicate")
	if !regexp.MustCompile(`copy near \(.*\): [1-9]\d* blobs .* copied and read back, 0 already there`).MatchString(out) || !strings.Contains(out, "it opens and holds every snapshot") {
		t.Fatalf("first replicate:\n%s", out)
	}

	if !strings.Contains(out, "offline copy vault is not attached") || !strings.Contains(out, "last brought up to date: never") {
		t.Fatalf("the absent offline copy is not reported:\n%s", out)
	}

	// A second run copies only what is new.
	out = e.mustRun("replicate", "--to", "near")
	if m := regexp.MustCompile(`: (\d+) blobs .* (\d+) already there`).FindStringSubmatch(out); m == nil || m[2] == "0" {
		t.Fatalf("second replicate is not incremental:\n%s", out)
	}

	// Three backups while the vault disk is away, then it is attached.
	for i := 0; i < 3; i++ {
		write(t, filepath.Join(data, "new", "f"+string(rune('a'+i))), strings.Repeat("x", 1000*(i+1)))
		e.mustRun("backup", "uploads")
	}

	e.expectFailure(1, []string{"offline copy vault is not attached", "attach the disk"}, "replicate", "--to", "vault")

	os.MkdirAll(vault, 0o755)

	if out := e.mustRun("replicate", "--to", "vault"); !strings.Contains(out, "it opens and holds every snapshot") {
		t.Fatalf("vault replicate:\n%s", out)
	}

	if got, want := len(e.snapshotsFrom("vault")), len(e.snapshots("uploads")); got != want || want != 4 {
		t.Fatalf("the vault holds %d snapshots, the repository %d", got, want)
	}

	// 3-2-1 as status and the report see it: the repository, near and the
	// vault, on two media, none off site.
	var st []sourceStatus
	if err := json.Unmarshal([]byte(e.mustRun("status", "--json")), &st); err != nil || len(st) != 1 {
		t.Fatalf("status --json: %v", err)
	}

	if c := st[0].Copies; c.Copies != 3 || c.Media != 2 || c.Offsite != 0 || c.Meets || st[0].CopyRestorable["vault"].IsZero() {
		t.Fatalf("3-2-1 in status: %+v %v", c, st[0].CopyRestorable)
	}

	if out := e.run("status").out; !strings.Contains(out, "3/2/0 (not 3-2-1)") || !strings.Contains(out, "removable disk") {
		t.Fatalf("status:\n%s", out)
	}

	if rep := e.mustRun("report"); !strings.Contains(rep, "uploads: 3 copies on 2 media, 0 off site; 3-2-1 asks for 3, 2 and 1") {
		t.Fatalf("report:\n%s", rep)
	}

	target := filepath.Join(t.TempDir(), "from-vault")
	e.mustRun("--from", "vault", "restore", "uploads", "--target", target)
	diffPrints(t, "restore --from vault", fingerprint(t, data), fingerprint(t, target))

	e.expectFailure(2, []string{"--from reads a copy; backup writes the repository"}, "--from", "vault", "backup")
	e.expectFailure(2, []string{`unknown copy "nosuch"`, "defines near, vault"}, "--from", "nosuch", "snapshots")

	// Corrupt data in the repository: the restore is taken from a copy, says
	// so, and the repository is healed from it.
	e.mustRun("replicate", "--to", "near")

	packs, _ := filepath.Glob(filepath.Join(e.dir, "repo", "p*", "*", "*.f"))
	if len(packs) == 0 {
		t.Fatal("no data packs found")
	}

	for _, p := range packs {
		b, _ := os.ReadFile(p)
		for i := 64; i < len(b); i += 97 {
			b[i] ^= 0x5a
		}

		os.WriteFile(p, b, 0o600)
	}

	e.expectFailure(1, []string{"problem:"}, "verify", "uploads")

	target = filepath.Join(t.TempDir(), "healed")
	r := e.run("restore", "uploads", "--target", target)

	if r.code != 0 || !strings.Contains(r.err, "restoring snapshot") || !strings.Contains(r.out, "restored from copy near") || !strings.Contains(r.out, "healed the repository from copy near") {
		t.Fatalf("restore with corrupt data: exit %d\n%s\n%s", r.code, r.out, r.err)
	}

	diffPrints(t, "restore healed from a copy", fingerprint(t, data), fingerprint(t, target))
	e.mustRun("verify", "uploads")

	// The repository gone altogether: the restore reads a copy and says so.
	os.Rename(filepath.Join(e.dir, "repo"), filepath.Join(e.dir, "repo.gone"))

	target = filepath.Join(t.TempDir(), "primary-gone")
	r = e.run("restore", "uploads", "--target", target)

	if r.code != 0 || !strings.Contains(r.err, "reading from copy near") {
		t.Fatalf("restore with the repository gone: exit %d\n%s\n%s", r.code, r.out, r.err)
	}

	diffPrints(t, "restore from a copy with the repository gone", fingerprint(t, data), fingerprint(t, target))

	// export-repo writes a repository that opens on its own.
	os.Rename(filepath.Join(e.dir, "repo.gone"), filepath.Join(e.dir, "repo"))

	usb := filepath.Join(t.TempDir(), "usb")
	e.mustRun("export-repo", usb)

	e2 := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e2.writeConfig(strings.Replace(readFile(t, e2.cfg), filepath.Join(e2.dir, "repo"), usb, 1))

	if got := len(e2.snapshots("uploads")); got != 4 {
		t.Fatalf("the exported repository holds %d snapshots", got)
	}
}

func (e *env) snapshotsFrom(copyName string) []string {
	e.t.Helper()

	out := e.mustRun("--from", copyName, "snapshots", "--source", "uploads")

	var ids []string

	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			ids = append(ids, f[0])
		}
	}

	return ids
}
