package records

import "time"

// The kinds of the HTTP API's users and tokens (internal/access), kept in
// the repository so a machine with nothing but the repository has them.
const (
	KindUser  = "access-user"  // a user of the HTTP API, by user name
	KindToken = "access-token" // an API token, by token name
)

// User is a person who logs in to the HTTP API (KindUser, by name). It holds
// no secret in the clear but the TOTP seed, which the code generator on the
// user's phone needs as it is; the repository's encryption keeps it.
type User struct {
	Role string `record:"role"`
	// Password is an argon2id hash in the PHC string form: algorithm,
	// version, parameters, salt and hash, so parameters can change later
	// without breaking the hashes already stored.
	Password string `record:"password"`
	// TOTP is the base32 seed of the second factor; empty: none enrolled.
	TOTP string `record:"totp,omitempty"`
	// TOTPStep is the last time step whose code was accepted: a code is
	// accepted once, so one seen over a shoulder cannot be replayed.
	TOTPStep int64 `record:"totp-step,omitempty"`
	// Recovery holds the SHA-256 (hex) of each recovery code not used yet.
	Recovery []string `record:"recovery,json,omitempty"`
	// Failures counts the failed logins in a row; LockedUntil, when in the
	// future, refuses every login.
	Failures    int       `record:"failures,omitempty"`
	LockedUntil time.Time `record:"locked-until,omitempty"`
	Created     time.Time `record:"created,seconds"`
}

// Token is an API token (KindToken, by name). Only the SHA-256 of the token
// is kept: whoever reads the repository cannot use it.
type Token struct {
	Role string `record:"role"`
	// Hash is the SHA-256 (hex) of the whole token.
	Hash    string    `record:"hash"`
	Created time.Time `record:"created,seconds"`
	// Expires is zero for a token that does not expire.
	Expires   time.Time `record:"expires,seconds,omitempty"`
	Revoked   bool      `record:"revoked,omitempty"`
	RevokedAt time.Time `record:"revoked-at,seconds,omitempty"`
	// Owner is the user who made the token for themselves (from their
	// account page); empty for a token an admin made.
	Owner string `record:"owner,omitempty"`
}
