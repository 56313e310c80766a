package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestKitStale: a recovery kit made before `key change-password` is flagged
// by status (human and --json) and the compliance report with the date of
// the change, and its escrow drill fails with the same message without
// touching the repository; a new kit clears it; moving a copy makes the
// new kit stale in turn (status at once, the drill once the repository
// keeps the new configuration); after a rekey the kit is stale again, and
// its drill says so.
func TestKitStale(t *testing.T) {
	data := filepath.Join(t.TempDir(), "docs")
	write(t, filepath.Join(data, "a.txt"), "a\n")

	near := filepath.Join(t.TempDir(), "near")
	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+data+"]\n")
	withCopy := readFile(t, e.cfg) + "copies:\n  near:\n    path: " + near + "\n"
	e.writeConfig(withCopy)
	e.mustRun("init")
	e.mustRun("backup", "docs")

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(t.TempDir(), "escrow.key")
	write(t, keyFile, id.String()+"\n")

	kit := func() string {
		dir := filepath.Join(t.TempDir(), "kit")
		e.mustRun("key", "kit", "--out", dir, "--recipient", id.Recipient().String())

		return filepath.Join(dir, "kit.txt")
	}

	fresh := func(when string) {
		t.Helper()

		if r := e.run("status"); strings.Contains(r.out+r.err, "recovery kit is stale") {
			t.Fatalf("%s, status flags the kit:\n%s%s", when, r.out, r.err)
		}

		if r := e.run("status", "--json"); strings.Contains(r.out, "recovery_kit_stale") {
			t.Fatalf("%s, status --json flags the kit:\n%s", when, r.out)
		}
	}

	stale := func(want string) {
		t.Helper()

		if r := e.run("status"); !strings.Contains(r.out, "recovery kit: PROBLEM: "+want) {
			t.Fatalf("status does not say %q:\n%s%s", want, r.out, r.err)
		}

		var st []map[string]any
		if r := e.run("status", "--json"); json.Unmarshal([]byte(r.out), &st) != nil || len(st) != 1 || !strings.HasPrefix(st[0]["recovery_kit_stale"].(string), want) {
			t.Fatalf("status --json does not say %q:\n%s", want, r.out)
		}

		if out := e.mustRun("report"); !strings.Contains(out, want) {
			t.Fatalf("the report does not say %q:\n%s", want, out)
		}
	}

	first := kit()
	fresh("right after the kit")

	// The password changes: the kit's sealed password no longer opens it.
	e.vars["NEW_PW"] = "n3w-pass-word-5d8e"
	e.mustRun("key", "change-password", "--new-password-env", "NEW_PW")
	e.vars[EnvPassword] = e.vars["NEW_PW"]

	const changed = "recovery kit is stale: made before the password change of 20"

	stale(changed)

	r := e.run("status")
	if !strings.Contains(r.out, "; run lifeboat key kit and hand out the new page") {
		t.Fatalf("status does not say what to do:\n%s", r.out)
	}

	home := t.TempDir()
	before := e.repoFiles()

	r = bareRun(t, home, "key", "escrow-drill", "--kit", first, "--identity", keyFile, "--target", t.TempDir())
	if r.code != ExitWrongPassword || !strings.Contains(r.err, "escrow drill FAILED: "+changed) || !strings.Contains(r.err, "; run lifeboat key kit and hand out the new page") {
		t.Fatalf("the drill of a stale kit: exit %d\n%s%s", r.code, r.out, r.err)
	}

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("the refused drill changed the repository")
	}

	// A new kit serves again, and its drill passes.
	second := kit()
	fresh("after a new kit")

	if r := bareRun(t, home, "key", "escrow-drill", "--kit", second, "--identity", keyFile, "--target", t.TempDir()); r.code != 0 {
		t.Fatalf("the drill of the new kit: exit %d\n%s", r.code, r.err)
	}

	// The copy moves: the kit sends its holders to the old place. Once a
	// backup kept the new configuration in the repository, the drill sees
	// it too.
	const moved = "recovery kit is stale: made before the change of the repository's location or copies"

	e.writeConfig(strings.Replace(withCopy, near, near+"-moved", 1))
	stale(moved)
	e.mustRun("backup", "docs")

	if r := bareRun(t, home, "key", "escrow-drill", "--kit", second, "--identity", keyFile, "--target", t.TempDir()); r.code == 0 || !strings.Contains(r.err, "escrow drill FAILED: "+moved) {
		t.Fatalf("the drill of a kit naming a moved copy: exit %d\n%s", r.code, r.err)
	}

	// A rekey: a new key and password; the kit made before it is stale,
	// and its drill says so.
	e.writeConfig(withCopy)
	fresh("with the copy back where the kit says")

	e.vars["NEW_PW"] = "r3keyed-pass-word-77a1"
	e.mustRun("key", "rekey", "--new-password-env", "NEW_PW")
	e.vars[EnvPassword] = e.vars["NEW_PW"]
	stale("recovery kit is stale: made before the rekey of 20")

	r = bareRun(t, home, "key", "escrow-drill", "--kit", second, "--identity", keyFile)
	if r.code == 0 || !strings.Contains(r.err, "escrow drill FAILED: recovery kit is stale: made before the") {
		t.Fatalf("the drill of a kit made before the rekey: exit %d\n%s", r.code, r.err)
	}

	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Fatalf("the drills wrote into HOME: %v", entries)
	}
}
