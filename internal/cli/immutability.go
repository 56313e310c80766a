package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
)

func (a *App) checkImmutabilityCommand() *cobra.Command {
	var copyName string

	cmd := &cobra.Command{
		Use:   "check-immutability [--copy NAME]",
		Short: "Prove, with the backup credentials, that locked objects cannot be deleted, overwritten or unlocked",
		Args:  cobra.NoArgs,
		Example: "  lifeboat check-immutability\n" +
			"  lifeboat check-immutability --copy offsite",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}

			name, s3 := "repository", cfg.Repository.S3
			where, err := a.storage(cfg)

			if copyName != "" {
				c, cerr := a.copyByName(cfg, copyName)
				if cerr != nil {
					return cerr
				}

				name, s3 = "copy "+copyName, c.S3
				where, err = a.copyStorage(cfg, c)
			}

			if err != nil {
				return err
			}

			if s3 == nil || s3.ImmutableFor == 0 {
				return usage("%s has no immutable_for: immutability is S3 Object Lock; set url: s3://..., immutable_for: 30d (and lock_mode) on it", name)
			}

			res, err := where.CheckImmutability(cmd.Context(), probeLock)
			if err != nil {
				return err
			}

			out := a.Stdout
			if a.jsonOut {
				out = io.Discard

				if err := a.emitJSON(immutabilityResult(name, fmt.Sprint(where), s3.ImmutableFor, res, a.clock().Now())); err != nil {
					return err
				}
			}

			mark := map[bool]string{true: "ok", false: "FAILED"}

			fmt.Fprintf(out, "%s (%s), lock mode %s, immutable_for %s\n", name, where, res.Mode, human(s3.ImmutableFor))
			fmt.Fprintf(out, "  newest data object %s locked until %s: %s\n", res.Object, orNever(res.LockedUntil), mark[!res.LockedUntil.IsZero() && res.LockedUntil.After(a.clock().Now())])
			fmt.Fprintf(out, "  delete a locked version: %s\n", map[bool]string{true: "refused (" + res.DeleteError + "): ok", false: "ALLOWED: FAILED"}[res.DeleteRefused])
			fmt.Fprintf(out, "  overwrite it: %s\n", map[bool]string{true: "the locked version reads back unchanged: ok", false: "THE LOCKED VERSION CHANGED OR WENT: FAILED"}[res.OverwriteKept])
			fmt.Fprintf(out, "  shorten its lock: %s\n", map[bool]string{true: "refused (" + res.ShortenError + "): ok", false: "ALLOWED: FAILED"}[res.ShortenRefused])
			fmt.Fprintf(out, "  (the probe object stays locked until %s; nothing can remove it sooner, the next check removes it after that)\n", res.ProbeLockedTill.Local().Format(time.DateTime))

			if res.ProbesRemoved > 0 {
				fmt.Fprintf(out, "  removed %d object versions of earlier checks' probes whose lock had ended\n", res.ProbesRemoved)
			}

			for _, src := range cfg.SourceNames {
				if keep := retentionSpan(cfg.Sources[src].Retention); keep > s3.ImmutableFor {
					fmt.Fprintf(a.Stderr, "warning: sources.%s keeps snapshots up to %s, longer than immutable_for %s: in their last %s they are no longer locked, and the backup credentials could delete them\n",
						src, human(keep), human(s3.ImmutableFor), human(keep-s3.ImmutableFor))
				}
			}

			if !res.OK() {
				return errors.New("the repository is NOT immutable: locked data could be destroyed with the backup credentials (see above)")
			}

			fmt.Fprintln(out, "immutable: every attempt to destroy locked data was refused")

			return nil
		},
	}

	cmd.Flags().StringVar(&copyName, "copy", "", "check this copy instead of the repository")
	a.jsonFlag(cmd)

	return cmd
}

// probeLock is how long check-immutability's probe object stays locked: long
// enough for the attacks on it, short enough not to pile up in the bucket.
var probeLock = time.Hour

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never (no lock)"
	}

	return t.Local().Format(time.DateTime)
}

// retentionSpan is how long the rules keep a snapshot at most (keep-all: forever).
func retentionSpan(r config.Retention) time.Duration {
	if r.IsZero() {
		return 100 * 365 * 24 * time.Hour
	}

	d := r.Within

	for _, f := range []struct {
		n    int
		unit time.Duration
	}{{r.Hourly, time.Hour}, {r.Daily, 24 * time.Hour}, {r.Weekly, 7 * 24 * time.Hour}, {r.Monthly, 31 * 24 * time.Hour}, {r.Yearly, 366 * 24 * time.Hour}} {
		d = max(d, time.Duration(f.n)*f.unit)
	}

	return d
}
