package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"lifeboat/internal/audit"
)

// The second factor is RFC 6238 TOTP as every authenticator app reads it:
// SHA-1, six digits, a 30-second step. A code of the step before or after
// the server's is accepted too (clocks drift; typing takes time), nothing
// further.
const (
	totpPeriod = 30
	totpSkew   = 1
	// Issuer names Lifeboat in the authenticator app.
	Issuer = "Lifeboat"
	// RecoveryCodes is how many single-use recovery codes an enrolment gives.
	RecoveryCodes = 10
)

// Enrolment is a second factor about to be enrolled: shown to the user,
// stored only once a code from their app proves it reads it.
type Enrolment struct {
	User string
	// URI is the otpauth:// URI the app reads (as a QR code).
	URI string
	// Recovery are the single-use recovery codes, shown this once.
	Recovery []string

	secret string
}

// BeginMFA prepares a TOTP enrolment for user; nothing is stored until
// ConfirmMFA.
func (s *Store) BeginMFA(ctx context.Context, user string) (*Enrolment, error) {
	_, ok, err := s.user(ctx, user)
	if err != nil {
		return nil, err
	}

	if !ok {
		return nil, fmt.Errorf("user %s: %w", user, ErrNotFound)
	}

	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: user, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("user %s: make a TOTP seed: %w", user, err)
	}

	e := &Enrolment{User: user, URI: key.URL(), secret: key.Secret()}

	for range RecoveryCodes {
		c, err := recoveryCode()
		if err != nil {
			return nil, err
		}

		e.Recovery = append(e.Recovery, c)
	}

	return e, nil
}

// ConfirmMFA enables the enrolment once code is a current code of its seed,
// replacing any second factor the user had and its recovery codes. by names
// who asked, for the audit trail ("" is the process's user).
func (s *Store) ConfirmMFA(ctx context.Context, by string, e *Enrolment, code string) error {
	now := s.clock().Now()

	step, ok := matchTOTP(e.secret, strings.TrimSpace(code), now)
	if !ok {
		return fmt.Errorf("user %s: the code is not the app's code of this time: the second factor was not enabled", e.User)
	}

	s.write.Lock()
	defer s.write.Unlock()

	u, ok, err := s.user(ctx, e.User)
	if err != nil {
		return err
	}

	if !ok {
		return fmt.Errorf("user %s: %w", e.User, ErrNotFound)
	}

	u.TOTP, u.TOTPStep, u.Recovery = e.secret, step, nil
	for _, c := range e.Recovery {
		u.Recovery = append(u.Recovery, recoveryHash(c))
	}

	if err := s.putUser(ctx, e.User, u); err != nil {
		return fmt.Errorf("user %s: enable the second factor: %w", e.User, err)
	}

	s.record(by, "mfa enrol", audit.OK, fmt.Sprintf("user %s: TOTP enrolled, %d recovery codes", e.User, len(e.Recovery)))

	return nil
}

// DisableMFA removes user's second factor and recovery codes.
func (s *Store) DisableMFA(ctx context.Context, by, user string) error {
	return s.changeUser(ctx, by, user, "mfa disable", "second factor removed", func(u *userRecord) error {
		if u.TOTP == "" {
			return invalid("user %s has no second factor enrolled", user)
		}

		u.TOTP, u.TOTPStep, u.Recovery = "", 0, nil

		return nil
	})
}

// matchTOTP finds the step, within the skew around now, whose code is code.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	if secret == "" || len(code) != otp.DigitsSix.Length() {
		return 0, false
	}

	current := now.Unix() / totpPeriod
	found, match := int64(0), false

	for step := current - totpSkew; step <= current+totpSkew; step++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}) //nolint:gosec // steps are after 1970
		if err != nil {
			return 0, false
		}

		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, match = step, true
		}
	}

	return found, match
}

// recoveryCode is 50 random bits as ten letters and digits, "k3j9q-x2m7p":
// far beyond guessing with the lockout, short enough to type from paper.
func recoveryCode() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a recovery code: %w", err)
	}

	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:10]

	return s[:5] + "-" + s[5:], nil
}

// recoveryHash is what is stored of a recovery code: its SHA-256, after the
// spelling a user may vary (case, dashes, spaces) is taken out. A plain hash
// is enough for 50 random bits; a slow one is for passwords people choose.
func recoveryHash(code string) string {
	norm := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}

		return r
	}, strings.ToLower(strings.TrimSpace(code)))

	sum := sha256.Sum256([]byte("lifeboat recovery code " + norm))

	return hex.EncodeToString(sum[:])
}

// recoveryIndex is the index of code's hash among the unused ones, or -1.
func recoveryIndex(unused []string, code string) int {
	h := []byte(recoveryHash(code))
	at := -1

	for i, u := range unused {
		if subtle.ConstantTimeCompare([]byte(u), h) == 1 {
			at = i
		}
	}

	return at
}
