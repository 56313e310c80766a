// Package hygiene checks, when a command starts, that what holds a secret or
// the repository's local state is private to its owner: the repository
// folder, the audit log and the state beside it, every credential file the
// configuration names, and the configuration file itself when a secret is
// written in it. It only reports; it never changes a mode, since a shared
// group may be deliberate and a silent chmod would hide that it was not.
package hygiene

import (
	"fmt"
	"os"
	"path/filepath"

	"lifeboat/internal/config"
)

// Private is a path that should be readable by its owner alone.
type Private struct {
	Path string
	// What says what it holds, for the warning.
	What string
}

// Problem is one path that others can reach.
type Problem struct {
	Path string
	What string
	Mode os.FileMode
}

// String is the warning a user reads, with the command that fixes it.
func (p Problem) String() string {
	fix := "chmod 600 "
	if p.Mode.IsDir() {
		fix = "chmod 700 "
	}

	return fmt.Sprintf("%s %s is open to other users (mode %#o): %s%s", p.What, p.Path, p.Mode.Perm(), fix, p.Path)
}

// Paths lists what the configuration keeps private: the local repository
// folder, the audit log and the restore notes beside it, and
// every file it names that holds a credential.
func Paths(cfg *config.Config) []Private {
	var out []Private

	add := func(path, what string) {
		if path != "" {
			out = append(out, Private{Path: path, What: what})
		}
	}

	add(cfg.Repository.Path, "the repository folder")
	add(cfg.Repository.PasswordFile, "the repository password file")

	s3 := func(s *config.S3, key string) {
		if s != nil {
			add(s.AccessKeyFile, key+".access_key_file")
			add(s.SecretKeyFile, key+".secret_key_file")
		}
	}

	s3(cfg.Repository.S3, "repository")

	for _, name := range cfg.CopyNames {
		s3(cfg.Copies[name].S3, "copies."+name)
	}

	if cfg.Audit.Path != "" {
		add(cfg.Audit.Path, "the audit log")
		// Not the folder itself: it is often a shared one the user made;
		// what Lifeboat creates in it is checked.
		add(filepath.Join(filepath.Dir(cfg.Audit.Path), "restores-under-way"), "the restore notes folder")
	}

	for _, name := range cfg.SourceNames {
		if my := cfg.Sources[name].Server(); my != nil {
			add(my.PasswordFile, "sources."+name+".password_file")
		}

		if m := cfg.Sources[name].MySQL.Masking; m != nil {
			add(m.KeyFile, "sources."+name+".masking.key_file")
		}
	}

	if e := cfg.Notify.Email; e != nil {
		add(e.PasswordFile, "notify.email.password_file")
	}

	if t := cfg.Server.TLS; t != nil {
		add(t.Key, "server.tls.key")
	}

	return out
}

// Check returns every path of ps that exists and that group or others may
// read, write or enter. A path that does not exist is no problem here: the
// command that needs it says so.
func Check(ps []Private) []Problem {
	var out []Problem

	for _, p := range ps {
		fi, err := os.Stat(p.Path)
		if err != nil {
			continue
		}

		if fi.Mode().Perm()&0o077 != 0 {
			out = append(out, Problem{Path: p.Path, What: p.What, Mode: fi.Mode()})
		}
	}

	return out
}

// ConfigReadable says whether the configuration file holds a secret written
// in it (a user:password@ URL, the webhook's token) and others may read it;
// keys names those secrets' keys.
func ConfigReadable(file string) (keys []string, mode os.FileMode, readable bool) {
	if file == "" {
		return nil, 0, false
	}

	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return nil, 0, false
	}

	b, err := os.ReadFile(file)
	if err != nil {
		return nil, 0, false
	}

	_, keys = config.Redact(b)

	return keys, fi.Mode(), len(keys) > 0
}
