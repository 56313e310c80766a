package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// bare runs lifeboat as on a machine without a configuration file: no
// --config, the working directory's file and the system file absent (system
// names a path that does not exist unless the test writes it).
func bare(t *testing.T, vars map[string]string, system string, args ...string) result {
	t.Helper()

	var out, errb bytes.Buffer

	a := &App{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return vars[k] },
		IsTerminal: func(any) bool { return false },
		ro:         repoOnly{systemConfig: system},
	}

	err := a.Run(context.Background(), args)
	if err != nil {
		errb.WriteString("lifeboat: " + err.Error() + "\n")
	}

	r := result{out: out.String(), err: errb.String(), code: ExitCode(err)}
	if strings.Contains(r.out+r.err, testPassword) {
		t.Errorf("lifeboat %s: the password leaked into the output", strings.Join(args, " "))
	}

	return r
}

func mustBare(t *testing.T, vars map[string]string, system string, args ...string) string {
	t.Helper()

	r := bare(t, vars, system, args...)
	if r.code != 0 {
		t.Fatalf("lifeboat %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}

	return r.out
}

// TestRepoOnlyCommands: with nothing but --repo (or $LIFEBOAT_REPOSITORY)
// and the password, the reading commands work from the configuration stored
// in the repository; without a repository or a file, the message says what
// to pass.
func TestRepoOnlyCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "alpha")
	write(t, filepath.Join(data, "sub", "b.txt"), "beta")

	e := newEnv(t, "  data:\n    type: files\n    tier: critical\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "data")

	repoDir := filepath.Join(e.dir, "repo")
	system := filepath.Join(t.TempDir(), "etc", "lifeboat.yaml")
	pw := map[string]string{EnvPassword: testPassword}

	// Nothing named: the message says exactly what to do.
	r := bare(t, pw, system, "snapshots")
	for _, want := range []string{"no configuration file", "--config FILE", "--repo PATH|s3://bucket/prefix", "LIFEBOAT_REPOSITORY", "LIFEBOAT_CONFIG"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("snapshots with nothing named: message lacks %q:\n%s", want, r.err)
		}
	}

	if r.code != 2 {
		t.Errorf("snapshots with nothing named: exit %d, want 2", r.code)
	}

	// No password: where to put it.
	r = bare(t, map[string]string{}, system, "--repo", repoDir, "snapshots")
	if r.code != 2 || !strings.Contains(r.err, "set LIFEBOAT_PASSWORD, or run on a terminal") {
		t.Errorf("snapshots without a password: exit %d: %s", r.code, r.err)
	}

	// A folder that is no repository.
	r = bare(t, pw, system, "--repo", t.TempDir(), "snapshots")
	if r.code != ExitNoRepository || !strings.Contains(r.err, "lifeboat init") {
		t.Errorf("--repo at an empty folder: exit %d, want %d: %s", r.code, ExitNoRepository, r.err)
	}

	out := mustBare(t, pw, system, "--repo", repoDir, "snapshots")
	if !strings.Contains(out, "data") || strings.Contains(out, "_config") {
		t.Errorf("snapshots from --repo:\n%s", out)
	}

	withEnv := map[string]string{EnvPassword: testPassword, EnvRepository: repoDir}
	if out := mustBare(t, withEnv, system, "ls", "data", "sub"); !strings.Contains(out, "b.txt") {
		t.Errorf("ls from $%s:\n%s", EnvRepository, out)
	}

	// The data is gone with the machine: it goes back where it was.
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}

	target := data
	mustBare(t, withEnv, system, "restore", "data", "--target", target)

	for rel, want := range map[string]string{"a.txt": "alpha", "sub/b.txt": "beta"} {
		if got := readFile(t, filepath.Join(target, rel)); got != want {
			t.Errorf("restored %s = %q, want %q", rel, got, want)
		}
	}

	if out := mustBare(t, withEnv, system, "verify"); !strings.Contains(out, "verified 1 snapshots") {
		t.Errorf("verify from the repository alone:\n%s", out)
	}

	mustBare(t, withEnv, system, "points")

	if out := mustBare(t, withEnv, system, "report"); !strings.Contains(out, "data") || !strings.Contains(out, "critical") {
		t.Errorf("report from the repository alone lacks the source and its tier:\n%s", out)
	}

	// An unknown source names where the sources came from.
	r = bare(t, withEnv, system, "ls", "nosuch")
	if r.code != 2 || !strings.Contains(r.err, "stored") || !strings.Contains(r.err, "in the repository defines data") {
		t.Errorf("ls of an unknown source: exit %d: %s", r.code, r.err)
	}

	// --repo wins over the file's repository.
	e2 := newEnv(t, "  other:\n    type: files\n    paths: ["+data+"]\n")
	if out := e2.mustRun("--repo", repoDir, "snapshots"); !strings.Contains(out, "data") {
		t.Errorf("--repo with a configuration file listed\n%s\nwant the snapshots of the repository --repo names", out)
	}

	if _, err := os.Stat(filepath.Join(e2.dir, "repo")); err == nil {
		t.Errorf("the file's repository was touched although --repo named another")
	}
}

// TestSystemConfigFile: with no --config and no ./lifeboat.yaml, the
// system file (deploy/systemd's /etc/lifeboat/lifeboat.yaml) is used.
func TestSystemConfigFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "alpha")

	e := newEnv(t, "  data:\n    type: files\n    paths: ["+data+"]\n")
	system := filepath.Join(t.TempDir(), "etc", "lifeboat.yaml")
	write(t, system, readFile(t, e.cfg))

	pw := map[string]string{EnvPassword: testPassword}
	mustBare(t, pw, system, "init")
	mustBare(t, pw, system, "backup", "data")

	if out := mustBare(t, pw, system, "snapshots"); !strings.Contains(out, "data") {
		t.Errorf("snapshots with the system file:\n%s", out)
	}
}

// TestRepoOnlyS3: --repo s3://bucket/prefix with the endpoint given apart
// and the keys from the environment reads a bucket's repository without a
// configuration file.
func TestRepoOnlyS3(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "lifeboat")

	data := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(data, "a.txt"), "alpha")

	e := s3Env(t, srv, "lifeboat", "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "uploads")

	system := filepath.Join(t.TempDir(), "lifeboat.yaml")
	vars := map[string]string{EnvPassword: testPassword}
	args := []string{"--repo", "s3://lifeboat/sml", "--s3-endpoint", srv.Endpoint, "--s3-tls=false"}

	r := bare(t, vars, system, append(args, "snapshots")...)
	if r.code != 2 || !strings.Contains(r.err, "$AWS_ACCESS_KEY_ID is not set") {
		t.Errorf("--repo s3:// without keys: exit %d: %s", r.code, r.err)
	}

	vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"] = srv.AccessKey, srv.SecretKey

	if out := mustBare(t, vars, system, append(args, "snapshots")...); !strings.Contains(out, "uploads") {
		t.Errorf("snapshots from --repo s3://:\n%s", out)
	}

	target := filepath.Join(t.TempDir(), "restored")
	mustBare(t, vars, system, append(args, "restore", "uploads", "--target", target)...)

	if got := readFile(t, filepath.Join(target, "a.txt")); got != "alpha" {
		t.Errorf("restored a.txt = %q", got)
	}
}

// TestRepoOnlyWithoutStoredConfig: a repository written before
// configurations were stored says so, and what to pass instead.
func TestRepoOnlyWithoutStoredConfig(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "alpha")

	e := newEnv(t, "  data:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "data")

	repoDir := filepath.Join(e.dir, "repo")
	ctx := context.Background()

	r, err := repo.Open(ctx, repoDir, repo.Password{Value: testPassword, Origin: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	segs, err := r.Segments(ctx, configSource)
	if err != nil || len(segs) != 1 {
		t.Fatalf("stored configurations: %d, %v; want 1", len(segs), err)
	}

	if err := r.DeleteSegment(ctx, segs[0].ID); err != nil {
		t.Fatal(err)
	}

	r.Close(ctx)

	res := bare(t, map[string]string{EnvPassword: testPassword}, filepath.Join(t.TempDir(), "none.yaml"), "--repo", repoDir, "snapshots")
	if res.code != 2 || !strings.Contains(res.err, "holds no configuration") || !strings.Contains(res.err, "pass --config FILE") {
		t.Errorf("--repo on a repository without a stored configuration: exit %d: %s", res.code, res.err)
	}

	// With a file, --repo still reads it.
	if out := e.mustRun("--repo", repoDir, "snapshots"); !strings.Contains(out, "data") {
		t.Errorf("snapshots with --config and --repo:\n%s", out)
	}
}
