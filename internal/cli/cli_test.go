package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
)

const testPassword = "s3cret-test-password-91c2"

// env is a scratch installation: a config, a repository path and data folders.
type env struct {
	t    *testing.T
	dir  string
	cfg  string
	vars map[string]string
	// tamper is passed to the App (restore tests' copies).
	tamper func(ctx context.Context, target string) error
	// clock, when set, is the App's clock (nil: the wall clock).
	clock clock.Clock
}

func newEnv(t *testing.T, sources string) *env {
	t.Helper()

	dir := t.TempDir()
	e := &env{t: t, dir: dir, cfg: filepath.Join(dir, "lifeboat.yaml"), vars: map[string]string{EnvPassword: testPassword}}
	e.writeConfig("repository:\n  path: " + filepath.Join(dir, "repo") + "\naudit:\n  path: " + filepath.Join(dir, "audit.jsonl") + "\nsources:\n" + sources)

	return e
}

func (e *env) writeConfig(text string) {
	e.t.Helper()

	if err := os.WriteFile(e.cfg, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	out, err string
	code     int
}

func (e *env) run(args ...string) result {
	e.t.Helper()

	var out, errb bytes.Buffer

	a := &App{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return e.vars[k] },
		IsTerminal: func(any) bool { return false },
		tamper:     e.tamper,
		Clock:      e.clock,
	}

	err := a.Run(context.Background(), append([]string{"--config", e.cfg}, args...))
	if err != nil {
		errb.WriteString("lifeboat: " + err.Error() + "\n")
	}

	return result{out: out.String(), err: errb.String(), code: ExitCode(err)}
}

func (e *env) mustRun(args ...string) string {
	e.t.Helper()

	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("lifeboat %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}

	return r.out
}

func (e *env) snapshots(source string) []*repo.Snapshot {
	e.t.Helper()

	args := []string{"snapshots", "--json"}
	if source != "" {
		args = append(args, "--source", source)
	}

	var snaps []*repo.Snapshot
	if err := json.Unmarshal([]byte(e.mustRun(args...)), &snaps); err != nil {
		e.t.Fatalf("snapshots --json: %v", err)
	}

	return snaps
}

// repoFiles lists the repository's files with their sizes, to prove a failed
// command wrote nothing.
func (e *env) repoFiles() map[string]int64 {
	e.t.Helper()

	out := map[string]int64{}
	root := filepath.Join(e.dir, "repo")

	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out[p] = fi.Size()
		}

		return nil
	})

	return out
}

func (e *env) expectFailure(code int, wantInMsg []string, args ...string) result {
	e.t.Helper()

	r := e.run(args...)
	if r.code != code {
		e.t.Fatalf("lifeboat %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.out, r.err)
	}

	for _, w := range wantInMsg {
		if !strings.Contains(r.err, w) {
			e.t.Errorf("lifeboat %s: message lacks %q:\n%s", strings.Join(args, " "), w, r.err)
		}
	}

	if strings.Contains(r.out+r.err, testPassword) {
		e.t.Errorf("the password leaked into the output")
	}

	return r
}

func write(t *testing.T, path, content string) {
	t.Helper()

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sameMap(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}

	for k, v := range a {
		if b[k] != v {
			return false
		}
	}

	return true
}
