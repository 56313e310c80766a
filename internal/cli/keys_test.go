package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"lifeboat/internal/clock"
	"lifeboat/internal/testenv"
)

// TestPasswordCommand: repository.password_command opens the repository; the
// password reaches neither the output nor the command's environment; a
// failing command is refused with a message that names the key and hides
// what the command printed.
func TestPasswordCommand(t *testing.T) {
	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+t.TempDir()+"]\n")
	e.mustRun("init")

	dir := filepath.Join(e.dir, "vault")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}

	write(t, filepath.Join(dir, "pw"), testPassword+"\n")
	envDump := filepath.Join(dir, "env")
	delete(e.vars, EnvPassword)

	orig, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}

	base := string(orig)
	e.writeConfig(strings.Replace(base, "audit:", "  password_command: env > "+envDump+"; cat "+filepath.Join(dir, "pw")+"\naudit:", 1))

	r := e.run("snapshots")
	if r.code != 0 {
		t.Fatalf("snapshots with password_command: exit %d\n%s", r.code, r.err)
	}

	if strings.Contains(r.out+r.err, testPassword) {
		t.Fatal("the password leaked into the output")
	}

	b, err := os.ReadFile(envDump)
	if err != nil {
		t.Fatal(err)
	}

	if strings.Contains(string(b), testPassword) || strings.Contains(string(b), EnvPassword) {
		t.Fatalf("the password command's environment holds the password:\n%s", b)
	}

	// A wrong password from the command is the usual refusal.
	e.writeConfig(strings.Replace(base, "audit:", "  password_command: echo not-the-password\naudit:", 1))
	e.expectFailure(ExitWrongPassword, []string{"wrong password from repository.password_command"}, "snapshots")

	// A failing command: its output is not shown, the key is named.
	e.writeConfig(strings.Replace(base, "audit:", "  password_command: echo leaked-7f3a; exit 4\naudit:", 1))
	r = e.expectFailure(ExitUsage, []string{"repository.password_command", "exit status 4", "its output is not shown"}, "snapshots")

	if strings.Contains(r.out+r.err, "leaked-7f3a") {
		t.Fatalf("a failing command's output was shown:\n%s", r.err)
	}

	// Both a file and a command: refused when the configuration loads.
	e.writeConfig(strings.Replace(base, "audit:", "  password_file: "+filepath.Join(dir, "pw")+"\n  password_command: cat x\naudit:", 1))
	e.expectFailure(ExitUsage, []string{"give password_file or password_command, not both"}, "snapshots")
}

// TestHygieneWarnings: a password file, the repository folder and a
// configuration holding a secret that others can reach are each named with
// the command that fixes them; once private, no warning.
func TestHygieneWarnings(t *testing.T) {
	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+t.TempDir()+"]\n")
	e.mustRun("init")

	pwFile := filepath.Join(e.dir, "pw")
	write(t, pwFile, testPassword+"\n") // 0644
	delete(e.vars, EnvPassword)

	repoDir := filepath.Join(e.dir, "repo")
	if err := os.Chmod(repoDir, 0o755); err != nil {
		t.Fatal(err)
	}

	maskKey := filepath.Join(e.dir, "masking.key")
	write(t, maskKey, "hygiene-masking-key-0123456789\n") // 0644

	e.writeConfig("repository:\n  path: " + repoDir + "\n  password_file: " + pwFile + "\naudit:\n  path: " + filepath.Join(e.dir, "audit.jsonl") +
		"\nnotify:\n  webhook:\n    url: https://hooks.example.com/T0K3N\nsources:\n  docs:\n    type: files\n    paths: [" + t.TempDir() + "]\n" +
		"  db:\n    type: mysql\n    socket: " + filepath.Join(e.dir, "none.sock") + "\n    user: root\n    masking:\n      key_file: " + maskKey + "\n      rules: {shop.t.email: email}\n")

	if err := os.Chmod(e.cfg, 0o644); err != nil {
		t.Fatal(err)
	}

	r := e.run("snapshots")
	if r.code != 0 {
		t.Fatalf("snapshots: exit %d\n%s", r.code, r.err)
	}

	for _, w := range []string{
		"warning: the repository password file " + pwFile + " is open to other users (mode 0644): chmod 600 " + pwFile,
		"warning: the repository folder " + repoDir + " is open to other users (mode 0755): chmod 700 " + repoDir,
		"warning: sources.db.masking.key_file " + maskKey + " is open to other users (mode 0644): chmod 600 " + maskKey,
		"warning: the configuration " + e.cfg + " holds secrets (notify.webhook.url) and other users can read it (mode 0644): chmod 600 " + e.cfg,
	} {
		if !strings.Contains(r.err, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.err)
		}
	}

	for _, p := range []string{pwFile, e.cfg, maskKey} {
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.Chmod(repoDir, 0o700); err != nil {
		t.Fatal(err)
	}

	if r := e.run("snapshots"); r.code != 0 || strings.Contains(r.err, "warning:") {
		t.Fatalf("private paths still warned (exit %d):\n%s", r.code, r.err)
	}
}

// TestChangePassword: after `key change-password` the old password is
// refused and the new one opens the repository; a copy keeps the old
// wrapping, and status names it, until replicate gives it the new one;
// the change is audited without the password; the same password again and
// a missing new one are refused without changing anything.
func TestChangePassword(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	near := filepath.Join(t.TempDir(), "near")

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.writeConfig(readFile(t, e.cfg) + "copies:\n  near:\n    path: " + near + "\n")
	e.mustRun("init")
	e.mustRun("backup", "uploads")
	e.mustRun("replicate")

	const newPW = "n3w-pass-word-5d8e"

	// Refusals first: nothing changes.
	e.expectFailure(ExitUsage, []string{"no new password", "--new-password-env"}, "key", "change-password")
	e.vars["NEW_PW"] = testPassword
	e.expectFailure(ExitUsage, []string{"the new password is the current one"}, "key", "change-password", "--new-password-env", "NEW_PW")
	e.mustRun("snapshots")

	e.vars["NEW_PW"] = newPW
	out := e.mustRun("key", "change-password", "--new-password-env", "NEW_PW")

	for _, w := range []string{"the old one no longer opens it", "Copies still open with the old password until their next replication: near", "The data's key did not change"} {
		if !strings.Contains(out, w) {
			t.Errorf("change-password output lacks %q:\n%s", w, out)
		}
	}

	// The old password is refused on the repository, the new one works.
	e.expectFailure(ExitWrongPassword, []string{"wrong password"}, "snapshots")
	e.vars[EnvPassword] = newPW

	if n := len(e.snapshots("uploads")); n != 1 {
		t.Fatalf("the new password lists %d snapshots", n)
	}

	// The copy still has the old wrapping: status says so, and the old
	// password still opens it.
	if out := e.run("status").out; !strings.Contains(out, "still on the old password: near") {
		t.Fatalf("status does not name the copy on the old password:\n%s", out)
	}

	e.vars[EnvPassword] = testPassword
	if got := e.snapshotsFrom("near"); len(got) != 1 {
		t.Fatalf("before replicate, the old password opens the copy: %v", got)
	}

	e.vars[EnvPassword] = newPW
	e.mustRun("replicate")

	if out := e.run("status").out; strings.Contains(out, "old password") {
		t.Fatalf("status still names a copy on the old password after replicate:\n%s", out)
	}

	if got := e.snapshotsFrom("near"); len(got) != 1 {
		t.Fatalf("after replicate, the new password opens the copy: %v", got)
	}

	e.vars[EnvPassword] = testPassword
	e.expectFailure(ExitWrongPassword, []string{"wrong password"}, "--from", "near", "snapshots")

	// Audited, without either password.
	b, err := os.ReadFile(filepath.Join(e.dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}

	if !strings.Contains(string(b), `"action":"key change-password"`) {
		t.Fatalf("the change is not audited:\n%s", b)
	}

	if strings.Contains(string(b), newPW) || strings.Contains(string(b), testPassword) {
		t.Fatal("a password reached the audit log")
	}
}

// bareRun runs lifeboat as on a bare machine: no configuration file found
// (HOME and the working folder are empty), no LIFEBOAT_PASSWORD.
func bareRun(t *testing.T, home string, args ...string) result {
	t.Helper()

	var out, errb bytes.Buffer

	a := &App{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return map[string]string{"HOME": home}[k] },
		IsTerminal: func(any) bool { return false },
	}
	a.ro.systemConfig = filepath.Join(home, "no-system-config.yaml")

	err := a.Run(context.Background(), args)
	if err != nil {
		errb.WriteString("lifeboat: " + err.Error() + "\n")
	}

	return result{out: out.String(), err: errb.String(), code: ExitCode(err)}
}

// TestEscrowDrill: a kit sealed to an age key and split 2-of-3 among the
// guide's roles opens the repository on an empty HOME without the
// configuration, from two shares or from the key, and restores a source
// identical to its data; one share is refused; status reminds of the drill
// until one passed, then names it.
func TestEscrowDrill(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "uploads")

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(t.TempDir(), "escrow.key")
	write(t, keyFile, "# escrow key of the security officer\n"+id.String()+"\n")

	kit := filepath.Join(t.TempDir(), "kit")
	out := e.mustRun("key", "kit", "--out", kit, "--recipient", id.Recipient().String(),
		"--holder", "incident manager", "--holder", "security officer", "--holder", "CTO", "--threshold", "2")

	if !strings.Contains(out, "share-1.txt ... share-3.txt (any 2 of them give the password)") {
		t.Fatalf("key kit:\n%s", out)
	}

	for _, f := range []string{"kit.txt", "kit.html", "password.age", "share-1.txt", "share-2.txt", "share-3.txt"} {
		fi, err := os.Stat(filepath.Join(kit, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, err, fi)
		}

		if b, _ := os.ReadFile(filepath.Join(kit, f)); strings.Contains(string(b), testPassword) {
			t.Fatalf("%s holds the password", f)
		}
	}

	if out := e.run("status").out; !strings.Contains(out, "escrow drill: PROBLEM: a recovery kit was written") {
		t.Fatalf("status does not ask for a drill:\n%s", out)
	}

	if out := e.mustRun("report"); !strings.Contains(out, "a recovery kit was written and no escrow drill has passed") {
		t.Fatalf("the report does not ask for a drill:\n%s", out)
	}

	// The bare machine: the configuration is gone, HOME is empty.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Chdir(home)

	saved := readFile(t, e.cfg)
	if err := os.Remove(e.cfg); err != nil {
		t.Fatal(err)
	}

	kitTxt := filepath.Join(kit, "kit.txt")
	share := func(n int) string { return filepath.Join(kit, fmt.Sprintf("share-%d.txt", n)) }

	// One share alone is refused, and changes nothing.
	before := e.repoFiles()
	r := bareRun(t, home, "key", "escrow-drill", "--kit", kitTxt, "--share", share(2))

	if r.code != ExitUsage || !strings.Contains(r.err, "too few shares: 1 given, 2 of the 3 holders are needed") {
		t.Fatalf("one share: exit %d\n%s", r.code, r.err)
	}

	if !sameMap(before, e.repoFiles()) {
		t.Fatal("a refused drill changed the repository")
	}

	for name, args := range map[string][]string{
		"2 of 3 shares":             {"--share", share(1), "--share", share(3)},
		"a recipient's private key": {"--identity", keyFile},
	} {
		target := filepath.Join(t.TempDir(), "restored")
		r := bareRun(t, home, append([]string{"key", "escrow-drill", "--kit", kitTxt, "--target", target}, args...)...)

		if r.code != 0 || !strings.Contains(r.out, "escrow drill passed: the kit and "+name) {
			t.Fatalf("drill with %s: exit %d\n%s\n%s", name, r.code, r.out, r.err)
		}

		if got, want := readFile(t, filepath.Join(target, "covers", "book-1.jpg")), readFile(t, filepath.Join(data, "covers", "book-1.jpg")); got != want {
			t.Fatalf("drill with %s restored other data", name)
		}

		if strings.Contains(r.out+r.err, testPassword) {
			t.Fatal("the password leaked into the drill's output")
		}
	}

	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Fatalf("the drill wrote into HOME: %v", entries)
	}

	// A wrong key is refused by name.
	other, _ := age.GenerateX25519Identity()
	otherKey := filepath.Join(t.TempDir(), "other.key")
	write(t, otherKey, other.String()+"\n")

	if r := bareRun(t, home, "key", "escrow-drill", "--kit", kitTxt, "--identity", otherKey); r.code != ExitUsage || !strings.Contains(r.err, "not one the password was sealed to") {
		t.Fatalf("another key: exit %d\n%s", r.code, r.err)
	}

	e.writeConfig(saved)

	if out := e.run("status").out; !strings.Contains(out, "escrow drill: passed") || strings.Contains(out, "escrow drill: PROBLEM") {
		t.Fatalf("status does not show the passed drill:\n%s", out)
	}

	if out := e.mustRun("report"); !strings.Contains(out, "## Key escrow") || !strings.Contains(out, "a recipient's private key") || strings.Contains(out, "no escrow drill has passed") {
		t.Fatalf("the report does not show the passed drill:\n%s", out)
	}

	// Half a year later, the pass is stale.
	e.clock = clock.NewFake(time.Now().Add(181 * 24 * time.Hour))

	if out := e.run("status").out; !strings.Contains(out, "more than 180 days ago: run `lifeboat key escrow-drill`") {
		t.Fatalf("status does not flag the stale drill:\n%s", out)
	}
}

// TestEscrowDrillDatabase: on an empty HOME, from the kit and an age key
// alone, the drill restores a database source into a scratch
// database on the server it is given, with the rows of the backup; without
// a server it says which flags name one.
func TestEscrowDrillDatabase(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20));
		INSERT INTO shop.orders (item) VALUES ('one'), ('two')`)

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n")
	e.mustRun("init")
	e.mustRun("backup", "db")

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(t.TempDir(), "escrow.key")
	write(t, keyFile, id.String()+"\n")

	kit := filepath.Join(t.TempDir(), "kit")
	e.mustRun("key", "kit", "--out", kit, "--recipient", id.Recipient().String())

	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Chdir(home)

	if err := os.Remove(e.cfg); err != nil {
		t.Fatal(err)
	}

	drill := []string{"key", "escrow-drill", "--kit", filepath.Join(kit, "kit.txt"), "--identity", keyFile}

	if r := bareRun(t, home, drill...); r.code == 0 || !strings.Contains(r.err, "name its server with --mysql-socket or --mysql-host") {
		t.Fatalf("a database drill without a server: exit %d\n%s", r.code, r.err)
	}

	r := bareRun(t, home, append(drill, "--mysql-socket", db.Socket, "--mysql-user", "root")...)
	if r.code != 0 || !strings.Contains(r.out, "escrow drill passed") || !strings.Contains(r.out, "the scratch database lifeboat_escrow_drill_") {
		t.Fatalf("database drill: exit %d\n%s\n%s", r.code, r.out, r.err)
	}

	name := "lifeboat_escrow_drill_" + strings.SplitN(strings.SplitAfter(r.out, "the scratch database lifeboat_escrow_drill_")[1], " ", 2)[0]

	var items string
	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM " + name + ".orders").Scan(&items)

	if items != "one,two" {
		t.Fatalf("the scratch database %s holds %q", name, items)
	}
}
