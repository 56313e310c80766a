package access

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/records"
)

// TokenPrefix starts every API token, so a token pasted where it should not
// be (a log, a repository, a chat) is recognised by secret scanners and by
// people.
const TokenPrefix = "lbt_"

// TokenInfo is what may be shown of a token: never the token.
type TokenInfo struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	// State is "active", "expired" or "revoked".
	State     string    `json:"state"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Owner is the user whose own token it is ("": an admin's).
	Owner string `json:"owner,omitempty"`
}

// Token states.
const (
	TokenActive  = "active"
	TokenExpired = "expired"
	TokenRevoked = "revoked"
)

func tokenState(t records.Token, now time.Time) string {
	switch {
	case t.Revoked:
		return TokenRevoked
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return TokenExpired
	}

	return TokenActive
}

// CreateToken makes a token for role, valid for expires (0: until revoked),
// and returns it: this is the only time it exists outside the client, only
// its hash is stored. A name whose token was revoked or expired may be used
// again. by names who asked, for the audit trail.
func (s *Store) CreateToken(ctx context.Context, by, name string, role Role, expires time.Duration) (string, error) {
	return s.createToken(ctx, by, "", name, role, expires)
}

// CreateOwnToken is CreateToken for a user's own token: the token is
// theirs (listed and revoked as theirs, revoked when they are removed), and
// its role is theirs.
func (s *Store) CreateOwnToken(ctx context.Context, by, owner, name string, expires time.Duration) (string, error) {
	u, ok, err := s.user(ctx, owner)
	if err != nil || !ok {
		return "", cmp.Or(err, fmt.Errorf("user %s: %w", owner, ErrNotFound))
	}

	return s.createToken(ctx, by, owner, name, Role(u.Role), expires)
}

func (s *Store) createToken(ctx context.Context, by, owner, name string, role Role, expires time.Duration) (string, error) {
	if err := checkName("token", name); err != nil {
		return "", err
	}

	if _, err := ParseRole(string(role)); err != nil {
		return "", invalid("%v", err)
	}

	if expires < 0 {
		return "", invalid("token %s: the expiry must be in the future", name)
	}

	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token %s: %w", name, err)
	}

	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)

	s.write.Lock()
	defer s.write.Unlock()

	old, ok, err := s.token(ctx, name)
	if err != nil {
		return "", err
	}

	now := s.clock().Now()
	if ok && tokenState(old, now) == TokenActive {
		return "", fmt.Errorf("token %s: %w (revoke it first, or choose another name)", name, ErrExists)
	}

	t := records.Token{Role: string(role), Hash: tokenHash(secret), Created: now, Owner: owner}
	detail := fmt.Sprintf("token %s, role %s, never expires", name, role)

	if expires > 0 {
		t.Expires = now.Add(expires)
		detail = fmt.Sprintf("token %s, role %s, expires %s", name, role, t.Expires.UTC().Format(time.RFC3339))
	}

	if err := s.putToken(ctx, name, t); err != nil {
		return "", fmt.Errorf("create token %s: %w", name, err)
	}

	s.record(by, "token create", audit.OK, detail)

	return secret, nil
}

// Tokens lists the tokens by name, revoked and expired ones too.
func (s *Store) Tokens(ctx context.Context) ([]TokenInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if err := s.load(ctx); err != nil {
		return nil, err
	}

	now := s.clock().Now()
	out := make([]TokenInfo, 0, len(s.tokens))

	for name, t := range s.tokens {
		out = append(out, TokenInfo{Name: name, Role: Role(t.Role), Created: t.Created, Expires: t.Expires, State: tokenState(t, now), RevokedAt: t.RevokedAt, Owner: t.Owner})
	}

	slices.SortFunc(out, func(a, b TokenInfo) int { return cmp.Compare(a.Name, b.Name) })

	return out, nil
}

// RevokeToken refuses the token from now on: at once in this process, and
// in another (the daemon) once it reads the tokens again, within its
// RefreshEvery.
func (s *Store) RevokeToken(ctx context.Context, by, name string) error {
	s.write.Lock()
	defer s.write.Unlock()

	t, ok, err := s.token(ctx, name)
	if err != nil || !ok {
		return cmp.Or(err, fmt.Errorf("token %s: %w", name, ErrNotFound))
	}

	if t.Revoked {
		return invalid("token %s was already revoked on %s", name, t.RevokedAt.UTC().Format(time.RFC3339))
	}

	t.Revoked, t.RevokedAt = true, s.clock().Now()
	if err := s.putToken(ctx, name, t); err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}

	s.record(by, "token revoke", audit.OK, "token "+name)

	return nil
}

// Token finds the token a request bears. An unknown, revoked or expired
// token is refused (ErrBadCredentials; ErrTokenRevoked and ErrTokenExpired
// say which, for the audit trail, which records every refusal by the
// token's name, never with the token).
func (s *Store) Token(ctx context.Context, bearer string) (Principal, error) {
	h := []byte(tokenHash(bearer))

	s.mu.Lock()
	err := s.load(ctx)

	var (
		name  string
		found records.Token
	)

	for n, t := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(t.Hash), h) == 1 {
			name, found = n, t
		}
	}
	s.mu.Unlock()

	if err != nil {
		return Principal{}, err
	}

	if name == "" {
		s.record("anonymous", "token", audit.Refused, "an unknown token")
		return Principal{}, ErrBadCredentials
	}

	p := Principal{Name: name, Kind: KindToken, Role: Role(found.Role)}

	switch tokenState(found, s.clock().Now()) {
	case TokenRevoked:
		s.record(p.Actor(), "token", audit.Refused, "revoked on "+found.RevokedAt.UTC().Format(time.RFC3339))
		return Principal{}, ErrTokenRevoked
	case TokenExpired:
		s.record(p.Actor(), "token", audit.Refused, "expired on "+found.Expires.UTC().Format(time.RFC3339))
		return Principal{}, ErrTokenExpired
	}

	return p, nil
}

// tokenHash is what is stored of a token. A plain SHA-256 is enough for 256
// random bits, and cheap enough to check on every request.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
