package api

import (
	"context"
	"errors"

	"lifeboat/internal/access"
)

// fixedTokens is a test-only Authority: one fixed token per role, and one
// user ("alice", password "alice-password", code "123456") who is an
// operator. It stands in for the repository's user and token store.
type fixedTokens struct{}

// tokenFor is the fixed token of a role.
func tokenFor(r access.Role) string { return "test-token-" + string(r) }

var errRefused = errors.New("wrong user, password or code")

func (fixedTokens) Login(_ context.Context, user, password, totp string) (access.Principal, error) {
	if user != "alice" || password != "alice-password" || totp != "123456" {
		return access.Principal{}, errRefused
	}

	return access.Principal{Name: "alice", Kind: "user", Role: access.Operator}, nil
}

func (fixedTokens) Token(_ context.Context, bearer string) (access.Principal, error) {
	for _, r := range access.Roles {
		if bearer == tokenFor(r) {
			return access.Principal{Name: "ci-" + string(r), Kind: "token", Role: r}, nil
		}
	}

	return access.Principal{}, errors.New("unknown, revoked or expired token")
}
