package cli

import (
	"fmt"
	"os"

	"lifeboat/internal/config"
)

// environmentProblems lists what the configuration names that this machine
// lacks: a password or key variable that is not set, a database socket that
// does not exist. The file itself is valid; the command that needs them
// would fail here.
func (a *App) environmentProblems(cfg *config.Config) []string {
	var out []string

	unset := func(key, name, alt string) {
		if name != "" && a.Getenv(name) == "" {
			out = append(out, fmt.Sprintf("%s: $%s is not set in this environment: export it (or use %s)", key, name, alt))
		}
	}

	mysql := func(key string, my *config.MySQL) {
		if my == nil {
			return
		}

		unset(key+".password_env", my.PasswordEnv, "password_file")

		if my.Socket == "" {
			return
		}

		if fi, err := os.Stat(my.Socket); err != nil {
			out = append(out, fmt.Sprintf("%s.socket: %s does not exist: is the database server running on this machine, and is the path right?", key, my.Socket))
		} else if fi.Mode()&os.ModeSocket == 0 {
			out = append(out, fmt.Sprintf("%s.socket: %s is not a socket: give the server's socket file (SHOW VARIABLES LIKE 'socket')", key, my.Socket))
		}
	}

	s3 := func(key string, s *config.S3) {
		if s == nil {
			return
		}

		if s.AccessKeyFile == "" {
			unset(key+".access_key_env", s.AccessKeyEnv, "access_key_file")
		}

		if s.SecretKeyFile == "" {
			unset(key+".secret_key_env", s.SecretKeyEnv, "secret_key_file")
		}
	}

	s3("repository", cfg.Repository.S3)

	for _, n := range cfg.CopyNames {
		s3("copies."+n, cfg.Copies[n].S3)
	}

	for _, n := range cfg.SourceNames {
		s := cfg.Sources[n]
		if my := s.Server(); my != nil {
			mysql("sources."+n, my)
			mysql("sources."+n+".verify.server", s.Verify.Server)
		}
	}

	if e := cfg.Notify.Email; e != nil && e.Username != "" && e.PasswordFile == "" {
		unset("notify.email.password_env", e.PasswordEnv, "password_file")
	}

	return out
}
