// Package childenv builds the environment of every program Lifeboat starts:
// the mariadb client and mariadb-binlog of a point-in-time recovery, git, and
// a recovery plan's commands. A child gets an allow-list of Lifeboat's own
// variables (where programs are, whose home, which locale and time zone,
// where temporary files go) and what its caller adds; it never inherits the
// repository password, a database password, SMTP or S3 credentials, or any
// other variable the allow-list does not name. This package must never widen
// the list to "everything but the secrets it knows of": a secret it has not
// heard of would then leak.
package childenv

import (
	"os"
	"strings"
)

// passed are the variables a child receives from Lifeboat's environment.
// LC_* are the locale categories by name, so an arbitrary LC_-prefixed
// variable (an ssh-forwarded secret, say) does not slip through.
var passed = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "TZ": true, "TMPDIR": true,
	"LANG": true, "LANGUAGE": true, "LC_ALL": true, "LC_CTYPE": true, "LC_NUMERIC": true, "LC_TIME": true,
	"LC_COLLATE": true, "LC_MONETARY": true, "LC_MESSAGES": true, "LC_PAPER": true, "LC_NAME": true,
	"LC_ADDRESS": true, "LC_TELEPHONE": true, "LC_MEASUREMENT": true, "LC_IDENTIFICATION": true,
}

// Passed reports whether a variable of Lifeboat's environment reaches children.
func Passed(name string) bool { return passed[name] }

// Env is the environment for a child: the allowed variables of Lifeboat's
// own environment, except those named in secrets (the configuration's
// password_env and key variables, should one of them be an allowed name),
// followed by extra ("NAME=value" entries the caller sets for the child).
func Env(secrets []string, extra ...string) []string {
	return From(os.Environ(), secrets, extra...)
}

// From is Env over a given environment (entries "NAME=value").
func From(environ, secrets []string, extra ...string) []string {
	deny := make(map[string]bool, len(secrets))
	for _, s := range secrets {
		deny[s] = true
	}

	out := make([]string, 0, len(passed)+len(extra))

	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if ok && passed[name] && !deny[name] {
			out = append(out, kv)
		}
	}

	return append(out, extra...)
}
