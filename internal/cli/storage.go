package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// storage resolves where the repository lives, reading the S3 credentials
// from the environment or their files. A missing secret is named by where
// it was looked for, never by its value.
func (a *App) storage(cfg *config.Config) (repo.Storage, error) {
	return a.storageOf(cfg, "repository", cfg.Repository.Path, cfg.Repository.S3)
}

func (a *App) storageOf(cfg *config.Config, key, path string, c *config.S3) (repo.Storage, error) {
	if c == nil {
		return repo.AtPath(path), nil
	}

	prefix := key + "."

	secret := func(env, file, key string) (string, error) {
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", &config.Error{File: cfg.File, Key: prefix + key + "_file", Msg: fmt.Sprintf("cannot read %s: %v", file, err)}
			}

			return strings.TrimSpace(string(b)), nil
		}

		if v := a.Getenv(env); v != "" {
			return v, nil
		}

		return "", &config.Error{File: cfg.File, Key: prefix + key + "_env",
			Msg: fmt.Sprintf("$%s is not set: export it, or name another variable with %s%s_env or a file with %s%s_file", env, prefix, key, prefix, key)}
	}

	access, err := secret(c.AccessKeyEnv, c.AccessKeyFile, "access_key")
	if err != nil {
		return repo.Storage{}, err
	}

	sec, err := secret(c.SecretKeyEnv, c.SecretKeyFile, "secret_key")
	if err != nil {
		return repo.Storage{}, err
	}

	s3 := &repo.S3{
		Bucket: c.Bucket, Prefix: c.Prefix, Endpoint: c.Endpoint, Region: c.Region,
		AccessKey: access, SecretKey: sec, NoTLS: !c.TLS, UploadBytesPerSecond: c.UploadLimit,
		LockMode: c.LockMode, LockPeriod: c.ImmutableFor,
	}

	if c.UploadHours != nil {
		s3.UploadHours = c.UploadHours
	}

	if c.CAFile != "" {
		if s3.RootCA, err = os.ReadFile(c.CAFile); err != nil {
			return repo.Storage{}, &config.Error{File: cfg.File, Key: prefix + "ca_file", Msg: fmt.Sprintf("cannot read %s: %v", c.CAFile, err)}
		}
	}

	return repo.Storage{S3: s3}, nil
}

func (a *App) openStorage(ctx context.Context, cfg *config.Config, pw repo.Password) (*repo.Repository, error) {
	where, err := a.storage(cfg)
	if err != nil {
		return nil, err
	}

	return repo.OpenAt(ctx, where, pw, nil)
}
