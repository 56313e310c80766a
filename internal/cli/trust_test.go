package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWebhookURLNeverShown: a webhook whose path is its secret token fails
// (the connection is dropped, so net/http's error quotes the URL); the
// drill's output, its records in every format, the audit trail, status and
// the report show the host but never the token.
func TestWebhookURLNeverShown(t *testing.T) {
	const token = "T0KEN-b3c9-secret-hook"

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Drop the connection without an answer: the client's *url.Error
		// then carries the URL it posted to.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()

	e, dir := backedUpUploads(t, `plans:
  files:
    tier: important
    steps:
      - restore: uploads
      - notify: "uploads recovered"
notify:
  webhook: {url: "`+srv.URL+`/services/`+token+`?key=`+token+`"}
`)

	var shown strings.Builder

	r := e.run("drill", "files", "--output", filepath.Join(dir, "report"))
	if r.code == 0 || !strings.Contains(r.out+r.err, "webhook") || !strings.Contains(r.out+r.err, srv.Listener.Addr().String()) {
		t.Fatalf("a failing webhook should fail the drill, naming the hook's host: exit %d\n%s\n%s", r.code, r.out, r.err)
	}

	shown.WriteString(r.out + r.err)

	r = e.run("recover", "files")
	shown.WriteString(r.out + r.err)

	for _, args := range [][]string{
		{"drill", "--show", "latest", "--format", "md"},
		{"drill", "--show", "latest", "--format", "json"},
		{"drill", "--show", "latest", "--format", "html"},
		{"audit"},
		{"status"},
		{"status", "--json"},
		{"report", "--format", "md"},
		{"report", "--format", "json"},
		{"report", "--format", "html"},
	} {
		r := e.run(args...)
		shown.WriteString(r.out + r.err)
	}

	for _, name := range []string{"report.md", "report.json", "report.html"} {
		shown.WriteString(readFile(t, filepath.Join(dir, "report", name)))
	}

	if b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl")); err == nil {
		shown.Write(b)
	}

	if !strings.Contains(shown.String(), "[redacted]") {
		t.Fatalf("the webhook's failure is not shown at all:\n%s", shown.String())
	}

	if strings.Contains(shown.String(), token) {
		t.Fatalf("the webhook's secret token was shown:\n%s", shown.String())
	}
}

// TestDrillOutputRefusesSymlink: a link planted where drill --output writes
// a report is refused by name and the file it points at stays as it was;
// reports are written 0600, and a second drill into the folder replaces them.
func TestDrillOutputRefusesSymlink(t *testing.T) {
	e, dir := backedUpUploads(t, "plans:\n  files:\n    steps:\n      - restore: uploads\n")

	out := filepath.Join(dir, "out")
	victim := filepath.Join(dir, "victim")
	write(t, victim, "precious\n")
	os.MkdirAll(out, 0o700)

	if err := os.Symlink(victim, filepath.Join(out, "report.md")); err != nil {
		t.Fatal(err)
	}

	e.expectFailure(1, []string{"--output: " + filepath.Join(out, "report.md") + " is a symbolic link", "remove it or choose another folder"}, "drill", "files", "--output", out)

	if got := readFile(t, victim); got != "precious\n" {
		t.Fatalf("the drill wrote through the link: %q", got)
	}

	if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o644 {
		t.Fatalf("the link's target changed mode: %v", fi.Mode())
	}

	fresh := filepath.Join(dir, "fresh")
	e.mustRun("drill", "files", "--output", fresh)
	e.mustRun("drill", "files", "--output", fresh)

	entries, _ := os.ReadDir(fresh)
	if len(entries) != 3 {
		t.Fatalf("expected the three reports only, found %v", entries)
	}

	for _, en := range entries {
		fi, err := os.Lstat(filepath.Join(fresh, en.Name()))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want a regular file with mode 0600", en.Name(), fi.Mode(), err)
		}
	}
}

// TestAuditAndStatusEscapeControls: an error holding a newline, a carriage
// return and an escape sequence (a drill command's output here) cannot forge
// a line or drive the terminal in `audit` or `status`: they show it escaped.
func TestAuditAndStatusEscapeControls(t *testing.T) {
	e, _ := backedUpUploads(t, `plans:
  files:
    steps:
      - restore: uploads
      - run: "true"
        drill: 'printf "broke\nFAKE LINE\r\033[2Jcleared" >&2; exit 3'
`)
	e.run("drill", "files")

	for _, args := range [][]string{{"audit"}, {"status"}} {
		out := e.run(args...).out

		if !strings.Contains(out, `broke\nFAKE LINE\r\x1b[2Jcleared`) {
			t.Errorf("lifeboat %s does not show the error escaped:\n%s", args[0], out)
		}

		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "FAKE LINE") || strings.ContainsAny(l, "\r\x1b") {
				t.Errorf("lifeboat %s printed a forged line or a control character: %q", args[0], l)
			}
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcode":      "plain text, ünïcode",
		"a\nFAKE LINE":             `a\nFAKE LINE`,
		"a\r\tb\x1b[31mc\x00":      `a\r\tb\x1b[31mc\x00`,
		"x\u2028y\u202ez\u0085":    `x\u2028y\u202ez\x85`,
		`already \n escaped stays`: `already \n escaped stays`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHalfWrittenCopySaysReplicate: a copy whose replication stopped before
// its last blob (the repository's format) says to finish it with replicate,
// not to run init; replicate does, and the copy then restores.
func TestHalfWrittenCopySaysReplicate(t *testing.T) {
	near := filepath.Join(t.TempDir(), "near")
	e, _ := backedUpUploads(t, "copies:\n  near:\n    path: "+near+"\n")
	e.mustRun("replicate")

	// What an interrupted replication leaves: every blob but the format.
	if err := os.Remove(filepath.Join(near, "kopia.repository.f")); err != nil {
		t.Fatal(err)
	}

	r := e.expectFailure(ExitNoRepository, []string{"copy near (" + near + "): no repository here yet", "a replication did not finish", "run `lifeboat replicate --to near`"}, "--from", "near", "snapshots")
	if strings.Contains(r.err, "init") {
		t.Fatalf("a half-written copy still advises init:\n%s", r.err)
	}

	e.mustRun("replicate", "--to", "near")

	target := filepath.Join(t.TempDir(), "r")
	e.mustRun("--from", "near", "restore", "uploads", "--target", target)

	if _, err := os.Stat(filepath.Join(target, "covers", "book-1.jpg")); err != nil {
		t.Fatalf("the completed copy does not restore: %v", err)
	}
}

// TestConfigCheckReportsEnvironment: config check names a password variable
// that is not set, a socket that does not exist and one that is not a socket;
// with the variable set and the paths right, it says nothing of them.
func TestConfigCheckReportsEnvironment(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "not-a-socket")
	write(t, plain, "")

	missing := filepath.Join(dir, "mysqld.sock")
	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+missing+"\n    user: backup\n    password_env: LB_TEST_DB_PASSWORD\n"+
		"    verify:\n      server: {socket: "+plain+", user: verify, password_env: LB_TEST_VERIFY_PASSWORD}\n")
	e.writeConfig(readFile(t, e.cfg) + "notify:\n  email: {smtp: \"mail.example.org:587\", from: a@example.org, to: [b@example.org], username: lb, password_env: LB_TEST_SMTP_PASSWORD}\n")

	r := e.run("config", "check")
	for _, want := range []string{
		"warning: sources.db.password_env: $LB_TEST_DB_PASSWORD is not set in this environment",
		"warning: sources.db.socket: " + missing + " does not exist",
		"warning: sources.db.verify.server.password_env: $LB_TEST_VERIFY_PASSWORD is not set",
		"warning: sources.db.verify.server.socket: " + plain + " is not a socket",
		"warning: notify.email.password_env: $LB_TEST_SMTP_PASSWORD is not set",
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("config check does not report %q:\n%s", want, r.err)
		}
	}

	// Set right, nothing is reported.
	l, err := net.Listen("unix", missing)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	e.writeConfig(strings.ReplaceAll(readFile(t, e.cfg), plain, missing))
	e.vars["LB_TEST_DB_PASSWORD"], e.vars["LB_TEST_VERIFY_PASSWORD"], e.vars["LB_TEST_SMTP_PASSWORD"] = "x", "y", "z"

	if r := e.run("config", "check"); r.code != 0 || strings.Contains(r.err, "warning") {
		t.Fatalf("config check with everything in place: exit %d\n%s", r.code, r.err)
	}
}

// TestConfigCheckCutsLongValues: a 2 MB value where a short one belongs (and
// a 2 MB unknown key) is reported by its first bytes and its length, not
// echoed whole.
func TestConfigCheckCutsLongValues(t *testing.T) {
	huge := strings.Repeat("A", 2<<20)

	for name, cfg := range map[string]string{
		"value":       "repository:\n  path: /r\nsources:\n  u:\n    type: files\n    tier: " + huge + "\n    paths: [/tmp]\n",
		"quoted":      "repository:\n  path: /r\nsources:\n  u:\n    type: files\n    paths: [/tmp]\n    ignore_unreadable: " + huge + "\n",
		"unknown key": "repository:\n  path: /r\nsources:\n  u:\n    type: files\n    paths: [/tmp]\n    ? " + huge + "\n    : 1\n",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "")
			e.writeConfig(cfg)

			r := e.expectFailure(2, []string{"lifeboat.yaml:", "AAAA", fmt.Sprintf("... (%d", len(huge)/1000), " bytes)"}, "config", "check")
			if len(r.err) > 2000 {
				t.Fatalf("a %d-byte message for a %d-byte value:\n%.500s", len(r.err), len(huge), r.err)
			}
		})
	}
}

// backedUpUploads is an installation with a files source (uploads) backed up
// once and the configuration extra added; it returns the scratch folder.
func backedUpUploads(t *testing.T, extra string) (*env, string) {
	t.Helper()

	dir := t.TempDir()
	uploads := filepath.Join(dir, "uploads")
	makeUploads(t, uploads)

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+uploads+"]\n")
	e.writeConfig(readFile(t, e.cfg) + extra)
	e.mustRun("init")
	e.mustRun("backup", "uploads")

	return e, dir
}
