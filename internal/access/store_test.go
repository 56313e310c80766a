package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

var repoPW = repo.Password{Value: "repository password 4711", Origin: "test"}

const alicePW = "alice's long passphrase 93"

// rig is a real repository in a temporary folder, a store on it and an
// audit log, on a fake clock.
type rig struct {
	t     *testing.T
	path  string
	clock *clock.Fake
	repo  *repo.Repository
	store *Store
	audit string
}

func newRig(t *testing.T) *rig {
	t.Helper()

	ctx := context.Background()
	dir := t.TempDir()
	g := &rig{t: t, path: filepath.Join(dir, "repo"), clock: clock.NewFake(time.Date(2026, 3, 4, 10, 0, 7, 0, time.UTC)), audit: filepath.Join(dir, "audit.jsonl")}

	if err := repo.Create(ctx, g.path, repoPW); err != nil {
		t.Fatalf("create repository: %v", err)
	}

	g.repo, g.store = g.open()

	return g
}

// open opens the repository again, as another process would, with a store
// of its own.
func (g *rig) open() (*repo.Repository, *Store) {
	g.t.Helper()

	ctx := context.Background()
	where := repo.AtPath(g.path)
	where.Clock = g.clock

	r, err := repo.OpenAt(ctx, where, repoPW, nil)
	if err != nil {
		g.t.Fatalf("open repository: %v", err)
	}

	g.t.Cleanup(func() { r.Close(ctx) })

	return r, &Store{Repo: r, Audit: &audit.Log{Path: g.audit, Clock: g.clock}, Clock: g.clock}
}

func (g *rig) trail() []audit.Record {
	g.t.Helper()

	recs, err := audit.Read(g.audit)
	if err != nil {
		g.t.Fatalf("read the audit trail: %v", err)
	}

	return recs
}

// count counts the audit records of action and outcome whose detail holds
// part.
func count(recs []audit.Record, action, outcome, part string) int {
	n := 0

	for _, r := range recs {
		if r.Action == action && r.Outcome == outcome && strings.Contains(r.Detail, part) {
			n++
		}
	}

	return n
}

// noSecret fails when any secret shows in the audit trail or the stored
// records.
func (g *rig) noSecret(secrets ...string) {
	g.t.Helper()

	b, err := os.ReadFile(g.audit)
	if err != nil {
		g.t.Fatal(err)
	}

	for _, kind := range []string{records.KindUser, records.KindToken} {
		raw, err := g.repo.Records(context.Background(), kind)
		if err != nil {
			g.t.Fatal(err)
		}

		j, _ := json.Marshal(raw)
		b = append(b, j...)
	}

	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			g.t.Errorf("a secret (%.6s...) is in the audit trail or the stored records", s)
		}
	}
}

func (g *rig) addAlice(role Role) {
	g.t.Helper()

	if err := g.store.AddUser(context.Background(), "", "alice", role, alicePW); err != nil {
		g.t.Fatalf("add alice: %v", err)
	}
}

func TestPasswordLogin(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	if err := g.store.AddUser(ctx, "", "bob", Operator, "short"); err == nil || !strings.Contains(err.Error(), "at least 12 characters") {
		t.Errorf("a short password: %v, want it refused", err)
	}

	if err := g.store.AddUser(ctx, "", "bob", "root", alicePW); err == nil || !strings.Contains(err.Error(), `unknown role "root"`) {
		t.Errorf("an unknown role: %v, want it refused", err)
	}

	g.addAlice(Operator)

	if err := g.store.AddUser(ctx, "", "alice", Viewer, alicePW); !errors.Is(err, ErrExists) {
		t.Errorf("alice again: %v, want ErrExists", err)
	}

	p, err := g.store.Login(ctx, "alice", alicePW, "")
	if err != nil || p != (Principal{Name: "alice", Kind: KindUser, Role: Operator}) {
		t.Fatalf("login with the right password: %+v, %v", p, err)
	}

	for _, try := range [][2]string{{"alice", "wrong password 123"}, {"alice", ""}, {"nobody", alicePW}} {
		if _, err := g.store.Login(ctx, try[0], try[1], ""); !errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrLocked) {
			t.Errorf("login %s with a wrong password: %v, want ErrBadCredentials", try[0], err)
		}
	}

	// The hash is argon2id with its salt and parameters.
	users, _ := records.All[records.User](ctx, g.repo, records.KindUser)
	if h := users["alice"].Password; !strings.HasPrefix(h, "$argon2id$v=19$m=47104,t=1,p=1$") || strings.Count(h, "$") != 5 {
		t.Errorf("stored hash %q is not an argon2id PHC string", h)
	}

	recs := g.trail()
	if count(recs, "login", audit.OK, "password") != 1 || count(recs, "login", audit.Refused, "wrong password") != 2 || count(recs, "login", audit.Refused, `no user "nobody"`) != 1 {
		t.Errorf("the audit trail lacks the logins:\n%s", dump(recs))
	}

	if count(recs, "user add", audit.OK, "user alice, role operator") != 1 {
		t.Errorf("the audit trail lacks the user added:\n%s", dump(recs))
	}

	// A new password replaces the old one.
	if err := g.store.SetPassword(ctx, "", "alice", "another long passphrase"); err != nil {
		t.Fatal(err)
	}

	if _, err := g.store.Login(ctx, "alice", alicePW, ""); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the old password after passwd: %v, want refused", err)
	}

	if _, err := g.store.Login(ctx, "alice", "another long passphrase", ""); err != nil {
		t.Errorf("the new password: %v", err)
	}

	g.noSecret(alicePW, "another long passphrase")
}

// enrol enrols alice's second factor and returns its seed, as her app reads
// it from the URI, and the recovery codes.
func (g *rig) enrol() (string, []string) {
	g.t.Helper()

	ctx := context.Background()

	e, err := g.store.BeginMFA(ctx, "alice")
	if err != nil {
		g.t.Fatal(err)
	}

	key, err := otp.NewKeyFromURL(e.URI)
	if err != nil || key.Issuer() != Issuer || key.AccountName() != "alice" || key.Period() != 30 || key.Digits() != otp.DigitsSix {
		g.t.Fatalf("enrolment URI %q: %v", e.URI, err)
	}

	if err := g.store.ConfirmMFA(ctx, "", e, "000000"+"1"); err == nil {
		g.t.Fatalf("a wrong confirmation code enabled the second factor")
	}

	if users, _ := g.store.Users(ctx); users[0].MFA {
		g.t.Fatalf("a refused confirmation left the second factor enabled")
	}

	if err := g.store.ConfirmMFA(ctx, "", e, g.code(key.Secret(), 0)); err != nil {
		g.t.Fatalf("confirm: %v", err)
	}

	return key.Secret(), e.Recovery
}

// code is the app's code offset steps from now.
func (g *rig) code(secret string, steps int) string {
	g.t.Helper()

	c, err := totp.GenerateCode(secret, g.clock.Now().Add(time.Duration(steps)*30*time.Second))
	if err != nil {
		g.t.Fatal(err)
	}

	return c
}

func TestTOTPLogin(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	g.addAlice(Admin)
	secret, _ := g.enrol()

	g.clock.Advance(30 * time.Second)

	refused := func(what, code string) {
		t.Helper()

		pw := alicePW
		if strings.Contains(what, "wrong password") {
			pw = "wrong password 123"
		}

		if _, err := g.store.Login(ctx, "alice", pw, code); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s: %v, want ErrBadCredentials", what, err)
		}
	}

	refused("the password without a code", "")
	now := g.code(secret, 0)
	refused("the right code with the wrong password", now)

	if _, err := g.store.Login(ctx, "alice", alicePW, now); err != nil {
		t.Fatalf("the right code: %v", err)
	}

	refused("the same code again", now)

	g.clock.Advance(90 * time.Second)
	refused("a code two steps old", g.code(secret, -2))
	refused("a code two steps ahead", g.code(secret, 2))

	if _, err := g.store.Login(ctx, "alice", alicePW, g.code(secret, -1)); err != nil {
		t.Errorf("a code one step old (allowed skew): %v", err)
	}

	if _, err := g.store.Login(ctx, "alice", alicePW, g.code(secret, 0)); err != nil {
		t.Errorf("the code of now, after the one before: %v", err)
	}

	// The step is remembered in the repository: another process refuses
	// the code too.
	_, other := g.open()
	if _, err := other.Login(ctx, "alice", alicePW, g.code(secret, 0)); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("a used code in another process: %v, want refused", err)
	}

	recs := g.trail()
	if count(recs, "login", audit.OK, "password and TOTP") != 3 || count(recs, "login", audit.Refused, "already used") != 2 ||
		count(recs, "login", audit.Refused, "no second factor given") != 1 ||
		count(recs, "login", audit.Refused, "wrong password") != 1 || count(recs, "login", audit.Refused, "wrong second factor") != 2 ||
		count(recs, "mfa enrol", audit.OK, "user alice") != 1 {
		t.Errorf("the audit trail lacks the TOTP logins:\n%s", dump(recs))
	}

	if err := g.store.DisableMFA(ctx, "", "alice"); err != nil {
		t.Fatal(err)
	}

	if _, err := g.store.Login(ctx, "alice", alicePW, ""); err != nil {
		t.Errorf("the password alone after the second factor was removed: %v", err)
	}

	g.noSecret(alicePW, secret)
}

func TestRecoveryCodes(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	g.addAlice(Viewer)
	_, codes := g.enrol()

	if len(codes) != RecoveryCodes {
		t.Fatalf("%d recovery codes, want %d", len(codes), RecoveryCodes)
	}

	if _, err := g.store.Login(ctx, "alice", alicePW, codes[3]); err != nil {
		t.Fatalf("a recovery code: %v", err)
	}

	if _, err := g.store.Login(ctx, "alice", alicePW, codes[3]); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the same recovery code again: %v, want refused", err)
	}

	if _, err := g.store.Login(ctx, "alice", "wrong password 123", codes[4]); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("a recovery code with a wrong password: %v, want refused", err)
	}

	// Typed in capitals without the dash, it is the same code.
	if _, err := g.store.Login(ctx, "alice", alicePW, strings.ToUpper(strings.ReplaceAll(codes[4], "-", ""))); err != nil {
		t.Errorf("a recovery code typed in capitals: %v", err)
	}

	users, err := g.store.Users(ctx)
	if err != nil || len(users) != 1 || users[0].RecoveryLeft != RecoveryCodes-2 {
		t.Errorf("users after two recovery codes: %+v, %v", users, err)
	}

	if count(g.trail(), "login", audit.OK, fmt.Sprintf("recovery code (%d left)", RecoveryCodes-2)) != 1 {
		t.Errorf("the audit trail lacks the recovery login:\n%s", dump(g.trail()))
	}

	g.noSecret(codes...)
}

func TestLockout(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	g.addAlice(Operator)

	for i := 1; i <= MaxFailures; i++ {
		_, err := g.store.Login(ctx, "alice", fmt.Sprintf("guess number %d", i), "")

		if i < MaxFailures && (!errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrLocked)) {
			t.Fatalf("wrong password %d: %v, want ErrBadCredentials", i, err)
		}

		if i == MaxFailures && !errors.Is(err, ErrLocked) {
			t.Fatalf("wrong password %d: %v, want ErrLocked", i, err)
		}
	}

	_, err := g.store.Login(ctx, "alice", alicePW, "")

	var locked *LockedError
	if !errors.As(err, &locked) || !locked.Until.Equal(g.clock.Now().Add(LockFor)) {
		t.Fatalf("the right password while locked: %v, want locked until %s", err, g.clock.Now().Add(LockFor))
	}

	// The lock is in the repository: the daemon restarted keeps it.
	_, other := g.open()
	if _, err := other.Login(ctx, "alice", alicePW, ""); !errors.Is(err, ErrLocked) {
		t.Errorf("another process while locked: %v, want ErrLocked", err)
	}

	g.clock.Advance(LockFor - time.Second)

	if _, err := g.store.Login(ctx, "alice", alicePW, ""); !errors.Is(err, ErrLocked) {
		t.Errorf("a second before the lock ends: %v, want ErrLocked", err)
	}

	g.clock.Advance(time.Second)

	if _, err := g.store.Login(ctx, "alice", alicePW, ""); err != nil {
		t.Errorf("once the lock ended: %v", err)
	}

	recs := g.trail()
	if n := count(recs, "login", audit.Refused, "wrong password"); n != MaxFailures {
		t.Errorf("%d failed logins in the audit trail, want %d:\n%s", n, MaxFailures, dump(recs))
	}

	if count(recs, "login", audit.Refused, "(20 failed in a row)") != 1 || count(recs, "lockout", audit.Refused, "20 failed logins in a row: locked until 2026-03-04T10:15:07Z") != 1 ||
		count(recs, "login", audit.Refused, "the account is locked until") != 3 || count(recs, "login", audit.OK, "") != 1 {
		t.Errorf("the audit trail lacks the lockout:\n%s", dump(recs))
	}

	for _, r := range recs {
		if r.Action == "lockout" && r.Actor != "user:alice" {
			t.Errorf("lockout recorded as %q, want user:alice", r.Actor)
		}
	}
}

func TestTokens(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	ci, err := g.store.CreateToken(ctx, "", "ci", Operator, 0)
	if err != nil || !strings.HasPrefix(ci, TokenPrefix) || len(ci) != len(TokenPrefix)+43 {
		t.Fatalf("create: %q, %v", ci, err)
	}

	if _, err := g.store.CreateToken(ctx, "", "ci", Viewer, 0); !errors.Is(err, ErrExists) {
		t.Errorf("a second active token named ci: %v, want ErrExists", err)
	}

	week, err := g.store.CreateToken(ctx, "", "week", Viewer, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	if p, err := g.store.Token(ctx, ci); err != nil || p != (Principal{Name: "ci", Kind: KindToken, Role: Operator}) {
		t.Fatalf("the token: %+v, %v", p, err)
	}

	if _, err := g.store.Token(ctx, ci+"x"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("an unknown token: %v, want ErrBadCredentials", err)
	}

	// Revoked: refused on the very next request, by this process.
	if err := g.store.RevokeToken(ctx, "", "ci"); err != nil {
		t.Fatal(err)
	}

	if _, err := g.store.Token(ctx, ci); !errors.Is(err, ErrTokenRevoked) || !errors.Is(err, ErrBadCredentials) {
		t.Errorf("a revoked token: %v, want ErrTokenRevoked", err)
	}

	if p, err := g.store.Token(ctx, week); err != nil || p.Role != Viewer {
		t.Errorf("the week's token before its end: %+v, %v", p, err)
	}

	g.clock.Advance(7 * 24 * time.Hour)

	if _, err := g.store.Token(ctx, week); !errors.Is(err, ErrTokenExpired) || !errors.Is(err, ErrBadCredentials) {
		t.Errorf("an expired token: %v, want ErrTokenExpired", err)
	}

	list, err := g.store.Tokens(ctx)
	if err != nil || len(list) != 2 || list[0].State != TokenRevoked || list[1].State != TokenExpired {
		t.Errorf("tokens: %+v, %v", list, err)
	}

	// A revoked name may be used again, with a new token.
	ci2, err := g.store.CreateToken(ctx, "", "ci", Admin, 0)
	if err != nil || ci2 == ci {
		t.Fatalf("a new ci token: %v", err)
	}

	if _, err := g.store.Token(ctx, ci); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the old ci token after a new one: %v, want refused", err)
	}

	recs := g.trail()
	if count(recs, "token create", audit.OK, "token ci, role operator, never expires") != 1 ||
		count(recs, "token create", audit.OK, "token week, role viewer, expires 2026-03-11T10:00:07Z") != 1 ||
		count(recs, "token revoke", audit.OK, "token ci") != 1 || count(recs, "token", audit.Refused, "revoked on") != 1 ||
		count(recs, "token", audit.Refused, "expired on") != 1 || count(recs, "token", audit.Refused, "an unknown token") != 2 {
		t.Errorf("the audit trail lacks the tokens:\n%s", dump(recs))
	}

	g.noSecret(ci, week, ci2, ci[len(TokenPrefix):len(TokenPrefix)+12])
}

// A revocation by another process (the command line while the daemon runs)
// reaches a store within its RefreshEvery; users and tokens outlive the
// process that made them.
func TestAnotherProcess(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	g.addAlice(Auditor)

	tok, err := g.store.CreateToken(ctx, "", "scraper", Viewer, 0)
	if err != nil {
		t.Fatal(err)
	}

	_, daemon := g.open()

	if p, err := daemon.Login(ctx, "alice", alicePW, ""); err != nil || p.Role != Auditor {
		t.Fatalf("login in another process: %+v, %v", p, err)
	}

	if _, err := daemon.Token(ctx, tok); err != nil {
		t.Fatalf("the token in another process: %v", err)
	}

	if err := g.store.RevokeToken(ctx, "", "scraper"); err != nil {
		t.Fatal(err)
	}

	g.clock.Advance(DefaultRefresh)

	if _, err := daemon.Token(ctx, tok); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("a token revoked by another process, %s later: %v, want ErrTokenRevoked", DefaultRefresh, err)
	}

	if err := g.store.RemoveUser(ctx, "", "alice"); err != nil {
		t.Fatal(err)
	}

	g.clock.Advance(DefaultRefresh)

	if _, err := daemon.Login(ctx, "alice", alicePW, ""); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("a user removed by another process: %v, want refused", err)
	}
}

// countingRepo is the real repository, counting the records it is asked
// for.
type countingRepo struct {
	*repo.Repository
	reads int
}

func (c *countingRepo) Records(ctx context.Context, kind string) (map[string]map[string]string, error) {
	c.reads++
	return c.Repository.Records(ctx, kind)
}

// Checking tokens reads the users and tokens again only when the
// repository moved since the last read (a write here, or another
// process's once refreshed): every request waits while they are read.
func TestTokensAreReadAgainOnlyWhenTheRepositoryMoved(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	tok, err := g.store.CreateToken(ctx, "", "scraper", Viewer, 0)
	if err != nil {
		t.Fatal(err)
	}

	r, _ := g.open()
	counted := &countingRepo{Repository: r}
	daemon := &Store{Repo: counted, Audit: &audit.Log{Path: g.audit, Clock: g.clock}, Clock: g.clock}

	if _, err := daemon.Token(ctx, tok); err != nil {
		t.Fatal(err)
	}

	first := counted.reads
	if first == 0 {
		t.Fatal("the first check read no records")
	}

	for range 3 {
		g.clock.Advance(DefaultRefresh)

		if _, err := daemon.Token(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}

	if counted.reads != first {
		t.Fatalf("with nothing written, three refreshes read the records %d more times, want none", counted.reads-first)
	}

	// Another process makes a token: read again at the next refresh.
	tok2, err := g.store.CreateToken(ctx, "", "ci", Operator, 0)
	if err != nil {
		t.Fatal(err)
	}

	g.clock.Advance(DefaultRefresh)

	if p, err := daemon.Token(ctx, tok2); err != nil || p.Role != Operator {
		t.Fatalf("a token made by another process, %s later: %+v, %v", DefaultRefresh, p, err)
	}

	if counted.reads == first {
		t.Fatal("a refresh that found another process's token read no records")
	}
}

func dump(recs []audit.Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "  %s %s %s: %s\n", r.Actor, r.Action, r.Outcome, r.Detail)
	}

	return b.String()
}

// Failed logins that arrive together are each counted: the twentieth of
// twenty concurrent wrong passwords locks the account, and token checks go
// on meanwhile.
func TestConcurrentFailures(t *testing.T) {
	g := newRig(t)
	ctx := context.Background()

	g.addAlice(Operator)

	tok, err := g.store.CreateToken(ctx, "", "ci", Viewer, 0)
	if err != nil {
		t.Fatal(err)
	}

	errs := make(chan error, MaxFailures)
	for i := range MaxFailures {
		go func() {
			_, err := g.store.Login(ctx, "alice", fmt.Sprintf("guess number %d", i), "")
			errs <- err
		}()
	}

	for range 50 {
		if _, err := g.store.Token(ctx, tok); err != nil {
			t.Errorf("a token check during the logins: %v", err)
		}
	}

	locked := 0

	for range MaxFailures {
		err := <-errs
		if errors.Is(err, ErrLocked) {
			locked++
		} else if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("a concurrent wrong login: %v", err)
		}
	}

	if locked != 1 {
		t.Errorf("%d of %d concurrent wrong logins answered locked, want the last one", locked, MaxFailures)
	}

	if _, err := g.store.Login(ctx, "alice", alicePW, ""); !errors.Is(err, ErrLocked) {
		t.Errorf("the right password after %d concurrent failures: %v, want ErrLocked", MaxFailures, err)
	}

	if n := count(g.trail(), "lockout", audit.Refused, ""); n != 1 {
		t.Errorf("%d lockouts in the audit trail, want 1", n)
	}
}
