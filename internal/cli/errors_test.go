package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/testenv"
)

// Every error a user can cause: message, exit code, and nothing written.

func filesEnv(t *testing.T) (*env, string) {
	t.Helper()

	data := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(data, "a.txt"), "alpha")
	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup")

	return e, data
}

func TestConfigErrorsNameFileLineKey(t *testing.T) {
	cases := []struct {
		name   string
		config string
		want   []string
	}{
		{"missing repository", "sources:\n  u:\n    type: files\n    paths: [/tmp]\n",
			[]string{"lifeboat.yaml:1", "repository", "missing"}},
		{"unknown top key", "repository:\n  path: /r\nsoruces:\n  u: {type: files, paths: [/tmp]}\n",
			[]string{"lifeboat.yaml:3", "soruces", "unknown key", "expected one of: repository, tiers, sources"}},
		{"unknown source key", "repository:\n  path: /r\nsources:\n  u:\n    type: files\n    paths: [/tmp]\n    exlude: [x]\n",
			[]string{"lifeboat.yaml:7", "sources.u.exlude", "unknown key", "exclude"}},
		{"missing paths", "repository:\n  path: /r\nsources:\n  u:\n    type: files\n",
			[]string{"lifeboat.yaml:5", "sources.u.paths", "missing"}},
		{"bad type", "repository:\n  path: /r\nsources:\n  u:\n    type: ftp\n",
			[]string{"lifeboat.yaml:5", "sources.u.type", "expected one of: files, git"}},
		{"unknown tier", "repository:\n  path: /r\nsources:\n  u:\n    type: git\n    tier: gold\n    path: /x\n",
			[]string{"lifeboat.yaml:6", "sources.u.tier", "critical, important, other"}},
		{"bad duration", "repository:\n  path: /r\ntiers:\n  critical: {rto: soon, rpo: 1h}\nsources:\n  u: {type: git, path: /x}\n",
			[]string{"lifeboat.yaml:4", "tiers.critical.rto", "duration"}},
		{"both segment keys", "repository:\n  path: /r\nsources:\n  db:\n    type: mysql\n    binlog: {segment_interval: 500ms, segment_seconds: 3}\n",
			[]string{"lifeboat.yaml:6", "sources.db.binlog.segment_seconds", "give segment_interval or segment_seconds, not both", "remove segment_seconds"}},
		{"bad segment interval", "repository:\n  path: /r\nsources:\n  db:\n    type: mysql\n    binlog: {segment_interval: 500}\n",
			[]string{"lifeboat.yaml:6", "sources.db.binlog.segment_interval", "expected a duration from 100ms to 1h such as 500ms"}},
		{"not yaml", "repository: [\n", []string{"lifeboat.yaml", "not valid YAML"}},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "")
			e.writeConfig(c.config)

			for _, cmd := range [][]string{{"config", "check"}, {"backup"}} {
				e.expectFailure(2, c.want, cmd...)
			}

			if len(e.repoFiles()) != 0 {
				t.Fatal("a bad configuration must write nothing")
			}
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	e := newEnv(t, "")
	os.Remove(e.cfg)
	e.expectFailure(2, []string{"configuration file not found", "--config"}, "snapshots")
}

func TestConfigCheckOK(t *testing.T) {
	e := newEnv(t, "  u:\n    type: files\n    paths: [/etc]\n  code:\n    type: git\n    tier: critical\n    path: /nonexistent/app\n")

	r := e.run("config", "check")
	if r.code != 0 || !strings.Contains(r.out, "OK") || !strings.Contains(r.out, "code (git, critical)") {
		t.Fatalf("config check: %+v", r)
	}

	if !strings.Contains(r.err, "/nonexistent/app does not exist") {
		t.Fatalf("config check should warn about a missing path: %q", r.err)
	}
}

func TestUnknownSource(t *testing.T) {
	e, _ := filesEnv(t)
	before := e.repoFiles()

	e.expectFailure(2, []string{`unknown source "nosuch"`, "uploads"}, "backup", "nosuch")
	e.expectFailure(2, []string{`unknown source "nosuch"`}, "restore", "nosuch", "--target", t.TempDir())

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("repository changed after a refused command")
	}
}

func TestWrongPasswordCLI(t *testing.T) {
	e, _ := filesEnv(t)
	before := e.repoFiles()

	e.vars[EnvPassword] = "not-the-password"
	r := e.expectFailure(ExitWrongPassword, []string{"wrong password", "$LIFEBOAT_PASSWORD"}, "backup")

	if strings.Contains(r.err, "not-the-password") {
		t.Fatal("the wrong password was echoed")
	}

	delete(e.vars, EnvPassword)
	e.expectFailure(2, []string{"no password", "LIFEBOAT_PASSWORD", "password_file"}, "snapshots")

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("repository changed after a refused command")
	}
}

func TestPasswordFile(t *testing.T) {
	e, data := filesEnv(t)
	pwFile := filepath.Join(e.dir, "password")
	os.WriteFile(pwFile, []byte(testPassword+"\n"), 0o600)

	delete(e.vars, EnvPassword)
	e.writeConfig("repository:\n  path: " + filepath.Join(e.dir, "repo") + "\n  password_file: " + pwFile + "\nsources:\n  uploads: {type: files, paths: [" + data + "]}\n")

	if n := len(e.snapshots("")); n != 1 {
		t.Fatalf("want 1 snapshot via password_file, got %d", n)
	}

	os.Remove(pwFile)
	e.expectFailure(2, []string{"repository.password_file", "cannot read"}, "snapshots")
}

func TestRepositoryNotWritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	write(t, blocker, "a file where a folder should be")

	e := newEnv(t, "  u: {type: files, paths: ["+dir+"]}\n")
	e.writeConfig("repository:\n  path: " + filepath.Join(blocker, "repo") + "\nsources:\n  u: {type: files, paths: [" + dir + "]}\n")

	e.expectFailure(1, []string{"not writable", filepath.Join(blocker, "repo")}, "init")

	if b, _ := os.ReadFile(blocker); string(b) != "a file where a folder should be" {
		t.Fatal("the blocking file was touched")
	}

	e.expectFailure(ExitNoRepository, []string{"no repository", "lifeboat init"}, "backup")
}

func TestInitTwiceRefused(t *testing.T) {
	e, _ := filesEnv(t)
	before := e.repoFiles()

	e.expectFailure(2, []string{"already exists"}, "init")

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("a second init changed the repository")
	}
}

func TestSourcePathMissing(t *testing.T) {
	e, data := filesEnv(t)
	os.RemoveAll(data)

	e.expectFailure(1, []string{"source uploads", data, "does not exist"}, "backup")

	if n := len(e.snapshots("uploads")); n != 1 {
		t.Fatalf("a failed backup must list nothing new: %d snapshots", n)
	}
}

func TestRestoreTargetInsideSource(t *testing.T) {
	e, data := filesEnv(t)
	before := e.repoFiles()

	for _, target := range []string{data, filepath.Join(data, "restored"), filepath.Join(data, "new", "deeper")} {
		e.expectFailure(2, []string{"lies inside source uploads"}, "restore", "uploads", "--target", target)
	}

	// A symlink that leads into the source is caught too.
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(data, link)
	e.expectFailure(2, []string{"lies inside source uploads"}, "restore", "uploads", "--target", filepath.Join(link, "x"))

	if _, err := os.Stat(filepath.Join(data, "restored")); !os.IsNotExist(err) {
		t.Fatal("something was written into the source")
	}

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("repository changed after a refused restore")
	}
}

func TestUnknownSnapshot(t *testing.T) {
	e, _ := filesEnv(t)
	target := filepath.Join(t.TempDir(), "out")

	e.expectFailure(2, []string{`no snapshot with ID "0123456789abcdef"`, "lifeboat snapshots uploads"},
		"restore", "uploads", "--snapshot", "0123456789abcdef", "--target", target)
	e.expectFailure(2, []string{"no snapshot with ID"}, "ls", "uploads", "--snapshot", "feedfacefeed")

	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatal("target created for an unknown snapshot")
	}
}

func TestRestoreRequiresTarget(t *testing.T) {
	e, _ := filesEnv(t)
	e.expectFailure(2, []string{"--target DIR is required"}, "restore", "uploads")
	e.expectFailure(2, []string{"accepts 1 arg"}, "restore")
	e.expectFailure(2, []string{"unknown flag"}, "backup", "--frobnicate")
	e.expectFailure(2, []string{"--type \"weekly\""}, "backup", "--type", "weekly")
}

func TestRestoreIntoNonEmptyTarget(t *testing.T) {
	e, data := filesEnv(t)
	target := t.TempDir()
	write(t, filepath.Join(target, "a.txt"), "local edit that must survive somewhere")
	write(t, filepath.Join(target, "mine.txt"), "only here")

	e.expectFailure(2, []string{"not empty", "--overwrite"}, "restore", "uploads", "--target", target)

	if b, _ := os.ReadFile(filepath.Join(target, "a.txt")); string(b) != "local edit that must survive somewhere" {
		t.Fatal("a refused restore changed the target")
	}

	out := e.mustRun("restore", "uploads", "--target", target, "--overwrite")
	if !strings.Contains(out, "safety snapshot") {
		t.Fatalf("overwrite must report its safety snapshot: %s", out)
	}

	if b, _ := os.ReadFile(filepath.Join(target, "a.txt")); string(b) != "alpha" {
		t.Fatalf("overwrite did not restore the file: %q", b)
	}

	// The replaced state is recoverable from the safety snapshot.
	var safetyID string

	for _, s := range e.snapshots("uploads") {
		if s.Role == "safety" {
			safetyID = s.ID
		}
	}

	if safetyID == "" {
		t.Fatal("no safety snapshot listed")
	}

	back := filepath.Join(t.TempDir(), "back")
	e.mustRun("restore", "uploads", "--snapshot", safetyID, "--target", back)

	if b, _ := os.ReadFile(filepath.Join(back, "a.txt")); string(b) != "local edit that must survive somewhere" {
		t.Fatalf("safety snapshot lost the replaced file: %q", b)
	}

	// "latest" still means the latest backup, not the safety copy.
	latest := filepath.Join(t.TempDir(), "latest")
	e.mustRun("restore", "uploads", "--target", latest)

	if b, _ := os.ReadFile(filepath.Join(latest, "a.txt")); string(b) != "alpha" {
		t.Fatalf("latest resolved to the safety snapshot: %q", b)
	}

	_ = data
}

func TestVerifyFailsOnCorruption(t *testing.T) {
	e, _ := filesEnv(t)
	e.mustRun("verify")

	testenv.CorruptPacks(t, filepath.Join(e.dir, "repo"))

	e.expectFailure(1, []string{"problem:", "uploads"}, "verify")
}

func TestOverwriteRefusesSymlinkOutOfTarget(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(data, "docs", "rules.pdf"), "from the backup")

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup")

	outside := t.TempDir()
	write(t, filepath.Join(outside, "rules.pdf"), "outside the target")

	target := t.TempDir()
	os.Symlink(outside, filepath.Join(target, "docs"))

	before := e.repoFiles()
	e.expectFailure(1, []string{"is a symlink where the snapshot has a directory"}, "restore", "uploads", "--target", target, "--overwrite")

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("a refused restore wrote a safety snapshot")
	}

	if b, _ := os.ReadFile(filepath.Join(outside, "rules.pdf")); string(b) != "outside the target" {
		t.Fatal("the restore wrote outside its target through a symlink")
	}
}
