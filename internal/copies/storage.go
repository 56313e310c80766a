package copies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// StorageOf resolves where the repository (key "repository") or a copy (key
// "copies.NAME") lives, reading the S3 credentials from the environment
// (getenv) or their files. A missing secret is named by where it was looked
// for, never by its value.
func StorageOf(cfg *config.Config, key, path string, c *config.S3, getenv func(string) string) (repo.Storage, error) {
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

		if v := getenv(env); v != "" {
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

// StorageOfCopy resolves a copy's storage.
func StorageOfCopy(cfg *config.Config, c *config.Copy, getenv func(string) string) (repo.Storage, error) {
	return StorageOf(cfg, "copies."+c.Name, c.Path, c.S3, getenv)
}

// Present reports whether an offline copy is attached now: its folder
// exists. Copies that are not offline are always present.
func Present(c *config.Copy) bool {
	if !c.Offline || c.S3 != nil {
		return true
	}

	fi, err := os.Stat(c.Path)

	return err == nil && fi.IsDir()
}

// Open opens a copy as a repository (it has the repository's password).
func Open(ctx context.Context, cfg *config.Config, c *config.Copy, pw repo.Password, getenv func(string) string, log *slog.Logger) (*repo.Repository, error) {
	if !Present(c) {
		return nil, fmt.Errorf("offline copy %s is not attached: %s does not exist; attach the disk (and create that folder once)", c.Name, c.Path)
	}

	where, err := StorageOfCopy(cfg, c, getenv)
	if err != nil {
		return nil, err
	}

	r, err := repo.OpenAt(ctx, where, pw, log)
	if errors.Is(err, repo.ErrNotInitialized) {
		// A copy is made by replicate, which writes the repository's format
		// last: without it, replication never finished, and init would be
		// the wrong advice.
		return nil, fmt.Errorf("copy %s (%s): %w yet, only part of one (a replication did not finish): run `lifeboat replicate --to %s` to complete it", c.Name, c.Location(), repo.ErrNotInitialized, c.Name)
	}

	return r, err
}
