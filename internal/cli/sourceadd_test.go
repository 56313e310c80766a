package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/testenv"
)

// firstUser is a machine with nothing but the binary, the password and a
// home: no --config, no ./lifeboat.yaml, no system file.
type firstUser struct {
	t      *testing.T
	vars   map[string]string
	system string
	file   string // where init --repo writes the configuration
}

func newFirstUser(t *testing.T) *firstUser {
	t.Helper()

	xdg := filepath.Join(t.TempDir(), "xdg")
	u := &firstUser{
		t:      t,
		vars:   map[string]string{EnvPassword: testPassword, "HOME": t.TempDir(), "XDG_CONFIG_HOME": xdg},
		system: filepath.Join(t.TempDir(), "etc", "lifeboat.yaml"),
		file:   filepath.Join(xdg, "lifeboat", "lifeboat.yaml"),
	}

	return u
}

func (u *firstUser) run(args ...string) result {
	u.t.Helper()
	return bare(u.t, u.vars, u.system, args...)
}

func (u *firstUser) mustRun(args ...string) string {
	u.t.Helper()
	return mustBare(u.t, u.vars, u.system, args...)
}

// refused runs a command that must fail with exit 2 and the messages given,
// and proves it left the configuration file as it was (or absent).
func (u *firstUser) refused(want []string, args ...string) result {
	u.t.Helper()

	before, beforeErr := os.ReadFile(u.file)
	r := u.run(args...)

	if r.code != 2 {
		u.t.Errorf("lifeboat %s: exit %d, want 2\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}

	for _, w := range want {
		if !strings.Contains(r.err, w) {
			u.t.Errorf("lifeboat %s: message lacks %q:\n%s", strings.Join(args, " "), w, r.err)
		}
	}

	after, afterErr := os.ReadFile(u.file)
	if string(before) != string(after) || (beforeErr == nil) != (afterErr == nil) {
		u.t.Errorf("lifeboat %s changed %s although it was refused", strings.Join(args, " "), u.file)
	}

	return r
}

// TestFirstBackupWithoutYAML: init --repo, then source add for each kind,
// then backup and snapshots, with only the password set: the configuration
// init wrote is found without flags, and each step's file passes config check.
func TestFirstBackupWithoutYAML(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is not installed: apt-get install -y git (make test installs it)")
	}

	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(20));
		INSERT INTO shop.orders VALUES (1, 'lamp'), (2, 'desk');`)

	docs := filepath.Join(t.TempDir(), "docs")
	write(t, filepath.Join(docs, "a.txt"), "alpha")
	write(t, filepath.Join(docs, "sub", "b.txt"), "beta")

	code := filepath.Join(t.TempDir(), "app")
	os.MkdirAll(code, 0o755)
	git(t, code, "init", "-q", "-b", "main")
	write(t, filepath.Join(code, "index.js"), "console.log('v1')\n")
	git(t, code, "add", "-A")
	git(t, code, "commit", "-qm", "v1")

	u := newFirstUser(t)
	repoDir := filepath.Join(t.TempDir(), "backups")

	out := u.mustRun("init", "--repo", repoDir)
	for _, want := range []string{"created encrypted repository at " + repoDir, "wrote " + u.file, "lifeboat source add"} {
		if !strings.Contains(out, want) {
			t.Errorf("init --repo: output lacks %q:\n%s", want, out)
		}
	}

	if fi, err := os.Stat(u.file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("init --repo wrote no 0600 configuration at %s: %v %v", u.file, fi, err)
	}

	if _, err := os.Stat(filepath.Join(repoDir, "kopia.repository.f")); err != nil {
		t.Fatalf("init --repo created no repository at %s: %v", repoDir, err)
	}

	// Before any source, config check says how to add one.
	r := u.run("config", "check")
	if r.code != 2 || !strings.Contains(r.err, "lifeboat source add NAME --files PATH") {
		t.Errorf("config check with no sources: exit %d: %s", r.code, r.err)
	}

	out = u.mustRun("source", "add", "docs", "--files", docs)
	if !strings.Contains(out, "added source docs (files, tier important) to "+u.file) || !strings.Contains(out, `"0 */6 * * *"`) {
		t.Errorf("source add docs:\n%s", out)
	}

	u.mustRun("source", "add", "code", "--git", code, "--tier", "other")
	u.mustRun("source", "add", "db", "--mysql", "root@unix("+db.Socket+")/shop", "--tier", "critical")

	out = u.mustRun("config", "check")
	if !strings.Contains(out, u.file+": OK: repository "+repoDir+"; 3 sources: docs (files, important), code (git, other), db (mysql, critical)") {
		t.Fatalf("config check after source add:\n%s", out)
	}

	cfg, err := config.Load(u.file)
	if err != nil {
		t.Fatal(err)
	}

	// The guide's defaults for each tier.
	for name, want := range map[string]string{"docs": "0 */6 * * *", "code": "0 3 * * 0"} {
		if got := cfg.Sources[name].Schedule["incremental"] + cfg.Sources[name].Schedule["full"]; got != want {
			t.Errorf("source %s: schedule %q, want %q", name, got, want)
		}
	}

	if s := cfg.Sources["db"]; s.Schedule["full"] != "0 2 * * *" || s.Schedule["incremental"] != "0 * * * *" || s.Retention.Monthly != 12 || s.MySQL.Socket != db.Socket {
		t.Errorf("source db: %+v", s)
	}

	if cfg.Sources["docs"].Retention.Within != 90*24*time.Hour || cfg.Sources["code"].Retention.Within != 180*24*time.Hour {
		t.Errorf("retention: docs %v, code %v", cfg.Sources["docs"].Retention, cfg.Sources["code"].Retention)
	}

	text := readFile(t, u.file)
	for _, want := range []string{"# Added by `lifeboat source add`. Tier critical", "within the tier's RPO of 1h", "# `lifeboat source add` adds sources here."} {
		if !strings.Contains(text, want) {
			t.Errorf("the configuration lacks the comment %q:\n%s", want, text)
		}
	}

	out = u.mustRun("backup")
	for _, want := range []string{"docs: full snapshot", "code: full snapshot", "db: full snapshot"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup: output lacks %q:\n%s", want, out)
		}
	}

	out = u.mustRun("snapshots")
	for _, name := range []string{"docs", "code", "db"} {
		if !strings.Contains(out, name) {
			t.Errorf("snapshots lacks %s:\n%s", name, out)
		}
	}

	// The configuration remembered the repository: --repo is not needed.
	if strings.Contains(readFile(t, u.file), testPassword) {
		t.Error("the password was written into the configuration")
	}
}

// TestFirstBackupWithoutYAMLS3: init --repo s3://... with the --s3-* flags
// writes a configuration that reaches the bucket with no flags.
func TestFirstBackupWithoutYAMLS3(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "first")

	docs := filepath.Join(t.TempDir(), "docs")
	write(t, filepath.Join(docs, "a.txt"), "alpha")

	u := newFirstUser(t)
	u.vars["AWS_ACCESS_KEY_ID"] = srv.AccessKey
	u.vars["AWS_SECRET_ACCESS_KEY"] = srv.SecretKey

	out := u.mustRun("init", "--repo", "s3://first/lifeboat", "--s3-endpoint", srv.Endpoint, "--s3-tls=false")
	if !strings.Contains(out, "s3://first/lifeboat at "+srv.Endpoint) || !strings.Contains(out, "wrote "+u.file) {
		t.Fatalf("init --repo s3://: %s", out)
	}

	u.mustRun("source", "add", "docs", "--files", docs, "--tier", "critical")

	if out := u.mustRun("config", "check"); !strings.Contains(out, "OK: repository s3://first/lifeboat at "+srv.Endpoint) {
		t.Fatalf("config check: %s", out)
	}

	u.mustRun("backup")

	if out := u.mustRun("snapshots"); !strings.Contains(out, "docs") {
		t.Fatalf("snapshots: %s", out)
	}

	if text := readFile(t, u.file); strings.Contains(text, srv.SecretKey) || strings.Contains(text, srv.AccessKey) {
		t.Error("the S3 keys were written into the configuration")
	}
}

// TestSourceAddRefusals: each refusal exits 2, says what to do, and leaves
// the configuration file as it was.
func TestSourceAddRefusals(t *testing.T) {
	docs := filepath.Join(t.TempDir(), "docs")
	write(t, filepath.Join(docs, "a.txt"), "alpha")

	u := newFirstUser(t)

	// No configuration file yet.
	u.refused([]string{"no configuration file to add the source to", u.file, "lifeboat init --repo"}, "source", "add", "docs", "--files", docs)

	u.mustRun("init", "--repo", filepath.Join(t.TempDir(), "backups"))
	u.mustRun("source", "add", "docs", "--files", docs)

	missing := filepath.Join(t.TempDir(), "nosuch")
	secret := "hunter2-db-secret"

	for _, c := range []struct {
		name string
		want []string
		args []string
	}{
		{"a name that exists", []string{`source "docs" exists in ` + u.file, "nothing was written"}, []string{"docs", "--files", docs}},
		{"an unknown tier", []string{`--tier "standard": unknown tier`, "defines critical, important, other", "nothing was written"}, []string{"more", "--files", docs, "--tier", "standard"}},
		{"a path that does not exist", []string{"--files " + missing + ": does not exist on this machine", "nothing was written"}, []string{"more", "--files", docs, missing}},
		{"a git path that does not exist", []string{"--git " + missing + ": does not exist"}, []string{"code", "--git", missing}},
		{"a git path that is a file", []string{"not a folder"}, []string{"code", "--git", filepath.Join(docs, "a.txt")}},
		{"a DSN with a password", []string{"the DSN holds a password", "--password-env", "--password-file", "password_env or password_file"}, []string{"db", "--mysql", "shop:" + secret + "@tcp(127.0.0.1:3306)/shop"}},
		{"a URL with a password", []string{"the DSN holds a password"}, []string{"db", "--mysql", "mysql://shop:" + secret + "@db.internal:3306/shop"}},
		{"a URL that does not parse", []string{"--mysql: not a mysql:// URL"}, []string{"db", "--mysql", "mysql://shop:" + secret + "@db.internal:port/shop"}},
		{"an unsupported DSN parameter", []string{"parameter charset=utf8 is not one this command writes"}, []string{"db", "--mysql", "root@tcp(127.0.0.1:3306)/shop?charset=utf8"}},
		{"a missing password file", []string{"--password-file " + missing + ": does not exist"}, []string{"db", "--mysql", "root@tcp(127.0.0.1)/shop", "--password-file", missing}},
		{"a missing socket", []string{"the socket " + missing + ": does not exist"}, []string{"db", "--mysql", "root@unix(" + missing + ")/shop"}},
		{"no kind", []string{"give one of --files PATH..., --git PATH or --mysql DSN"}, []string{"more"}},
		{"two kinds", []string{"give one of"}, []string{"more", "--files", docs, "--git", docs}},
		{"a bad name", []string{`source name "no/slash"`}, []string{"no/slash", "--files", docs}},
		{"a password flag without --mysql", []string{"are for a --mysql source"}, []string{"more", "--files", docs, "--password-env", "X"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			u.t = t

			r := u.refused(c.want, append([]string{"source", "add"}, c.args...)...)
			if strings.Contains(r.out+r.err, secret) {
				t.Errorf("the database password was repeated:\n%s", r.err)
			}
		})
	}

	u.t = t

	if out := u.mustRun("config", "check"); !strings.Contains(out, "1 sources: docs (files, important)") {
		t.Errorf("config check after the refusals:\n%s", out)
	}
}

// TestSourceAddKeepsTheFile: a source added to a hand-written file (here the
// generic example, sources: followed by jobs:) goes after the last source;
// every line of the file is kept, comments included.
func TestSourceAddKeepsTheFile(t *testing.T) {
	docs := filepath.Join(t.TempDir(), "docs")
	write(t, filepath.Join(docs, "a.txt"), "alpha")

	e := newEnv(t, "")
	e.writeConfig(e.mustRun("config", "example"))
	before := readFile(t, e.cfg)

	e.mustRun("source", "add", "reports", "--files", docs, "--tier", "critical")
	after := readFile(t, e.cfg)

	jobs := strings.Index(before, "# Repository-wide jobs")
	if jobs < 0 {
		t.Fatalf("the example has no jobs: section:\n%s", before)
	}

	if !strings.HasPrefix(after, before[:jobs]) || !strings.HasSuffix(after, before[jobs:]) {
		t.Fatalf("the file's own lines changed:\n%s", after)
	}

	if i, j := strings.Index(after, "  reports:\n"), strings.Index(after, "  database:\n"); i < j {
		t.Errorf("the new source is not after the last one:\n%s", after)
	}

	out := e.mustRun("config", "check")
	if !strings.Contains(out, "4 sources: documents (files, important), code (git, important), database (mysql, critical), reports (files, critical)") {
		t.Errorf("config check: %s", out)
	}
}
