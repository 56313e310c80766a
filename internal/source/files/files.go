// Package files backs up and restores file trees: directories and single files
// with owner, group, mode, times, symlinks and empty directories, filtered by
// include and exclude globs. It never follows a symlink out of the tree and
// never restores outside the target.
package files

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"lifeboat/internal/config"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// Source is a configured `type: files` source.
type Source struct {
	cfg *config.Source
}

// New returns the files source for cfg.
func New(cfg *config.Source) *Source { return &Source{cfg: cfg} }

// Name is the source's configured name.
func (s *Source) Name() string { return s.cfg.Name }

// Kind is "files".
func (s *Source) Kind() string { return config.KindFiles }

// Contains reports whether path lies inside one of the source's paths.
func (s *Source) Contains(path string) bool {
	for _, p := range s.cfg.Paths {
		if repo.Contains(p, path) {
			return true
		}
	}

	return false
}

// Backup takes a snapshot of the source's paths.
func (s *Source) Backup(ctx context.Context, r *repo.Repository, opt source.BackupOptions) (*repo.Snapshot, error) {
	typ, base, err := source.ResolveBase(ctx, r, s.cfg.Name, opt.Type, opt.Log)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}

	return r.BackupTree(ctx, repo.TreeSpec{
		Source: s.cfg.Name, Kind: config.KindFiles, Type: typ, Version: opt.Version,
		Roots: s.cfg.Paths, Include: s.cfg.Include, Exclude: s.cfg.Exclude,
		IgnoreUnreadable: s.cfg.IgnoreUnreadable, Base: base,
		Progress: opt.Progress, CheckpointInterval: opt.CheckpointInterval, Log: opt.Log,
	})
}

// Restore writes the snapshot below target. A single-directory source restores
// its contents into target; any other source restores its absolute paths below
// target (restore to / puts them back in place).
func (s *Source) Restore(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, target string, opt source.RestoreOptions) (*source.RestoreResult, error) {
	if err := source.CheckTarget(target, opt.Overwrite); err != nil {
		return nil, err
	}

	if err := r.CheckRestore(ctx, snap.ID, target, opt.Overwrite); err != nil {
		return nil, err
	}

	res := &source.RestoreResult{}

	if opt.Overwrite {
		var replaced []string

		if snap.Layout == repo.LayoutDir {
			replaced = []string{target}
		} else {
			for _, p := range snap.Paths {
				replaced = append(replaced, filepath.Join(target, p))
			}
		}

		safety, err := source.SafetySnapshot(ctx, r, s.cfg.Name, opt.Version, replaced)
		if err != nil {
			return nil, err
		}

		res.Safety = safety
	}

	st, err := r.Restore(ctx, snap.ID, target, repo.RestoreOptions{Overwrite: opt.Overwrite, Progress: opt.Progress})
	if err != nil {
		return res, err
	}

	res.Stats = st

	return res, nil
}

// Preview counts the files and bytes a backup would read, through the
// source's include and exclude rules.
func (s *Source) Preview(ctx context.Context) (string, error) {
	c, err := repo.CountTree(ctx, repo.TreeSpec{
		Source: s.cfg.Name, Roots: s.cfg.Paths, Include: s.cfg.Include, Exclude: s.cfg.Exclude,
		IgnoreUnreadable: s.cfg.IgnoreUnreadable,
	})
	if err != nil {
		return "", err
	}

	line := fmt.Sprintf("%d files, %s in %s", c.Files, progress.Bytes(c.Bytes), strings.Join(s.cfg.Paths, ", "))
	if c.Unreadable > 0 {
		line += fmt.Sprintf(" (%d folders cannot be read)", c.Unreadable)
	}

	return line, nil
}
