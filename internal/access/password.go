package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// MinPassword is the shortest password a user may set: with the lockout,
// twelve characters are far beyond guessing online, and the hash makes
// guessing offline (from a stolen repository and its password) slow.
const MinPassword = 12

// argonParams are the argon2id parameters of new hashes: OWASP's
// recommendation of 46 MiB, one pass, one lane (about 50 ms here). Each
// hash names its own, so raising them later leaves stored hashes valid.
var argonParams = params{memory: 46 * 1024, time: 1, threads: 1, keyLen: 32}

type params struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	keyLen  uint32
}

// hashing bounds the hashes computed at once: each takes params.memory, so
// a flood of logins cannot take the daemon's memory.
var hashing = make(chan struct{}, 2)

// checkPassword refuses a password too short to be a password.
func checkPassword(pw string) error {
	if len([]rune(pw)) < MinPassword {
		return invalid("the password is too short: use at least %d characters", MinPassword)
	}

	return nil
}

// hashPassword returns the PHC string of pw's argon2id hash under a new
// random salt: $argon2id$v=19$m=47104,t=1,p=1$SALT$HASH.
func hashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash the password: %w", err)
	}

	p := argonParams
	sum := derive(pw, salt, p)
	enc := base64.RawStdEncoding

	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

func derive(pw string, salt []byte, p params) []byte {
	hashing <- struct{}{}
	defer func() { <-hashing }()

	return argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, p.keyLen)
}

// errBadHash is a stored hash this version cannot read.
var errBadHash = errors.New("the stored password hash is not an argon2id hash")

// verifyPassword tells whether pw matches the stored PHC string, comparing
// in constant time.
func verifyPassword(stored, pw string) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}

	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}

	var p params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil || p.memory == 0 || p.time == 0 || p.threads == 0 {
		return false, errBadHash
	}

	enc := base64.RawStdEncoding

	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}

	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}

	p.keyLen = uint32(len(want)) //nolint:gosec // a hash is 32 bytes

	return subtle.ConstantTimeCompare(derive(pw, salt, p), want) == 1, nil
}

// dummyHash is checked against for a user who does not exist, so the answer
// takes as long as for one who does and timing does not tell names apart.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("no user has this password")
	return h
})
