package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/config"
)

// TestConfigStoredInRepository: init and every backup keep the configuration
// they ran with in the repository, once per version; `config show` prints
// the newest or the one in use at a time; `config versions` lists them;
// snapshots never show them and prune keeps them all.
func TestConfigStoredInRepository(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "alpha")

	e := newEnv(t, "  data:\n    type: files\n    paths: ["+data+"]\n    retention: {latest: 1}\n")
	first := readFile(t, e.cfg)

	e.mustRun("init")

	if out := e.mustRun("config", "show"); out != first {
		t.Fatalf("config show after init printed\n%s\nwant the file as written:\n%s", out, first)
	}

	e.mustRun("backup", "data")
	e.mustRun("backup", "data")

	if n := versions(t, e); n != 1 {
		t.Fatalf("%d versions stored after init and two backups with one configuration, want 1", n)
	}

	between := time.Now()
	second := first + "# the second version\n"
	e.writeConfig(second)
	e.mustRun("backup", "data")

	if n := versions(t, e); n != 2 {
		t.Fatalf("%d versions stored after the configuration changed, want 2", n)
	}

	if out := e.mustRun("config", "show"); out != second {
		t.Errorf("config show printed\n%s\nwant the newest version", out)
	}

	if out := e.mustRun("config", "show", "--at", between.Format(time.RFC3339Nano)); out != first {
		t.Errorf("config show --at (before the change) printed\n%s\nwant the first version", out)
	}

	e.expectFailure(2, []string{"no configuration was stored", "at or before", "the oldest is from"},
		"config", "show", "--at", "2001-01-01 00:00")
	e.expectFailure(2, []string{"--at", "expected a time"}, "config", "show", "--at", "yesterday-ish")

	for _, s := range e.snapshots("") {
		if s.Source != "data" {
			t.Errorf("snapshots lists %s of source %q: the stored configuration must not show as a backup", s.ID, s.Source)
		}
	}

	e.mustRun("prune", "--reclaim-now")

	if n := versions(t, e); n != 2 {
		t.Errorf("%d versions left after prune, want both kept", n)
	}

	// A command that only reads stores nothing.
	e.writeConfig(second + "# a third version, only read\n")
	e.mustRun("snapshots")

	if n := versions(t, e); n != 2 {
		t.Errorf("%d versions after `snapshots` with a changed configuration, want 2: reading stores nothing", n)
	}
}

func versions(t *testing.T, e *env) int {
	t.Helper()

	out := strings.TrimSpace(e.mustRun("config", "versions"))
	lines := strings.Split(out, "\n")

	if !strings.HasPrefix(lines[0], "STORED") {
		t.Fatalf("config versions: %s", out)
	}

	return len(lines) - 1
}

// TestConfigRestore: `config restore -o FILE` writes the stored
// configuration 0600 with a header saying where it came from, refuses to
// replace a file without --force (leaving it as it was), and the file it
// writes is a configuration that works.
func TestConfigRestore(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "alpha")

	e := newEnv(t, "  data:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")

	dir := t.TempDir()
	out := filepath.Join(dir, "restored.yaml")

	e.expectFailure(2, []string{"-o FILE is required"}, "config", "restore")

	msg := e.mustRun("config", "restore", "-o", out)
	if !strings.Contains(msg, "wrote the configuration") || !strings.Contains(msg, "config check") {
		t.Errorf("config restore said: %s", msg)
	}

	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}

	if fi.Mode().Perm() != 0o600 {
		t.Errorf("restored configuration has mode %v, want 0600", fi.Mode().Perm())
	}

	got := readFile(t, out)
	if !strings.HasPrefix(got, "# Restored by `lifeboat config restore`") || !strings.HasSuffix(got, readFile(t, e.cfg)) {
		t.Errorf("restored configuration:\n%s\nwant a header and then the file as written", got)
	}

	if _, err := config.Load(out); err != nil {
		t.Errorf("the restored configuration does not load: %v", err)
	}

	// An existing file is never replaced without --force.
	write(t, out, "mine\n")
	e.expectFailure(2, []string{out + " exists", "--force"}, "config", "restore", "-o", out)

	if readFile(t, out) != "mine\n" {
		t.Errorf("a refused config restore changed the existing file")
	}

	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), link); err != nil {
		t.Fatal(err)
	}

	e.expectFailure(2, []string{"exists"}, "config", "restore", "-o", link)

	if _, err := os.Lstat(filepath.Join(dir, "elsewhere")); err == nil {
		t.Errorf("config restore followed a symbolic link")
	}

	e.mustRun("config", "restore", "-o", out, "--force")

	if !strings.HasSuffix(readFile(t, out), readFile(t, e.cfg)) {
		t.Errorf("config restore --force did not replace the file")
	}

	// The restored file works as the configuration.
	e.cfg = out
	e.mustRun("backup", "data")
}

// TestConfigStoredWithoutSecrets: the webhook URL (its path is a token)
// and a password in a URL never reach the repository; the rest is kept as
// written, and config restore says what to put back.
func TestConfigStoredWithoutSecrets(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "alpha")

	const token = "T0KEN-hook-5ecret"

	e := newEnv(t, "  data:\n    type: files\n    paths: ["+data+"]\n")
	e.writeConfig(readFile(t, e.cfg) + "notify:\n  webhook:\n    url: https://hooks.example.org/services/" + token + "   # the hook\n" +
		"    format: slack\n")
	e.mustRun("init")

	shown := e.mustRun("config", "show")
	if strings.Contains(shown, token) {
		t.Fatalf("the stored configuration holds the webhook token:\n%s", shown)
	}

	if !strings.Contains(shown, "url: "+config.RedactedWebhook+"   # the hook\n") || !strings.Contains(shown, "format: slack") {
		t.Errorf("the stored configuration lost its shape:\n%s", shown)
	}

	out := filepath.Join(t.TempDir(), "restored.yaml")
	if msg := e.mustRun("config", "restore", "-o", out); !strings.Contains(msg, "notify.webhook.url") {
		t.Errorf("config restore does not say the webhook URL must be put back: %s", msg)
	}

	if strings.Contains(readFile(t, out), token) {
		t.Errorf("the restored configuration holds the webhook token")
	}
}
