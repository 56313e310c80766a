package cli

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"lifeboat/internal/testenv"
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

	if out := e.run("status", "--wide").out; !strings.Contains(out, "3/2/0 (not 3-2-1)") || !strings.Contains(out, "removable disk") {
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

	testenv.CorruptPacks(t, filepath.Join(e.dir, "repo"))

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

// TestDatabaseRestoreFromCopy: a database restore that meets corrupt dump
// data in the repository loads the same snapshot from a copy instead, over
// what the failed attempt loaded, says so and heals the repository; the
// restored rows are the backup's.
func TestDatabaseRestoreFromCopy(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE sml_library;
		CREATE TABLE sml_library.users (id INT PRIMARY KEY, email VARCHAR(100));
		CREATE TABLE sml_library.bookings (id INT PRIMARY KEY, user_id INT, note VARCHAR(200));`)

	var rows strings.Builder
	for i := 1; i <= 3000; i++ {
		if i > 1 {
			rows.WriteString(",")
		}

		fmt.Fprintf(&rows, "(%d, %d, '%x')", i, i%50, sha256.Sum256([]byte(strconv.Itoa(i))))
	}

	var users strings.Builder
	for i := 1; i <= 50; i++ {
		if i > 1 {
			users.WriteString(",")
		}

		fmt.Fprintf(&users, "(%d, 'u%d@example.org')", i, i)
	}

	db.Exec(t, "INSERT INTO sml_library.users VALUES "+users.String()+";"+
		"INSERT INTO sml_library.bookings VALUES "+rows.String())

	near := filepath.Join(t.TempDir(), "near")
	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [sml_library]\n")
	e.writeConfig(readFile(t, e.cfg) + "copies:\n  near:\n    path: " + near + "\n")
	e.mustRun("init")
	e.mustRun("backup", "db")
	e.mustRun("replicate")

	testenv.CorruptPacks(t, filepath.Join(e.dir, "repo"))

	r := e.run("restore", "db", "--target-database", "sml_copy")
	if r.code != 0 || !strings.Contains(r.err, "restoring snapshot") || !strings.Contains(r.err, "from copy near") ||
		!strings.Contains(r.out, "restored from copy near") || !strings.Contains(r.out, "healed the repository from copy near") ||
		!strings.Contains(r.out, "checksums of 2 tables match") {
		t.Fatalf("database restore with corrupt data: exit %d\n%s\n%s", r.code, r.out, r.err)
	}

	conn := db.DB(t, "")

	for _, table := range []string{"users", "bookings"} {
		var want, got string
		if err := conn.QueryRow("CHECKSUM TABLE sml_library."+table).Scan(new(string), &want); err != nil {
			t.Fatal(err)
		}

		if err := conn.QueryRow("CHECKSUM TABLE sml_copy."+table).Scan(new(string), &got); err != nil {
			t.Fatal(err)
		}

		if want != got {
			t.Fatalf("%s: checksum %s, want %s", table, got, want)
		}
	}

	// Healed: the repository gives the snapshot back by itself now.
	e.mustRun("verify", "db")
	e.mustRun("restore", "db", "--target-database", "sml_again")
}
