package health

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// KitPlaces are the locations a recovery kit names, one a line: the
// repository and each copy (an absolute folder, or an S3 URL with its
// endpoint and region). A kit is stale once they differ from the
// configuration's.
func KitPlaces(cfg *config.Config) string {
	place := func(path string, s3 *config.S3) string {
		if s3 != nil {
			return KitLocation(path, s3) + " " + s3.Endpoint + " " + s3.Region
		}

		return KitLocation(path, s3)
	}

	lines := []string{"repository " + place(cfg.Repository.Path, cfg.Repository.S3)}

	for _, name := range cfg.CopyNames {
		c := cfg.Copies[name]
		lines = append(lines, "copy "+name+" "+place(c.Path, c.S3))
	}

	return strings.Join(lines, "\n")
}

// KitLocation is a repository's location as the kit names it: an absolute
// folder, or s3://BUCKET/PREFIX (the endpoint apart), as --repo takes it.
func KitLocation(path string, s3 *config.S3) string {
	if s3 != nil {
		u := "s3://" + s3.Bucket
		if s3.Prefix != "" {
			u += "/" + strings.TrimSuffix(s3.Prefix, "/")
		}

		return u
	}

	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}

	return path
}

// StaleKit is the message for a recovery kit made before what, on when
// (zero: not known), made it stale.
func StaleKit(what string, when time.Time) string {
	if !when.IsZero() {
		what += " of " + when.UTC().Format("2006-01-02 15:04 UTC")
	}

	return "recovery kit is stale: made before the " + what + "; run lifeboat key kit and hand out the new page"
}

// KitStale says why the newest recovery kit no longer serves ("" when it
// does, or none was made): the password changed or the key was rotated
// after it was made, so its sealed password no longer opens the repository,
// or the repository or its copies moved, so it sends its holders to the
// wrong place.
func (k Key) KitStale() string {
	kit := k.Kit
	if kit == nil {
		return ""
	}

	switch {
	case k.PasswordChanged.After(kit.At):
		return StaleKit("password change", k.PasswordChanged)
	case k.Rekeyed.After(kit.At):
		return StaleKit("rekey", k.Rekeyed)
	case kit.Places != "" && k.Places != "" && kit.Places != k.Places:
		return StaleKit("change of the repository's location or copies", time.Time{})
	}

	return ""
}

// rekeyRecord is the record `lifeboat key rekey` writes into the new
// repository when it has copied everything.
const rekeyRecord = "rekey"

// loadKit reads the newest kit's record and the last rekey.
func (k *Key) loadKit(ctx context.Context, r *repo.Repository) error {
	kit, ok, err := records.Get[records.Kit](ctx, r, records.KindKit, records.KeyKitLast)
	if err != nil {
		return err
	}

	if ok {
		k.Kit = &kit
	}

	rk, ok, err := records.Get[records.PasswordChange](ctx, r, records.KindKey, rekeyRecord)
	if err != nil {
		return err
	}

	if ok {
		k.Rekeyed = rk.At
	}

	return nil
}
