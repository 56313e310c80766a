package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// machine is the environment of one computer: its HOME, XDG folders and
// working directory, and nothing else of this process's environment but PATH.
type machine struct {
	t    *testing.T
	root string
	vars []string
}

func newMachine(t *testing.T, root string, vars ...string) *machine {
	t.Helper()

	m := &machine{t: t, root: root}
	home := filepath.Join(root, "home")

	for _, d := range []string{home, filepath.Join(root, "config"), filepath.Join(root, "state"), filepath.Join(root, "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	m.vars = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + os.TempDir(),
		"XDG_CONFIG_HOME=" + filepath.Join(root, "config"), "XDG_STATE_HOME=" + filepath.Join(root, "state"),
		"XDG_CACHE_HOME=" + filepath.Join(root, "cache"),
	}, vars...)

	return m
}

func (m *machine) run(args ...string) (string, string, int) {
	m.t.Helper()

	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Dir = m.vars, filepath.Join(m.root, "home")

	return execute(m.t, cmd)
}

func (m *machine) mustRun(args ...string) string {
	m.t.Helper()

	out, errs, code := m.run(args...)
	if code != 0 {
		m.t.Fatalf("lifeboat %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}

	return out
}

// TestDisasterRecovery is the first principle, for real: a machine backs up
// a database (a full and its binlog), files and a git repository, and is
// lost with its configuration, state, cache and HOME. A new machine with the
// binary, the repository's location and the password lists everything,
// restores the files and the git repository byte for byte, recovers the
// database to an instant between two writes into a fresh server, and gets
// from the repository a configuration with which backups run again.
func TestDisasterRecovery(t *testing.T) {
	if _, err := os.Stat("/etc/lifeboat/lifeboat.yaml"); err == nil {
		t.Fatal("/etc/lifeboat/lifeboat.yaml exists: this test needs a machine without a system configuration (it plays one with none)")
	}

	const password = "disaster-test-passphrase"

	root := t.TempDir()
	repoDir := filepath.Join(root, "backup-disk", "lifeboat")
	site := filepath.Join(root, "site")
	uploads, app := filepath.Join(site, "uploads"), filepath.Join(site, "app")

	db := testenv.StartMariaDB(t)
	db.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(40)); "+
		"INSERT INTO shop.orders (item) VALUES ('before the full')")

	makeSite(t, uploads, app)

	// The old machine: its configuration in its own folder, the audit log
	// in its state folder.
	old := newMachine(t, filepath.Join(root, "old"), "LIFEBOAT_PASSWORD="+password)
	cfgFile := filepath.Join(old.root, "config", "lifeboat", "lifeboat.yaml")
	cfg := fmt.Sprintf(`repository:
  path: %s
audit:
  path: %s
sources:
  shop:
    type: mysql
    tier: critical
    socket: %s
    user: root
    databases: [shop]
  uploads:
    type: files
    paths: [%s]
  code:
    type: git
    path: %s
`, repoDir, filepath.Join(old.root, "state", "lifeboat", "audit.jsonl"), db.Socket, uploads, app)

	if err := os.MkdirAll(filepath.Dir(cfgFile), 0o700); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	old.mustRun("--config", cfgFile, "init")
	old.mustRun("--config", cfgFile, "backup")

	// Two writes with an instant between them, then an incremental backup
	// archives the binlog past the full. Event times have one-second
	// resolution, so the second write waits for the server's next second.
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('kept one'), ('kept two')")
	instant := time.Unix(serverSecond(t, db)+1, 0)
	waitServerSecond(t, db, instant.Unix())
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('after the instant'); DELETE FROM shop.orders WHERE item = 'kept one'")
	old.mustRun("--config", cfgFile, "backup", "shop", "--type", "incremental")

	wantUploads := tree(t, uploads)
	wantRefs := gitState(t, app)

	// The disaster: the machine is gone, with its data and its server.
	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}

	for _, d := range []string{old.root, site} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}

	// The new machine has the binary, the repository's location and the
	// password: nothing else.
	fresh := newMachine(t, filepath.Join(root, "new"), "LIFEBOAT_PASSWORD="+password, "LIFEBOAT_REPOSITORY="+repoDir)

	_, errs, code := fresh.run("snapshots")
	if code != 0 {
		t.Fatalf("snapshots from the repository alone: exit %d\n%s", code, errs)
	}

	snaps := fresh.mustRun("snapshots")
	for _, want := range []string{"shop", "uploads", "code", "incremental"} {
		if !strings.Contains(snaps, want) {
			t.Errorf("snapshots lacks %q:\n%s", want, snaps)
		}
	}

	if out := fresh.mustRun("binlog", "list", "shop"); !strings.Contains(out, "mysql-bin") {
		t.Errorf("binlog list shop shows no archive:\n%s", out)
	}

	if out := fresh.mustRun("points"); !strings.Contains(out, "shop") {
		t.Errorf("points:\n%s", out)
	}

	if out := fresh.mustRun("ls", "uploads", "covers"); !strings.Contains(out, "1.jpg") {
		t.Errorf("ls uploads covers:\n%s", out)
	}

	if out := fresh.mustRun("verify"); !strings.Contains(out, "OK") {
		t.Errorf("verify:\n%s", out)
	}

	if out := fresh.mustRun("report", "--format", "md"); !strings.Contains(out, "shop") || !strings.Contains(out, "critical") {
		t.Errorf("report lacks the database source and its tier:\n%s", out)
	}

	dump := filepath.Join(fresh.root, "home", "shop.sql.gz")
	fresh.mustRun("export", "shop", "-o", dump)

	if fi, err := os.Stat(dump); err != nil || fi.Size() == 0 {
		t.Errorf("export shop wrote nothing: %v", err)
	}

	// Files and git go back where they were, byte for byte.
	fresh.mustRun("restore", "uploads", "--target", uploads)
	fresh.mustRun("restore", "code", "--target", app)

	if got := tree(t, uploads); !equalTrees(t, wantUploads, got) {
		t.Errorf("the restored uploads differ from what was backed up")
	}

	if got := gitState(t, app); got != wantRefs {
		t.Errorf("the restored git repository differs:\n%s\nwant\n%s", got, wantRefs)
	}

	// The database, to the instant, into a fresh server named by flags.
	db2 := testenv.StartMariaDB(t)
	out := fresh.mustRun("restore", "shop", "--to-time", instant.Format(time.RFC3339Nano), "--mysql-socket", db2.Socket, "--mysql-user", "root")

	if !strings.Contains(out, "binlog") {
		t.Errorf("the recovery replayed no binlog:\n%s", out)
	}

	if got := items(t, db2); got != "before the full,kept one,kept two" {
		t.Errorf("recovered to %s: rows %q, want those written before it only", instant.Format(time.RFC3339), got)
	}

	// The stored configuration, adjusted to the new server as a user
	// would, makes backups run again.
	newCfg := filepath.Join(fresh.root, "config", "lifeboat.yaml")
	fresh.mustRun("config", "restore", "-o", newCfg)

	text, err := os.ReadFile(newCfg)
	if err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(newCfg, bytes.ReplaceAll(text, []byte(db.Socket), []byte(db2.Socket)), 0o600); err != nil {
		t.Fatal(err)
	}

	again := newMachine(t, fresh.root, "LIFEBOAT_PASSWORD="+password)
	again.mustRun("--config", newCfg, "config", "check")
	again.mustRun("--config", newCfg, "backup")

	if after := again.mustRun("--config", newCfg, "snapshots"); strings.Count(after, "\n") <= strings.Count(snaps, "\n") {
		t.Errorf("the backup with the restored configuration added no snapshots:\n%s", after)
	}
}

// makeSite writes uploads (nested, binary, empty, executable files) and a
// git repository with two branches and a tag.
func makeSite(t *testing.T, uploads, app string) {
	t.Helper()

	blob := make([]byte, 300<<10)
	rand.Read(blob)

	files := map[string][]byte{
		"covers/1.jpg": blob, "covers/2.jpg": blob[:1000], "docs/readme.txt": []byte("hello\n"),
		"empty": nil, "deep/a/b/c/d.txt": []byte("deep"),
	}

	for rel, b := range files {
		p := filepath.Join(uploads, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)

		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	os.Chmod(filepath.Join(uploads, "docs", "readme.txt"), 0o755)

	os.MkdirAll(app, 0o755)
	testenv.Git(t, app, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(app, "index.js"), []byte("console.log('v1')\n"), 0o644)
	testenv.Git(t, app, "add", "-A")
	testenv.Git(t, app, "commit", "-qm", "v1")
	testenv.Git(t, app, "tag", "v1")
	testenv.Git(t, app, "checkout", "-qb", "feature")
	os.WriteFile(filepath.Join(app, "feature.js"), []byte("export {}\n"), 0o644)
	testenv.Git(t, app, "add", "-A")
	testenv.Git(t, app, "commit", "-qm", "feature")
	testenv.Git(t, app, "checkout", "-q", "main")
}

// gitState is every ref, HEAD, and every tracked file's content and mode.
func gitState(t *testing.T, dir string) string {
	t.Helper()

	var b strings.Builder

	for _, args := range [][]string{{"for-each-ref", "--format=%(objectname) %(refname)"}, {"symbolic-ref", "HEAD"}, {"rev-parse", "HEAD"}} {
		b.WriteString(testenv.Git(t, dir, args...) + "\n")
	}

	for _, f := range strings.Fields(testenv.Git(t, dir, "ls-files")) {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}

		fmt.Fprintf(&b, "%s %q\n", f, data)
	}

	return b.String()
}

type entry struct {
	mode fs.FileMode
	data string
}

// tree is every file under dir, by relative path, with its mode and bytes.
func tree(t *testing.T, dir string) map[string]entry {
	t.Helper()

	out := map[string]entry{}

	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}

		fi, err := d.Info()
		if err != nil {
			return err
		}

		rel, _ := filepath.Rel(dir, p)
		e := entry{mode: fi.Mode()}

		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}

			e.data = string(b)
		}

		out[rel] = e

		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	return out
}

func equalTrees(t *testing.T, want, got map[string]entry) bool {
	t.Helper()

	ok := len(want) == len(got)

	for rel, w := range want {
		g, found := got[rel]

		switch {
		case !found:
			t.Errorf("%s: missing after the restore", rel)
		case g.mode != w.mode:
			t.Errorf("%s: mode %v, want %v", rel, g.mode, w.mode)
		case g.data != w.data:
			t.Errorf("%s: %d bytes differ from the %d backed up", rel, len(g.data), len(w.data))
		default:
			continue
		}

		ok = false
	}

	return ok
}

func serverSecond(t *testing.T, db *testenv.MariaDB) int64 {
	t.Helper()

	var s int64
	if err := db.DB(t, "").QueryRow("SELECT UNIX_TIMESTAMP()").Scan(&s); err != nil {
		t.Fatal(err)
	}

	return s
}

// waitServerSecond waits until the server's clock has reached second s.
func waitServerSecond(t *testing.T, db *testenv.MariaDB, s int64) {
	t.Helper()

	testenv.Eventually(t, 10*time.Second, func() bool { return serverSecond(t, db) >= s }, fmt.Sprintf("the server's clock to reach %d", s))
}

func items(t *testing.T, db *testenv.MariaDB) string {
	t.Helper()

	var s string
	if err := db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM shop.orders").Scan(&s); err != nil {
		t.Fatalf("read the recovered rows: %v", err)
	}

	return s
}
