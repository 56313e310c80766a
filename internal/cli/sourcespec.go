package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"lifeboat/internal/config"
	"lifeboat/internal/starter"
)

// source is the source the flags describe, its paths absolute and present
// on this machine.
func (o *sourceAdd) source(name string, more []string) (*config.Source, error) {
	if !config.ValidName(name) {
		return nil, usage("source name %q: names hold letters, digits, '-', '_' and '.', start with a letter or digit, and are at most 64 long", name)
	}

	kinds := 0
	for _, set := range []bool{len(o.files) > 0, o.git != "", o.mysql != ""} {
		if set {
			kinds++
		}
	}

	if kinds != 1 {
		return nil, usage("source add %s: give one of --files PATH..., --git PATH or --mysql DSN", name)
	}

	if len(more) > 0 && len(o.files) == 0 {
		return nil, usage("source add %s: %v: only --files takes more than one path", name, more)
	}

	if (o.passwordEnv != "" || o.passwordFile != "") && o.mysql == "" {
		return nil, usage("--password-env and --password-file are for a --mysql source")
	}

	src := &config.Source{Name: name, Tier: o.tier}

	var err error

	switch {
	case len(o.files) > 0:
		src.Type = config.KindFiles
		for _, p := range append(o.files, more...) {
			abs, err := existing("--files", p, false)
			if err != nil {
				return nil, err
			}

			src.Paths = append(src.Paths, abs)
		}
	case o.git != "":
		src.Type = config.KindGit
		src.Path, err = existing("--git", o.git, true)
	default:
		src.Type = config.KindMySQL
		src.MySQL, err = o.database()
	}

	if err != nil {
		return nil, err
	}

	return src, nil
}

// database is --mysql with the password's place; the DSN itself is never
// repeated in a message, in case it holds what it should not.
func (o *sourceAdd) database() (config.MySQL, error) {
	my, err := starter.ParseDSN(o.mysql)
	if errors.Is(err, starter.ErrPasswordInDSN) {
		return my, usage("--mysql: the DSN holds a password, and the configuration never does: give the DSN without it " +
			"(user@tcp(host:3306)/db) and say where the password is with --password-env VAR (an environment variable holding it) " +
			"or --password-file FILE, written as password_env or password_file; nothing was written")
	}

	if err != nil {
		return my, usage("--mysql: %v; nothing was written", err)
	}

	if o.passwordEnv != "" && o.passwordFile != "" {
		return my, usage("give --password-env or --password-file, not both")
	}

	my.PasswordEnv = o.passwordEnv

	if o.passwordFile != "" {
		if my.PasswordFile, err = existing("--password-file", o.passwordFile, false); err != nil {
			return my, err
		}
	}

	if my.Socket != "" {
		if my.Socket, err = existing("--mysql: the socket", my.Socket, false); err != nil {
			return my, err
		}
	}

	return my, nil
}

// existing is path made absolute, refused when it does not exist (or, with
// dir, is not a folder).
func existing(flag, path string, dir bool) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, path, err)
	}

	fi, err := os.Stat(abs)
	if err != nil {
		return "", usage("%s %s: does not exist on this machine (%v); nothing was written", flag, abs, errors.Unwrap(err))
	}

	if dir && !fi.IsDir() {
		return "", usage("%s %s: not a folder: give the git repository's work tree or bare directory; nothing was written", flag, abs)
	}

	return abs, nil
}
