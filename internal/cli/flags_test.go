package cli

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/plan"
	"lifeboat/internal/testenv"
)

// TestBackupDryRun: backup --dry-run lists each source with the files and
// bytes a backup would read (the exclude rules applied), and leaves the
// repository's files and snapshot list as they were.
func TestBackupDryRun(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(data, "a.txt"), "alpha")
	write(t, filepath.Join(data, "sub", "b.txt"), "bravo-bravo")
	write(t, filepath.Join(data, "skip.tmp"), "left out by the exclude rule")

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n    exclude: ['*.tmp']\n")
	e.mustRun("init")
	e.mustRun("backup")

	before, snaps := e.repoFiles(), len(e.snapshots(""))

	out := e.mustRun("backup", "--dry-run")
	for _, want := range []string{"uploads (files, full): 2 files, 16 B in " + data, "dry run: nothing was backed up or changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup --dry-run lacks %q:\n%s", want, out)
		}
	}

	if after := e.repoFiles(); !maps.Equal(before, after) {
		t.Errorf("backup --dry-run changed the repository's files")
	}

	if n := len(e.snapshots("")); n != snaps {
		t.Errorf("backup --dry-run: %d snapshots, want %d", n, snaps)
	}

	// A path that went away: the dry run says the backup would fail, and
	// still changes nothing.
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}

	e.expectFailure(1, []string{"path " + data + " does not exist", "a backup would fail for: uploads"}, "backup", "uploads", "--dry-run")

	if after := e.repoFiles(); !maps.Equal(before, after) {
		t.Errorf("a failing backup --dry-run changed the repository's files")
	}
}

// TestRestoreDryRunFolder: restore --dry-run of a files source names the
// snapshot and the target and creates nothing; a non-empty target is
// refused as the restore itself would refuse it.
func TestRestoreDryRunFolder(t *testing.T) {
	e, _ := filesEnv(t)
	before := e.repoFiles()
	snap := e.snapshots("uploads")[0]

	target := filepath.Join(t.TempDir(), "restored")
	out := e.mustRun("restore", "uploads", "--target", target, "--dry-run")

	for _, want := range []string{"would restore uploads snapshot " + shortID(snap.ID), "1 files", "into " + target + " (missing or empty)", "dry run: nothing was restored"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore --dry-run lacks %q:\n%s", want, out)
		}
	}

	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("restore --dry-run created %s (%v)", target, err)
	}

	full := t.TempDir()
	write(t, filepath.Join(full, "mine.txt"), "keep me")
	e.expectFailure(2, []string{"restore target is not empty"}, "restore", "uploads", "--target", full, "--dry-run")

	out = e.mustRun("restore", "uploads", "--target", full, "--dry-run", "--overwrite")
	if !strings.Contains(out, "after saving what it replaces as a safety snapshot") {
		t.Errorf("restore --dry-run --overwrite does not say what happens to the target:\n%s", out)
	}

	if b, err := os.ReadFile(filepath.Join(full, "mine.txt")); err != nil || string(b) != "keep me" {
		t.Errorf("restore --dry-run --overwrite touched the target: %q, %v", b, err)
	}

	entries, _ := os.ReadDir(full)
	if len(entries) != 1 {
		t.Errorf("restore --dry-run --overwrite left %d entries in the target, want 1", len(entries))
	}

	if after := e.repoFiles(); !maps.Equal(before, after) {
		t.Errorf("restore --dry-run changed the repository's files")
	}

	if n := len(e.snapshots("")); n != 1 {
		t.Errorf("restore --dry-run --overwrite took a safety snapshot: %d snapshots", n)
	}
}

// TestSourcesAsArguments: snapshots and prune take their sources as
// arguments; the old --source flag still works, hidden, and says it is
// deprecated.
func TestSourcesAsArguments(t *testing.T) {
	e, _ := filesEnv(t)

	positional := e.mustRun("snapshots", "uploads")
	old := e.run("snapshots", "--source", "uploads")

	if old.code != 0 || old.out != positional || !strings.Contains(positional, "uploads") {
		t.Errorf("snapshots uploads:\n%s\nsnapshots --source uploads (exit %d):\n%s", positional, old.code, old.out)
	}

	if !strings.Contains(old.err, "--source is deprecated") || !strings.Contains(old.err, "lifeboat snapshots docs") {
		t.Errorf("snapshots --source does not say it is deprecated: %q", old.err)
	}

	if help := e.mustRun("snapshots", "--help"); strings.Contains(help, "--source") || !strings.Contains(help, "snapshots [SOURCE...]") {
		t.Errorf("snapshots --help still shows --source or lacks [SOURCE...]:\n%s", help)
	}

	e.expectFailure(2, []string{`unknown source "nosuch"`}, "snapshots", "nosuch")

	for _, cmd := range []string{"snapshots", "prune"} {
		if got := completions(t, e, cmd, ""); !slices.Equal(got, []string{"uploads"}) {
			t.Errorf("__complete %s '': %q, want the source names", cmd, got)
		}
	}

	before := e.repoFiles()

	out := e.mustRun("prune", "uploads", "--dry-run")
	if !strings.Contains(out, "uploads") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("prune uploads --dry-run:\n%s", out)
	}

	e.expectFailure(2, []string{`unknown source "nosuch"`}, "prune", "nosuch", "--dry-run")

	if after := e.repoFiles(); !maps.Equal(before, after) {
		t.Errorf("prune --dry-run changed the repository's files")
	}
}

// TestAmbiguousSnapshotPrefix: a prefix that several snapshots share is
// refused with every one of them listed (ID, source, time), by the
// commands that take a source and by pin, which may not; an unknown ID
// says so; nothing is pinned by the refused commands.
func TestAmbiguousSnapshotPrefix(t *testing.T) {
	e, _ := filesEnv(t)

	// Snapshot IDs are random hex: among 17 snapshots two share their first
	// character, usually after a handful.
	var prefix string

	for range 16 {
		seen := map[string]int{}
		for _, s := range e.snapshots("uploads") {
			seen[s.ID[:1]]++
			if seen[s.ID[:1]] == 2 {
				prefix = s.ID[:1]
			}
		}

		if prefix != "" {
			break
		}

		e.mustRun("backup", "uploads")
	}

	if prefix == "" {
		t.Fatal("no two snapshots share a first character after 17 backups")
	}

	var want []string

	for _, s := range e.snapshots("uploads") {
		if strings.HasPrefix(s.ID, prefix) {
			want = append(want, s.ID+"  uploads  "+s.Time.Local().Format(time.DateTime))
		}
	}

	before := e.repoFiles()

	for _, args := range [][]string{
		{"ls", "uploads", "--snapshot", prefix},
		{"restore", "uploads", "--snapshot", prefix, "--target", filepath.Join(t.TempDir(), "out"), "--dry-run"},
		{"pin", prefix, "--reason", "test"},
		{"pin", "uploads", prefix, "--reason", "test"},
	} {
		e.expectFailure(2, append([]string{`snapshot ID prefix "` + prefix + `" matches`, "give more characters"}, want...), args...)
	}

	e.expectFailure(2, []string{`no snapshot with ID "zzzzzzzz"`}, "ls", "uploads", "--snapshot", "zzzzzzzz")
	e.expectFailure(2, []string{`no snapshot with ID "zzzzzzzz"`}, "pin", "zzzzzzzz", "--reason", "test")

	if after := e.repoFiles(); !maps.Equal(before, after) {
		t.Errorf("a refused pin changed the repository's files")
	}
}

// TestAmbiguousRunPrefix: drill --show with a prefix several runs share
// lists them all; an exact ID picks one; an unknown one is a usage error.
func TestAmbiguousRunPrefix(t *testing.T) {
	at := time.Date(2026, 11, 25, 14, 3, 27, 0, time.UTC)
	runs := []*plan.Run{
		{ID: "20261125T140327Z-aaaaaa", Plan: "library", Mode: plan.ModeDrill, Started: at},
		{ID: "20261125T140327Z-aaabbb", Plan: "library", Mode: plan.ModeRecover, Started: at.Add(time.Minute)},
	}

	_, err := findRun(runs, "20261125T140327Z-aaa")
	if ExitCode(err) != 2 {
		t.Fatalf("ambiguous run prefix: exit %d (%v), want 2", ExitCode(err), err)
	}

	for _, want := range []string{`run ID prefix "20261125T140327Z-aaa" matches 2`, "20261125T140327Z-aaaaaa  drill library", "20261125T140327Z-aaabbb  recover library"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ambiguous run prefix: message lacks %q:\n%v", want, err)
		}
	}

	if got, err := findRun(runs, "20261125T140327Z-aaab"); err != nil || got != runs[1] {
		t.Errorf("unique prefix: %v, %v", got, err)
	}

	if got, err := findRun(runs, "latest"); err != nil || got != runs[1] {
		t.Errorf("latest: %v, %v", got, err)
	}

	if _, err := findRun(runs, "1999"); ExitCode(err) != 2 || !strings.Contains(err.Error(), `no recorded drill or recovery "1999"`) {
		t.Errorf("unknown run: exit %d, %v", ExitCode(err), err)
	}
}

// TestOutputFlags: report, config example, drill and drill --show write
// their files with -o: 0600, never through a symbolic link, and config
// example never over an existing file without --force.
func TestOutputFlags(t *testing.T) {
	e, _ := filesEnv(t)
	e.writeConfig(readFile(t, e.cfg) + "plans:\n  files:\n    tier: important\n    steps:\n      - restore: uploads\n")
	dir := t.TempDir()

	rep := filepath.Join(dir, "report.md")
	if out := e.mustRun("report", "-o", rep); !strings.Contains(out, "report: "+rep) {
		t.Errorf("report -o: %s", out)
	}

	assertPrivateFile(t, rep, "# ")

	elsewhere := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "link.md")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}

	e.expectFailure(1, []string{link + " is a symbolic link"}, "report", "--output", link)

	if _, err := os.Lstat(elsewhere); !os.IsNotExist(err) {
		t.Errorf("report wrote through a symbolic link (%v)", err)
	}

	ex := filepath.Join(dir, "lifeboat.yaml")
	e.mustRun("config", "example", "-o", ex)
	assertPrivateFile(t, ex, "# A starter Lifeboat configuration")
	write(t, ex, "mine")
	e.expectFailure(2, []string{ex + " exists", "--force"}, "config", "example", "-o", ex)

	if got := readFile(t, ex); got != "mine" {
		t.Errorf("config example -o replaced an existing file: %q", got)
	}

	e.mustRun("config", "example", "-o", ex, "--force")
	assertPrivateFile(t, ex, "# A starter Lifeboat configuration")

	drill := filepath.Join(dir, "drill")
	e.mustRun("drill", "files", "-o", drill)
	assertPrivateFile(t, filepath.Join(drill, "report.json"), "{")

	e.mustRun("drill", "files")

	// Two drills: their IDs share the year, a prefix that is refused with
	// both listed through the real command.
	r := e.expectFailure(2, []string{`run ID prefix "2" matches 2 drills and recoveries`, "drill files"}, "drill", "--show", "2")
	if strings.Count(r.err, "\n  2") != 2 {
		t.Errorf("drill --show 2 does not list both runs:\n%s", r.err)
	}

	shown := filepath.Join(dir, "shown")
	if out := e.mustRun("drill", "--show", "latest", "-o", shown); !strings.Contains(out, "wrote the reports of drill") {
		t.Errorf("drill --show -o: %s", out)
	}

	assertPrivateFile(t, filepath.Join(shown, "report.html"), "<")
}

// assertPrivateFile checks path is a regular file readable by its owner
// only, starting with prefix.
func assertPrivateFile(t *testing.T, path, prefix string) {
	t.Helper()

	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}

	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want a regular file 0600", path, fi.Mode())
	}

	if got := readFile(t, path); !strings.HasPrefix(strings.TrimSpace(got), prefix) {
		t.Errorf("%s starts %.40q, want %q", path, got, prefix)
	}
}

// TestDryRunsChangeNothing: source add, pin, unpin, import, replicate and
// export-repo with --dry-run say what they would do and leave the
// configuration, the repository and the copies as they were.
func TestDryRunsChangeNothing(t *testing.T) {
	e, data := filesEnv(t)
	near := filepath.Join(t.TempDir(), "near")
	e.writeConfig(readFile(t, e.cfg) + "  db:\n    type: mysql\n    host: 127.0.0.1\n    port: 1\n    user: backup\n" +
		"copies:\n  near:\n    path: " + near + "\n")
	cfg, before := readFile(t, e.cfg), e.repoFiles()
	id := shortID(e.snapshots("uploads")[0].ID)

	out := e.mustRun("source", "add", "more", "--files", data, "--dry-run")
	if !strings.Contains(out, "would add source more (files, tier important)") || !strings.Contains(out, "paths: ["+data+"]") {
		t.Errorf("source add --dry-run:\n%s", out)
	}

	if readFile(t, e.cfg) != cfg {
		t.Errorf("source add --dry-run changed the configuration")
	}

	if out := e.mustRun("pin", "uploads", id, "--reason", "hold", "--dry-run"); !strings.Contains(out, "would pin uploads snapshot "+id+" (hold)") {
		t.Errorf("pin --dry-run:\n%s", out)
	}

	e.expectFailure(2, []string{"is not pinned"}, "unpin", id, "--dry-run")

	dump := filepath.Join(t.TempDir(), "shop.sql")
	write(t, dump, "CREATE TABLE t (id INT);\n")

	if out := e.mustRun("import", "db", dump, "--dry-run"); !strings.Contains(out, "would import "+dump) || !strings.Contains(out, "nothing was imported") {
		t.Errorf("import --dry-run:\n%s", out)
	}

	e.expectFailure(2, []string{"import takes mysqldump files into database sources"}, "import", "uploads", dump, "--dry-run")
	e.expectFailure(2, []string{"no such file"}, "import", "db", dump+".missing", "--dry-run")

	out = e.mustRun("replicate", "--dry-run")
	if !strings.Contains(out, "copy near ("+near+"): would copy ") || !strings.Contains(out, "; 0 already there") {
		t.Errorf("replicate --dry-run:\n%s", out)
	}

	usb := filepath.Join(t.TempDir(), "usb")
	if out := e.mustRun("export-repo", usb, "--dry-run"); !strings.Contains(out, "would copy") {
		t.Errorf("export-repo --dry-run:\n%s", out)
	}

	restored := filepath.Join(t.TempDir(), "restored.yaml")
	if out := e.mustRun("config", "restore", "-o", restored, "--dry-run"); !strings.Contains(out, "would write the configuration") {
		t.Errorf("config restore --dry-run:\n%s", out)
	}

	for _, dir := range []string{near, usb, restored} {
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("a dry run created %s (%v)", dir, err)
		}
	}

	if after := e.repoFiles(); !maps.Equal(before, after) {
		t.Errorf("a dry run changed the repository's files")
	}

	// After a replication, the dry run finds the copy's blobs there.
	e.mustRun("replicate")

	if out := e.mustRun("replicate", "--dry-run"); !regexp.MustCompile(`would copy \d+ blobs \(.*\); [1-9]\d* already there`).MatchString(out) {
		t.Errorf("replicate --dry-run after a replication:\n%s", out)
	}

	// A pinned snapshot stays pinned through unpin --dry-run.
	e.mustRun("pin", id, "--reason", "hold")
	e.mustRun("unpin", id, "--dry-run")
	e.mustRun("unpin", id)
}

// TestInitDryRun: init --repo --dry-run names the repository and the
// configuration it would write, and creates neither; then init does.
func TestInitDryRun(t *testing.T) {
	u := newFirstUser(t)
	backups := filepath.Join(t.TempDir(), "backups")

	out := u.mustRun("init", "--repo", backups, "--dry-run")
	for _, want := range []string{"would create an encrypted repository at " + backups, "would write the configuration " + u.file, "nothing was created"} {
		if !strings.Contains(out, want) {
			t.Errorf("init --dry-run lacks %q:\n%s", want, out)
		}
	}

	for _, p := range []string{backups, u.file} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("init --dry-run created %s (%v)", p, err)
		}
	}

	u.mustRun("init", "--repo", backups)

	if _, err := os.Stat(u.file); err != nil {
		t.Errorf("init after its dry run: %v", err)
	}
}

// TestDatabaseDryRuns: against a private MariaDB, backup --dry-run names
// the databases and server without dumping, export --dry-run names the
// snapshot without writing the file, and restore --dry-run leaves the
// server without the target database.
func TestDatabaseDryRuns(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY); INSERT INTO shop.items VALUES (1), (2)")

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n")
	e.mustRun("init")
	e.mustRun("backup", "db")

	before, snap := e.repoFiles(), e.snapshots("db")[0]

	if out := e.mustRun("backup", "db", "--dry-run"); !strings.Contains(out, "db (mysql, full): databases shop on "+db.Socket+" as root") {
		t.Errorf("backup --dry-run:\n%s", out)
	}

	export := filepath.Join(t.TempDir(), "shop.sql.gz")
	if out := e.mustRun("export", "db", "-o", export, "--dry-run"); !strings.Contains(out, "would export db snapshot "+shortID(snap.ID)) {
		t.Errorf("export --dry-run:\n%s", out)
	}

	if _, err := os.Lstat(export); !os.IsNotExist(err) {
		t.Errorf("export --dry-run wrote %s (%v)", export, err)
	}

	e.mustRun("restore", "db", "--target-database", "shop_check", "--dry-run")

	var n int
	if err := db.DB(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_check'").Scan(&n); err != nil || n != 0 {
		t.Errorf("restore --dry-run created the database shop_check (%d, %v)", n, err)
	}

	if after := e.repoFiles(); !maps.Equal(before, after) {
		t.Errorf("a database dry run changed the repository's files")
	}

	if got := len(e.snapshots("db")); got != 1 {
		t.Errorf("%d snapshots after the dry runs, want 1", got)
	}
}
