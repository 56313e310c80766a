package cli

import (
	"context"

	"lifeboat/internal/config"
	"lifeboat/internal/copies"
	"lifeboat/internal/repo"
)

// storage resolves where the repository lives, reading the S3 credentials
// from the environment or their files. A missing secret is named by where
// it was looked for, never by its value.
func (a *App) storage(cfg *config.Config) (repo.Storage, error) {
	return a.storageOf(cfg, "repository", cfg.Repository.Path, cfg.Repository.S3)
}

// storageOf is where a repository lives, read on the App's clock (the
// repository's snapshot times, locks and upload hours, and the sources'
// instants, which take the repository's clock).
func (a *App) storageOf(cfg *config.Config, key, path string, c *config.S3) (repo.Storage, error) {
	where, err := copies.StorageOf(cfg, key, path, c, a.Getenv)
	where.Clock = a.clock()

	return where, err
}

func (a *App) openStorage(ctx context.Context, cfg *config.Config, pw repo.Password) (*repo.Repository, error) {
	where, err := a.storage(cfg)
	if err != nil {
		return nil, err
	}

	return repo.OpenAt(ctx, where, pw, nil)
}
