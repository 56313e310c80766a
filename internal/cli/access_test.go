package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
)

const (
	alicePassword = "alice's first passphrase 42"
	aliceNew      = "alice's second passphrase 43"
)

// runWith runs lifeboat with stdin made from what the command printed so
// far (a user reading the screen and typing back).
func (e *env) runWith(stdin func(out *bytes.Buffer) io.Reader, args ...string) result {
	e.t.Helper()

	var out, errb bytes.Buffer

	a := &App{
		Stdin: stdin(&out), Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return e.vars[k] },
		IsTerminal: func(any) bool { return false },
		Clock:      e.clock,
	}

	err := a.Run(context.Background(), append([]string{"--config", e.cfg}, args...))
	if err != nil {
		errb.WriteString("lifeboat: " + err.Error() + "\n")
	}

	return result{out: out.String(), err: errb.String(), code: ExitCode(err)}
}

func typed(line string) func(*bytes.Buffer) io.Reader {
	return func(*bytes.Buffer) io.Reader { return strings.NewReader(line + "\n") }
}

// appCode reads the otpauth URI off the screen when the command asks for
// the code, and types the code the app would show steps from now.
type appCode struct {
	out    *bytes.Buffer
	clock  clock.Clock
	steps  int
	secret *string
	r      io.Reader
}

func (c *appCode) Read(p []byte) (int, error) {
	if c.r == nil {
		i := strings.Index(c.out.String(), "otpauth://")
		if i < 0 {
			return 0, errors.New("no otpauth URI on the screen")
		}

		key, err := otp.NewKeyFromURL(strings.Fields(c.out.String()[i:])[0])
		if err != nil {
			return 0, err
		}

		code, err := totp.GenerateCode(key.Secret(), c.clock.Now().Add(time.Duration(c.steps)*30*time.Second))
		if err != nil {
			return 0, err
		}

		*c.secret = key.Secret()
		c.r = strings.NewReader(code + "\n")
	}

	return c.r.Read(p)
}

// accessStore opens the repository as the daemon would, with a store on it.
func (e *env) accessStore(c clock.Clock) *access.Store {
	e.t.Helper()

	ctx := context.Background()

	r, err := repo.Open(ctx, filepath.Join(e.dir, "repo"), repo.Password{Value: testPassword}, nil)
	if err != nil {
		e.t.Fatalf("open the repository: %v", err)
	}

	e.t.Cleanup(func() { r.Close(ctx) })

	return &access.Store{Repo: r, Clock: c}
}

// TestUserAndTokenCommands: users and tokens made on the command line log
// in and authenticate through the store the HTTP API uses; every change is
// audited by name; no password, TOTP seed or token is ever printed but the
// once it must be, nor written to the audit trail or the log.
func TestUserAndTokenCommands(t *testing.T) {
	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+t.TempDir()+"]\n")
	fake := clock.NewFake(time.Now())
	e.clock = fake
	e.mustRun("init")

	var shown strings.Builder // everything printed but the two creation prints

	ok := func(r result, args string) result {
		t.Helper()

		if r.code != 0 {
			t.Fatalf("lifeboat %s: exit %d\n%s%s", args, r.code, r.out, r.err)
		}

		shown.WriteString(r.out + r.err)

		return r
	}

	refused := func(code int, want string, r result, args string) {
		t.Helper()
		shown.WriteString(r.out + r.err)

		if r.code != code || !strings.Contains(r.err, want) {
			t.Errorf("lifeboat %s: exit %d, want %d with %q:\n%s", args, r.code, code, want, r.err)
		}
	}

	ok(e.runWith(typed(alicePassword), "-v", "user", "add", "alice", "--role", "operator", "--password-stdin"), "user add")
	refused(2, "at least 12 characters", e.runWith(typed("short"), "user", "add", "bob", "--role", "viewer", "--password-stdin"), "user add short")
	refused(2, "pass --password-stdin", e.run("user", "add", "bob", "--role", "viewer"), "user add without a terminal")
	refused(2, "already exists", e.runWith(typed(alicePassword), "user", "add", "alice", "--role", "viewer", "--password-stdin"), "user add alice again")
	refused(2, `unknown role "root"`, e.runWith(typed(alicePassword), "user", "add", "bob", "--role", "root", "--password-stdin"), "user add --role root")
	refused(2, "user nobody: not found", e.run("user", "remove", "nobody"), "user remove nobody")
	refused(2, "user nobody: not found", e.runWith(typed(aliceNew), "user", "passwd", "nobody", "--password-stdin"), "user passwd nobody")
	refused(2, "token nobody: not found", e.run("token", "revoke", "nobody"), "token revoke nobody")

	ok(e.run("user", "role", "alice", "admin"), "user role")
	ok(e.runWith(typed(aliceNew), "user", "passwd", "alice", "--password-stdin"), "user passwd")

	// A wrong code leaves the second factor off.
	var secret string
	r := e.runWith(func(out *bytes.Buffer) io.Reader { return &appCode{out: out, clock: fake, steps: 5, secret: &secret} }, "user", "mfa", "alice")
	if r.code != 1 || !strings.Contains(r.err, "the second factor was not enabled") {
		t.Errorf("mfa with a wrong code: exit %d:\n%s", r.code, r.err)
	}

	if out := ok(e.run("user", "list"), "user list").out; !strings.Contains(out, "none") {
		t.Errorf("user list after a refused enrolment shows a second factor:\n%s", out)
	}

	mfa := e.runWith(func(out *bytes.Buffer) io.Reader { return &appCode{out: out, clock: fake, secret: &secret} }, "user", "mfa", "alice")
	if mfa.code != 0 || !strings.Contains(mfa.out, "second factor of alice enabled") || !strings.Contains(mfa.out, "▀") || !strings.Contains(mfa.out, "issuer=Lifeboat") {
		t.Fatalf("mfa: exit %d\n%s%s", mfa.code, mfa.out, mfa.err)
	}

	var users []access.UserInfo
	if err := json.Unmarshal([]byte(ok(e.run("user", "list", "--json"), "user list").out), &users); err != nil ||
		len(users) != 1 || users[0].Role != access.Admin || !users[0].MFA || users[0].RecoveryLeft != access.RecoveryCodes {
		t.Errorf("user list --json: %+v, %v", users, err)
	}

	if out := ok(e.run("user", "list"), "user list").out; !strings.Contains(out, "alice") || !strings.Contains(out, "TOTP, 10 recovery codes left") {
		t.Errorf("user list:\n%s", out)
	}

	refused(2, `--expires "soon"`, e.run("token", "create", "ci", "--role", "operator", "--expires", "soon"), "token create --expires soon")

	created := e.run("-v", "token", "create", "ci", "--role", "operator", "--expires", "30d")
	tok := strings.TrimSpace(created.out)

	if created.code != 0 || !strings.HasPrefix(tok, access.TokenPrefix) || strings.Contains(created.err, tok) || !strings.Contains(created.err, "shown only this once") {
		t.Fatalf("token create: exit %d\nstdout: %s\nstderr: %s", created.code, created.out, created.err)
	}

	if out := ok(e.run("token", "list"), "token list").out; !strings.Contains(out, "ci") || !strings.Contains(out, "active") {
		t.Errorf("token list:\n%s", out)
	}

	ok(e.run("-v", "token", "list", "--json"), "token list --json")

	// The store the HTTP API uses sees what the commands made.
	fake.Advance(30 * time.Second)
	api := e.accessStore(fake)
	ctx := context.Background()

	code, _ := totp.GenerateCode(secret, fake.Now())
	if p, err := api.Login(ctx, "alice", aliceNew, code); err != nil || p.Role != access.Admin {
		t.Errorf("login with the new password and a code: %+v, %v", p, err)
	}

	if p, err := api.Token(ctx, tok); err != nil || p.Role != access.Operator {
		t.Errorf("the token: %+v, %v", p, err)
	}

	ok(e.run("token", "revoke", "ci"), "token revoke")
	fake.Advance(access.DefaultRefresh)

	if _, err := api.Token(ctx, tok); !errors.Is(err, access.ErrTokenRevoked) {
		t.Errorf("the token revoked on the command line: %v, want ErrTokenRevoked", err)
	}

	refused(2, "already revoked", e.run("token", "revoke", "ci"), "token revoke again")
	ok(e.run("user", "mfa", "alice", "--disable"), "user mfa --disable")
	ok(e.run("user", "remove", "alice"), "user remove")

	b, err := os.ReadFile(filepath.Join(e.dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}

	trail := string(b)
	recoveryCode := strings.Fields(mfa.out[strings.Index(mfa.out, "not shown again.")+len("not shown again."):])[0]

	for what, s := range map[string]string{"the password": alicePassword, "the new password": aliceNew, "the TOTP seed": secret, "the token": tok, "a recovery code": recoveryCode} {
		if strings.Contains(trail, s) {
			t.Errorf("%s is in the audit trail", what)
		}

		if strings.Contains(shown.String(), s) {
			t.Errorf("%s is in the output (or the log) of a command that does not create it", what)
		}
	}

	if strings.Contains(mfa.out+mfa.err, alicePassword) || strings.Contains(mfa.out+mfa.err, aliceNew) {
		t.Errorf("a password is in the output of user mfa")
	}

	recs, _ := audit.Read(filepath.Join(e.dir, "audit.jsonl"))
	for _, want := range []struct{ action, outcome, detail string }{
		{"user add", audit.OK, "user alice, role operator"},
		{"user add", audit.Failed, "already exists"},
		{"user role", audit.OK, "user alice: role admin"},
		{"user passwd", audit.OK, "user alice: password changed"},
		{"mfa enrol", audit.Failed, "not enabled"},
		{"mfa enrol", audit.OK, "user alice: TOTP enrolled, 10 recovery codes"},
		{"token create", audit.OK, "token ci, role operator, expires"},
		{"token revoke", audit.OK, "token ci"},
		{"mfa disable", audit.OK, "user alice: second factor removed"},
		{"user remove", audit.OK, "user alice"},
	} {
		found := false
		for _, r := range recs {
			found = found || r.Action == want.action && r.Outcome == want.outcome && strings.Contains(r.Detail, want.detail)
		}

		if !found {
			t.Errorf("the audit trail lacks %s %s %q:\n%s", want.action, want.outcome, want.detail, trail)
		}
	}
}

// TestAccessOnBareMachine: the users and tokens are in the repository, so a
// machine with nothing but the repository and its password has them.
func TestAccessOnBareMachine(t *testing.T) {
	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+t.TempDir()+"]\n")
	e.mustRun("init")

	if r := e.runWith(typed(alicePassword), "user", "add", "alice", "--role", "auditor", "--password-stdin"); r.code != 0 {
		t.Fatalf("user add: %s", r.err)
	}

	tok := strings.TrimSpace(e.mustRun("token", "create", "grafana", "--role", "viewer"))

	repoDir := filepath.Join(e.dir, "repo")
	vars := map[string]string{EnvPassword: testPassword}
	system := filepath.Join(t.TempDir(), "lifeboat.yaml")

	if out := mustBare(t, vars, system, "--repo", repoDir, "user", "list"); !strings.Contains(out, "alice") || !strings.Contains(out, "auditor") {
		t.Errorf("user list on a bare machine:\n%s", out)
	}

	out := mustBare(t, vars, system, "--repo", repoDir, "token", "list")
	if !strings.Contains(out, "grafana") || strings.Contains(out, tok) {
		t.Errorf("token list on a bare machine:\n%s", out)
	}

	api := e.accessStore(nil)

	if p, err := api.Login(context.Background(), "alice", alicePassword, ""); err != nil || p.Role != access.Auditor {
		t.Errorf("login from the reopened repository: %+v, %v", p, err)
	}

	if p, err := api.Token(context.Background(), tok); err != nil || p.Name != "grafana" {
		t.Errorf("the token from the reopened repository: %+v, %v", p, err)
	}
}
