// Package git backs up a git repository as a bundle of all its refs, checked with
// `git bundle verify` before it is stored, and restores it as a repository with
// every branch and tag and the original HEAD. It runs the stock git client and
// never modifies the repository it backs up.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"lifeboat/internal/childenv"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

const (
	bundleName = "repo.bundle"
	headName   = "HEAD"
)

// Source is a configured `type: git` source.
type Source struct {
	cfg *config.Source
}

// New returns the git source for cfg.
func New(cfg *config.Source) *Source { return &Source{cfg: cfg} }

// Name is the source's configured name.
func (s *Source) Name() string { return s.cfg.Name }

// Kind is "git".
func (s *Source) Kind() string { return config.KindGit }

// Contains reports whether path lies inside the repository.
func (s *Source) Contains(path string) bool { return repo.Contains(s.cfg.Path, path) }

func gitCmd(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	// A repository owned by another user (a deploy user) must still be
	// readable by the backup. No inherited GIT_* passes: GIT_DIR or
	// GIT_INDEX_FILE from a hook that ran Lifeboat would point git at
	// another repository, and credentials stay in Lifeboat.
	cmd.Env = childenv.Env(nil, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*", "GIT_TERMINAL_PROMPT=0")

	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", errors.New("git is not installed: install it with `apt-get install -y git`")
		}

		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}

	return strings.TrimSpace(stdout.String()), nil
}

// Backup bundles every ref, verifies the bundle, and stores it with the HEAD.
func (s *Source) Backup(ctx context.Context, r *repo.Repository, opt source.BackupOptions) (*repo.Snapshot, error) {
	name := s.cfg.Name

	if _, err := os.Stat(s.cfg.Path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("source %s: path %s does not exist: check sources.%s.path in the configuration", name, s.cfg.Path, name)
		}

		return nil, fmt.Errorf("source %s: %w", name, err)
	}

	bare, err := gitCmd(ctx, s.cfg.Path, "rev-parse", "--is-bare-repository")
	if err != nil {
		return nil, fmt.Errorf("source %s: %s is not a git repository: %w", name, s.cfg.Path, err)
	}

	typ, base, err := source.ResolveBase(ctx, r, name, opt.Type, opt.Log)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}

	tmp, err := os.MkdirTemp("", "lifeboat-git-")
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)

	bundle := filepath.Join(tmp, bundleName)
	if _, err := gitCmd(ctx, s.cfg.Path, "bundle", "create", "--quiet", bundle, "--all"); err != nil {
		return nil, fmt.Errorf("source %s: bundle %s: %w", name, s.cfg.Path, err)
	}

	if _, err := gitCmd(ctx, s.cfg.Path, "bundle", "verify", "--quiet", bundle); err != nil {
		return nil, fmt.Errorf("source %s: the bundle of %s does not verify, nothing stored: %w", name, s.cfg.Path, err)
	}

	head, err := gitCmd(ctx, s.cfg.Path, "symbolic-ref", "-q", "HEAD")
	if err != nil || head == "" {
		// Detached HEAD: keep the commit.
		if head, err = gitCmd(ctx, s.cfg.Path, "rev-parse", "HEAD"); err != nil {
			return nil, fmt.Errorf("source %s: read HEAD: %w", name, err)
		}
	}

	refs, err := gitCmd(ctx, s.cfg.Path, "for-each-ref", "--format=%(refname)")
	if err != nil {
		return nil, fmt.Errorf("source %s: list refs: %w", name, err)
	}

	if err := os.WriteFile(filepath.Join(tmp, headName), []byte(head+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}

	return r.BackupTree(ctx, repo.TreeSpec{
		Source: name, Kind: config.KindGit, Type: typ, Version: opt.Version,
		Roots: []string{tmp}, RecordPaths: []string{s.cfg.Path}, Base: base,
		Progress: opt.Progress, CheckpointInterval: opt.CheckpointInterval, Log: opt.Log,
		Extra: map[string]string{"head": head, "refs": fmt.Sprint(len(strings.Fields(refs))), "bare": bare},
	})
}

// Restore rebuilds the repository in target with every ref and the original HEAD.
func (s *Source) Restore(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, target string, opt source.RestoreOptions) (*source.RestoreResult, error) {
	if err := source.CheckTarget(target, opt.Overwrite); err != nil {
		return nil, err
	}

	res := &source.RestoreResult{}

	tmp, err := os.MkdirTemp("", "lifeboat-git-restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	st, err := r.Restore(ctx, snap.ID, tmp, repo.RestoreOptions{Progress: opt.Progress})
	if err != nil {
		return nil, err
	}

	res.Stats = st
	bundle := filepath.Join(tmp, bundleName)

	if _, err := gitCmd(ctx, tmp, "bundle", "list-heads", bundle); err != nil {
		return nil, fmt.Errorf("restored bundle is unreadable: %w", err)
	}

	if opt.Overwrite {
		safety, err := source.SafetySnapshot(ctx, r, s.cfg.Name, opt.Version, []string{target})
		if err != nil {
			return nil, err
		}

		res.Safety = safety

		if err := clearDir(target); err != nil {
			return res, err
		}
	}

	bare := snap.Extra["bare"] == "true"
	initArgs := []string{"init", "--quiet"}

	if bare {
		initArgs = append(initArgs, "--bare")
	}

	if err := os.MkdirAll(target, 0o755); err != nil {
		return res, fmt.Errorf("create %s: %w", target, err)
	}

	steps := [][]string{
		append(initArgs, "."),
		{"fetch", "--quiet", "--update-head-ok", bundle, "+refs/*:refs/*"},
	}

	head := snap.Extra["head"]
	if strings.HasPrefix(head, "refs/") {
		steps = append(steps, []string{"symbolic-ref", "HEAD", head})
		if !bare {
			steps = append(steps, []string{"reset", "--quiet", "--hard"})
		}
	} else if head != "" {
		if bare {
			steps = append(steps, []string{"update-ref", "--no-deref", "HEAD", head})
		} else {
			steps = append(steps, []string{"checkout", "--quiet", "--detach", head})
		}
	}

	for _, args := range steps {
		if _, err := gitCmd(ctx, target, args...); err != nil {
			return res, fmt.Errorf("rebuild repository in %s: %w", target, err)
		}
	}

	return res, nil
}

// clearDir empties dir after its contents were saved, so the rebuilt repository
// holds exactly the restored refs.
func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}

		return err
	}

	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clear %s before restore: %w", dir, err)
		}
	}

	return nil
}

// Preview names the repository a backup would bundle.
func (s *Source) Preview(context.Context) (string, error) {
	if _, err := os.Stat(s.cfg.Path); err != nil {
		return "", fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}

	return "every branch and tag of the git repository " + s.cfg.Path, nil
}
