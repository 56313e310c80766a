package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/records"
)

// Errors the front doors map to their answers. A caller tells the client no
// more than ErrBadCredentials or ErrLocked: which part of a login was wrong,
// and whether a token was unknown, revoked or expired, goes only to the
// audit trail.
var (
	// ErrBadCredentials refuses a login or a token, never saying why.
	ErrBadCredentials = errors.New("wrong user name, password, second factor or token")
	// ErrLocked refuses every login of a user for a while after too many
	// failures; the error is a *LockedError that says until when.
	ErrLocked = errors.New("account locked after too many failed logins")
	// ErrTokenRevoked and ErrTokenExpired are ErrBadCredentials too
	// (errors.Is), for callers that need not tell them apart.
	ErrTokenRevoked = fmt.Errorf("%w (token revoked)", ErrBadCredentials)
	ErrTokenExpired = fmt.Errorf("%w (token expired)", ErrBadCredentials)
	// ErrNotFound names a user or token that does not exist (management).
	ErrNotFound = errors.New("not found")
	// ErrExists refuses to add a user or token whose name is taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid marks a name, role, password or expiry refused as given.
	ErrInvalid = errors.New("invalid")
)

// invalidError is an ErrInvalid whose message says what to give instead.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// LockedError is ErrLocked with the time the lock ends.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v: try again after %s", ErrLocked, e.Until.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// The lockout: MaxFailures wrong logins in a row lock the account for
// LockFor. Twenty leaves a user who mistypes plenty of room and lets an
// attacker try 80 passwords an hour, and a 6-digit code (with its one step
// of skew) at 80 guesses an hour needs years.
const (
	MaxFailures = 20
	LockFor     = 15 * time.Minute
)

// RefreshEvery is how stale the users and tokens a Store has read may get
// before it reads them from the repository again (DefaultRefresh unless
// set). A change made through the Store (a revocation) takes effect at once
// in its process; one made by another process (`lifeboat token revoke` while
// the daemon runs) takes effect in the daemon within this bound.
const DefaultRefresh = 5 * time.Second

// Repository is where users and tokens live: *repo.Repository.
type Repository interface {
	PutRecord(ctx context.Context, kind, key string, v map[string]string) error
	Records(ctx context.Context, kind string) (map[string]map[string]string, error)
	DeleteRecord(ctx context.Context, kind, key string) error
}

// refresher is a repository that can see what other processes wrote since
// it was opened.
type refresher interface {
	Refresh(ctx context.Context) error
}

// revisioner is a repository that tells when what it holds may have
// changed (repo.Repository.Revision).
type revisioner interface {
	Revision() (int64, bool)
}

// AuditTrail appends to the audit trail: *audit.Log.
type AuditTrail interface {
	Append(r audit.Record) (audit.Record, error)
}

// Store keeps the users and API tokens in the repository and checks logins
// and tokens against them. It is safe for concurrent use.
type Store struct {
	Repo Repository
	// Audit records logins, failures, lockouts, refused tokens and every
	// change; nil records nothing.
	Audit AuditTrail
	// Log reports an audit record that could not be written; nil: none.
	Log   *slog.Logger
	Clock clock.Clock
	// RefreshEvery overrides DefaultRefresh.
	RefreshEvery time.Duration

	// mu guards what was read; write makes each change (read, change,
	// store) one at a time, without holding mu while the repository
	// writes, so checking tokens never waits on a change being stored.
	mu     sync.Mutex
	write  sync.Mutex
	users  map[string]records.User
	tokens map[string]records.Token
	read   time.Time
	// rev is the repository's revision users and tokens were read at
	// (hasRev: it could be told).
	rev    int64
	hasRev bool
}

// Kinds of principal.
const (
	KindUser  = "user"
	KindToken = "token"
)

// Actor names the principal in audit records: "user:alice", "token:ci".
func (p Principal) Actor() string { return p.Kind + ":" + p.Name }

func (s *Store) clock() clock.Clock { return clock.Or(s.Clock) }

// load reads the users and tokens unless those read are fresh enough. The
// caller holds s.mu.
func (s *Store) load(ctx context.Context) error {
	every := s.RefreshEvery
	if every <= 0 {
		every = DefaultRefresh
	}

	now := s.clock().Now()
	if s.users != nil && now.Sub(s.read) < every && !now.Before(s.read) {
		return nil
	}

	if r, ok := s.Repo.(refresher); ok && s.users != nil {
		if err := r.Refresh(ctx); err != nil {
			return fmt.Errorf("read users and tokens: %w", err)
		}
	}

	// Nothing written since the last read (here or, once refreshed, by
	// another process): what was read holds. Reading the records again
	// scans every manifest of the repository while every request waits
	// for its token to be checked.
	rev, hasRev := int64(0), false
	if r, ok := s.Repo.(revisioner); ok {
		rev, hasRev = r.Revision()
	}

	if s.users != nil && hasRev && s.hasRev && rev == s.rev {
		s.read = now
		return nil
	}

	users, err := records.All[records.User](ctx, s.Repo, records.KindUser)
	if err != nil {
		return fmt.Errorf("read users: %w", err)
	}

	tokens, err := records.All[records.Token](ctx, s.Repo, records.KindToken)
	if err != nil {
		return fmt.Errorf("read tokens: %w", err)
	}

	s.users, s.tokens, s.read, s.rev, s.hasRev = users, tokens, now, rev, hasRev

	return nil
}

// user reads one user; ok is false when there is none.
func (s *Store) user(ctx context.Context, name string) (u records.User, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if err := s.load(ctx); err != nil {
		return u, false, err
	}

	u, ok = s.users[name]

	return u, ok, nil
}

// token reads one token; ok is false when there is none.
func (s *Store) token(ctx context.Context, name string) (t records.Token, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if err := s.load(ctx); err != nil {
		return t, false, err
	}

	t, ok = s.tokens[name]

	return t, ok, nil
}

// putUser stores u, then shows it to readers. The caller holds s.write and
// has read the users (s.user).
func (s *Store) putUser(ctx context.Context, name string, u records.User) error {
	if err := records.Put(ctx, s.Repo, records.KindUser, name, u); err != nil {
		return err
	}

	s.mu.Lock()
	s.users[name] = u
	s.mu.Unlock()

	return nil
}

// putToken stores t, then shows it to readers. The caller holds s.write and
// has read the tokens (s.token).
func (s *Store) putToken(ctx context.Context, name string, t records.Token) error {
	if err := records.Put(ctx, s.Repo, records.KindToken, name, t); err != nil {
		return err
	}

	s.mu.Lock()
	s.tokens[name] = t
	s.mu.Unlock()

	return nil
}

// record appends to the audit trail. A trail that cannot be written does
// not stop a login or a change (Log says why), as it does not stop a backup.
func (s *Store) record(actor, action, outcome, detail string) {
	if s.Audit == nil {
		return
	}

	if _, err := s.Audit.Append(audit.Record{Actor: actor, Action: action, Outcome: outcome, Detail: detail}); err != nil && s.Log != nil {
		s.Log.Error("audit record not written", "action", action, "err", err)
	}
}
