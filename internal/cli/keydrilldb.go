package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"lifeboat/internal/config"
	"lifeboat/internal/escrow"
	"lifeboat/internal/repo"
)

// drillDatabase restores a database source into a scratch database on the
// server the --mysql-* flags name, as a stranger would: `lifeboat --repo
// LOCATION restore SOURCE --target-database NAME`, run with the kit's
// location, the escrowed password and no configuration file (the one the
// repository keeps is used).
func (a *App) drillDatabase(ctx context.Context, r *repo.Repository, k *escrow.Kit, o *drillOptions) (repo.RestoreStats, *repo.Snapshot, string, error) {
	var none repo.RestoreStats

	f := a.ro.mysql
	if f.host == "" && f.socket == "" {
		return none, nil, "", errors.New("a database source is restored into a scratch database: name its server with --mysql-socket or --mysql-host (and --mysql-user, --mysql-password-env)")
	}

	snap, err := r.Find(ctx, o.source, "latest")
	if err != nil {
		return none, nil, "", err
	}

	name := "lifeboat_escrow_drill_" + a.clock().Now().UTC().Format("20060102150405")
	args := []string{"--repo", k.Repository.Location}

	if k.Repository.Endpoint != "" {
		args = append(args, "--s3-endpoint", k.Repository.Endpoint)
	}

	if k.Repository.Region != "" {
		args = append(args, "--s3-region", k.Repository.Region)
	}

	if k.Repository.PlainS3 {
		args = append(args, "--s3-tls=false")
	}

	args = append(args, "restore", o.source, "--target-database", name)

	for flag, v := range map[string]string{"--mysql-host": f.host, "--mysql-socket": f.socket, "--mysql-user": f.user, "--mysql-password-env": f.passwordEnv} {
		if v != "" {
			args = append(args, flag, v)
		}
	}

	if f.port != 0 {
		args = append(args, "--mysql-port", strconv.Itoa(f.port))
	}

	pw := o.pw

	var out bytes.Buffer

	sub := &App{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Clock: a.Clock, IsTerminal: func(any) bool { return false },
		// The password is handed over in memory; no configuration file is
		// looked for but the machine's own.
		Getenv: func(key string) string {
			switch key {
			case EnvPassword:
				return pw
			case config.EnvConfig, EnvRepository:
				return ""
			}

			return a.Getenv(key)
		},
	}
	sub.ro.systemConfig = a.ro.systemConfig

	if err := sub.Run(ctx, args); err != nil {
		return none, nil, "", fmt.Errorf("restore %s into the scratch database %s: %w\n%s", o.source, name, err, out.String())
	}

	return repo.RestoreStats{Files: snap.Files, Bytes: snap.Bytes}, snap, "the scratch database " + name + " (drop it when done)", nil
}
