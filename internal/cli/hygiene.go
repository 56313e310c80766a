package cli

import (
	"context"
	"fmt"
	"strings"

	"lifeboat/internal/config"
	"lifeboat/internal/hygiene"
	"lifeboat/internal/passcmd"
	"lifeboat/internal/repo"
)

// checkHygiene warns, once a run, about every private path that others can
// reach and about a configuration file that others can read while a secret
// is written in it.
func (a *App) checkHygiene(cfg *config.Config) {
	if a.hygieneChecked || cfg == nil {
		return
	}

	a.hygieneChecked = true

	for _, p := range hygiene.Check(hygiene.Paths(cfg)) {
		fmt.Fprintf(a.Stderr, "warning: %s\n", p)
	}

	if keys, mode, open := hygiene.ConfigReadable(cfg.File); open {
		fmt.Fprintf(a.Stderr, "warning: the configuration %s holds secrets (%s) and other users can read it (mode %#o): chmod 600 %s, or name the secrets instead (password_env, password_file)\n",
			cfg.File, strings.Join(keys, ", "), mode.Perm(), cfg.File)
	}
}

// passwordFromCommand runs repository.password_command. Its output is the
// password and goes nowhere else; the command gets no secret variable.
func (a *App) passwordFromCommand(cfg *config.Config, command string) (repo.Password, error) {
	ctx := a.ro.ctx
	if ctx == nil {
		ctx = context.Background()
	}

	pw, err := passcmd.Run(ctx, command, append(cfg.SecretEnv(), EnvPassword), a.Stderr)
	if err != nil {
		return repo.Password{}, &config.Error{File: cfg.File, Key: "repository.password_command", Msg: err.Error()}
	}

	return repo.Password{Value: pw, Origin: "repository.password_command"}, nil
}
