package access

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/records"
)

type userRecord = records.User

// validName is what a user or token name may be: it is typed on command
// lines, shown in tables and written in the audit trail.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func checkName(what, name string) error {
	if !validName.MatchString(name) {
		return invalid("%s name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", what, shown(name))
	}

	return nil
}

// UserInfo is what may be shown of a user: nothing secret.
type UserInfo struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// MFA tells whether a second factor is enrolled; RecoveryLeft counts its
	// unused recovery codes.
	MFA          bool      `json:"mfa"`
	RecoveryLeft int       `json:"recovery_codes_left"`
	Failures     int       `json:"failed_logins"`
	LockedUntil  time.Time `json:"locked_until,omitzero"`
	Created      time.Time `json:"created"`
}

// Users lists the users by name.
func (s *Store) Users(ctx context.Context) ([]UserInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if err := s.load(ctx); err != nil {
		return nil, err
	}

	out := make([]UserInfo, 0, len(s.users))
	for name, u := range s.users {
		info := UserInfo{Name: name, Role: Role(u.Role), MFA: u.TOTP != "", RecoveryLeft: len(u.Recovery), Failures: u.Failures, Created: u.Created}
		if s.clock().Now().Before(u.LockedUntil) {
			info.LockedUntil = u.LockedUntil
		}

		out = append(out, info)
	}

	slices.SortFunc(out, func(a, b UserInfo) int { return cmp.Compare(a.Name, b.Name) })

	return out, nil
}

// User is one user, as Users lists them.
func (s *Store) User(ctx context.Context, name string) (UserInfo, error) {
	users, err := s.Users(ctx)
	if err != nil {
		return UserInfo{}, err
	}

	for _, u := range users {
		if u.Name == name {
			return u, nil
		}
	}

	return UserInfo{}, fmt.Errorf("user %s: %w", name, ErrNotFound)
}

// AddUser adds a user with a password. by names who asked, for the audit
// trail ("" is the process's user).
func (s *Store) AddUser(ctx context.Context, by, name string, role Role, password string) error {
	if err := checkName("user", name); err != nil {
		return err
	}

	if _, err := ParseRole(string(role)); err != nil {
		return invalid("%v", err)
	}

	if err := checkPassword(password); err != nil {
		return err
	}

	hash, err := hashPassword(password)
	if err != nil {
		return err
	}

	s.write.Lock()
	defer s.write.Unlock()

	if _, ok, err := s.user(ctx, name); err != nil || ok {
		return cmp.Or(err, fmt.Errorf("user %s: %w", name, ErrExists))
	}

	u := records.User{Role: string(role), Password: hash, Created: s.clock().Now()}
	if err := s.putUser(ctx, name, u); err != nil {
		return fmt.Errorf("add user %s: %w", name, err)
	}

	s.record(by, "user add", audit.OK, fmt.Sprintf("user %s, role %s", name, role))

	return nil
}

// SetPassword replaces user's password; it also lifts a lockout, since
// whoever may set the password may as well let the user in.
func (s *Store) SetPassword(ctx context.Context, by, user, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}

	hash, err := hashPassword(password)
	if err != nil {
		return err
	}

	return s.changeUser(ctx, by, user, "user passwd", "password changed", func(u *userRecord) error {
		u.Password, u.Failures, u.LockedUntil = hash, 0, time.Time{}
		return nil
	})
}

// SetRole gives user another role.
func (s *Store) SetRole(ctx context.Context, by, user string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return invalid("%v", err)
	}

	err := s.changeUser(ctx, by, user, "user role", "role "+string(role), func(u *userRecord) error {
		u.Role = string(role)
		return nil
	})
	if err != nil {
		return err
	}

	// The user's own tokens carry the role they had: one that may do more
	// than the new role is revoked.
	s.write.Lock()
	defer s.write.Unlock()

	return s.revokeOwned(ctx, by, user, func(t Role) bool { return !within(t, role) }, "the owner's role is now "+string(role))
}

// within says whether role r may do nothing more than limit.
func within(r, limit Role) bool {
	for _, p := range Permissions(r) {
		if !Allows(limit, p) {
			return false
		}
	}

	return true
}

// revokeOwned revokes owner's active tokens whose role drop says to. The
// caller holds s.write.
func (s *Store) revokeOwned(ctx context.Context, by, owner string, drop func(Role) bool, why string) error {
	s.mu.Lock()
	err := s.load(ctx)
	owned := map[string]records.Token{}

	for name, t := range s.tokens {
		if t.Owner == owner && !t.Revoked && drop(Role(t.Role)) {
			owned[name] = t
		}
	}
	s.mu.Unlock()

	if err != nil {
		return err
	}

	now := s.clock().Now()

	for name, t := range owned {
		t.Revoked, t.RevokedAt = true, now
		if err := s.putToken(ctx, name, t); err != nil {
			return fmt.Errorf("revoke token %s: %w", name, err)
		}

		s.record(by, "token revoke", audit.OK, "token "+name+": "+why)
	}

	return nil
}

// RemoveUser deletes user.
func (s *Store) RemoveUser(ctx context.Context, by, user string) error {
	s.write.Lock()
	defer s.write.Unlock()

	if _, ok, err := s.user(ctx, user); err != nil || !ok {
		return cmp.Or(err, fmt.Errorf("user %s: %w", user, ErrNotFound))
	}

	if err := s.Repo.DeleteRecord(ctx, records.KindUser, user); err != nil {
		return fmt.Errorf("remove user %s: %w", user, err)
	}

	s.mu.Lock()
	delete(s.users, user)
	s.mu.Unlock()
	s.record(by, "user remove", audit.OK, "user "+user)

	return s.revokeOwned(ctx, by, user, func(Role) bool { return true }, "its owner was removed")
}

// changeUser applies change to user's record, stores it and audits action.
func (s *Store) changeUser(ctx context.Context, by, user, action, detail string, change func(*userRecord) error) error {
	s.write.Lock()
	defer s.write.Unlock()

	u, ok, err := s.user(ctx, user)
	if err != nil || !ok {
		return cmp.Or(err, fmt.Errorf("user %s: %w", user, ErrNotFound))
	}

	if err := change(&u); err != nil {
		return err
	}

	if err := s.putUser(ctx, user, u); err != nil {
		return fmt.Errorf("user %s: %w", user, err)
	}

	s.record(by, action, audit.OK, "user "+user+": "+detail)

	return nil
}
