// Package passcmd runs a password command (repository.password_command): a
// secrets manager's CLI or `systemd-creds decrypt` that prints the password.
// The command line names where the secret is, never the secret, so it is run
// by /bin/sh as written. The child gets childenv's allow-list and none of
// the configuration's secret variables, nothing on its standard input, and
// what it prints is returned to the caller only: never logged, never put in
// an error, never echoed.
package passcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"lifeboat/internal/childenv"
)

// Timeout bounds a command that waits on something that never comes (a
// prompt with no terminal, an unreachable vault).
const Timeout = 2 * time.Minute

// maxOutput bounds what is read: a password, not a file.
const maxOutput = 64 << 10

// ErrEmpty is a command that printed nothing but line ends.
var ErrEmpty = errors.New("the password command printed no password")

// Run runs the command line and returns the first line of its standard
// output without its line end. secrets are variables the child must not
// inherit; stderr receives the command's own diagnostics (nil: discarded).
func Run(ctx context.Context, command string, secrets []string, stderr io.Writer) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = childenv.Env(secrets)
	cmd.Stdin = nil

	var out bytes.Buffer

	cmd.Stdout = &limited{w: &out, n: maxOutput}
	cmd.Stderr = stderr

	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError

		switch {
		case ctx.Err() != nil:
			return "", fmt.Errorf("the password command did not finish within %s", Timeout)
		case errors.As(err, &ee):
			// Its output is not shown: it may hold the secret.
			return "", fmt.Errorf("the password command failed (exit status %d; its output is not shown)", ee.ExitCode())
		default:
			return "", fmt.Errorf("the password command could not start: %w", err)
		}
	}

	pw, _, _ := strings.Cut(out.String(), "\n")
	pw = strings.TrimRight(pw, "\r")

	if pw == "" {
		return "", ErrEmpty
	}

	return pw, nil
}

// limited keeps the first n bytes and drops the rest, so a command that
// prints without end still finishes.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}

		l.n -= k
	}

	return len(p), nil
}
