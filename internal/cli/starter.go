package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/starter"
)

// starterTarget says where `init` writes a new configuration: when a
// repository is named (--repo, $LIFEBOAT_REPOSITORY) and no configuration
// file exists, the file --config or $LIFEBOAT_CONFIG names, else the
// per-user one (config.UserFile), else ./lifeboat.yaml. With a file, init
// works from it as it always has.
func (a *App) starterTarget() (string, bool) {
	if where, _ := a.repoLocation(); where == "" {
		return "", false
	}

	path, named := a.configFile()
	if named {
		if _, err := os.Stat(path); err == nil {
			return "", false
		}

		if a.configFlag != "" || a.Getenv(config.EnvConfig) != "" {
			return path, true
		}
	}

	if u := config.UserFile(a.Getenv); u != "" {
		return u, true
	}

	return config.DefaultFile, true
}

// userFileNamed is the per-user configuration for a message listing where
// one was looked for.
func (a *App) userFileNamed() string {
	if u := config.UserFile(a.Getenv); u != "" {
		return u + ", "
	}

	return ""
}

// initWithConfig creates the repository --repo names and writes a
// configuration at target that remembers it, so the next commands need no
// flags. Nothing is written when the repository cannot be created, and the
// repository is not created when the configuration could not be written.
func (a *App) initWithConfig(ctx context.Context, target string, dryRun bool) error {
	loc, err := a.flagLocation()
	if err != nil {
		return err
	}

	if _, err := os.Lstat(target); err == nil {
		return usage("%s exists: `init --repo` writes a new configuration and never replaces one; "+
			"to create the repository of that file run `lifeboat --config %s init`, else move the file away or name another with --config FILE", target, target)
	}

	if dryRun {
		where, err := a.storage(&config.Config{File: "the command line", Repository: loc})
		if err != nil {
			return err
		}

		return a.initDryRun(where, target)
	}

	pw, err := a.password(nil, true)
	if err != nil {
		return err
	}

	where, err := a.storage(&config.Config{File: "the command line", Repository: loc})
	if err != nil {
		return err
	}

	// Written first, never over another file, and removed again if the
	// repository cannot be made: either both exist or neither.
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}

	if err := writeNew(target, starter.Initial(loc), false); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}

	if err := repo.CreateAt(ctx, where, pw); err != nil {
		os.Remove(target)

		if errors.Is(err, repo.ErrAlreadyInitialized) {
			at, _ := a.repoLocation()
			return fmt.Errorf("%w; to use it from this machine, write out the configuration it keeps: lifeboat --repo %s config restore -o %s", err, at, target)
		}

		return err
	}

	if a.jsonOut {
		return a.emitJSON(initJSON{Repository: fmt.Sprint(where), ConfigFile: target, Wrote: true})
	}

	fmt.Fprintf(a.Stdout, "created encrypted repository at %s (AES-256-GCM, zstd, deduplicated)\n", where)
	fmt.Fprintf(a.Stdout, "keep the password safe: without it the backups cannot be read\n")
	fmt.Fprintf(a.Stdout, "wrote %s: the next commands use it without --config or --repo\n", target)
	fmt.Fprintf(a.Stdout, "next: lifeboat source add NAME --files PATH... (or --git PATH, --mysql DSN), then lifeboat backup\n")

	return nil
}
