package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
)

// configSource is where the repository keeps the versions of the
// configuration, as segments of a pseudo-source (like the audit log's copy):
// no source listing shows them and prune, which works per configured
// source, never removes one.
const configSource = "_config"

// writeCommands store the configuration they run with in the repository, so
// the repository alone tells how it was made.
var writeCommands = map[string]bool{
	"init": true, "backup": true, "stream": true, "daemon": true, "prune": true, "import": true,
	"pin": true, "unpin": true, "recover": true, "replicate": true, "export-repo": true,
}

// storeConfig keeps the configuration's text in the repository, its
// secrets redacted, unless the newest version stored is the same: a run
// with an unchanged configuration costs one listing. A configuration that
// cannot be stored is reported but does not stop the command.
func (a *App) storeConfig(ctx context.Context, r *repo.Repository, cfg *config.Config) {
	if cfg.Text == nil || a.ro.stored != nil {
		return
	}

	text, redacted := config.Redact(cfg.Text)
	sum := sha256.Sum256(text)

	segs, err := r.Segments(ctx, configSource)
	if err != nil {
		a.log.Warn("the configuration was not stored in the repository", "err", err)
		return
	}

	if len(segs) > 0 && segs[len(segs)-1].SHA256 == hex.EncodeToString(sum[:]) {
		return
	}

	file, _ := filepath.Abs(cfg.File)
	host, _ := os.Hostname()
	labels := map[string]string{"kind": "config", "file": file, "host": host, "lifeboat": toolVersion()}

	if len(redacted) > 0 {
		labels["redacted"] = strings.Join(redacted, ",")
	}

	if _, err := r.PutSegment(ctx, configSource, labels, bytes.NewReader(text)); err != nil {
		a.log.Warn("the configuration was not stored in the repository", "err", err)
		return
	}

	a.log.Info("configuration stored in the repository", "file", file, "version", len(segs)+1)
}

// storedConfig is one version of the configuration kept in the repository.
type storedConfig struct {
	seg  *repo.Segment
	text []byte
}

func (s *storedConfig) describe() string {
	return fmt.Sprintf("stored %s from %s:%s", s.seg.Stored.Local().Format(time.DateTime), s.seg.Labels["host"], s.seg.Labels["file"])
}

// readStored reads the newest version stored at or before at (zero: the
// newest of all).
func readStored(ctx context.Context, r *repo.Repository, at time.Time) (*storedConfig, error) {
	segs, err := r.Segments(ctx, configSource)
	if err != nil {
		return nil, err
	}

	if len(segs) == 0 {
		return nil, usage("repository %s holds no configuration: only a command that writes it (init, backup, binlog stream, prune, ...) "+
			"stores one, and Lifeboat versions before this one stored none; pass --config FILE with the repository's sources", r.Path())
	}

	var seg *repo.Segment

	for _, s := range segs {
		if at.IsZero() || !s.Stored.After(at) {
			seg = s
		}
	}

	if seg == nil {
		return nil, usage("no configuration was stored in repository %s at or before %s: the oldest is from %s (see `lifeboat config versions`)",
			r.Path(), at.Local().Format(time.DateTime), segs[0].Stored.Local().Format(time.DateTime))
	}

	rc, err := r.OpenSegment(ctx, seg)
	if err != nil {
		return nil, fmt.Errorf("read the configuration stored in the repository: %w", err)
	}
	defer rc.Close()

	text, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read the configuration stored in the repository: %w", err)
	}

	return &storedConfig{seg: seg, text: text}, nil
}

// loadStored is the newest configuration stored in r, located at loc: its
// own repository location (and password file) belong to the machine that
// stored it.
func loadStored(ctx context.Context, r *repo.Repository, loc config.Repository) (*config.Config, error) {
	sc, err := readStored(ctx, r, time.Time{})
	if err != nil {
		return nil, err
	}

	// Relative paths resolve against the folder of the file it was.
	file := sc.seg.Labels["file"]
	if file == "" {
		file = config.DefaultFile
	}

	cfg, err := config.Parse(file, sc.text)
	if err != nil {
		return nil, fmt.Errorf("the configuration %s in repository %s does not load here: %w; "+
			"write it out with `lifeboat config restore -o lifeboat.yaml`, correct it and pass --config lifeboat.yaml", sc.describe(), r.Path(), err)
	}

	cfg.File = fmt.Sprintf("the configuration %s in the repository", sc.describe())
	cfg.Text = nil
	cfg.Repository = loc

	return cfg, nil
}

// parseAt reads --at: empty is the newest version.
func parseAt(at string) (time.Time, error) {
	if at == "" {
		return time.Time{}, nil
	}

	t, err := plan.ParseTime(at)
	if err != nil {
		return t, usage("--at: %v", err)
	}

	return t, nil
}

const atHelp = "the version in use at this time (e.g. '2026-11-25 14:03', local time, or RFC 3339)"

func (a *App) configStoreCommands() []*cobra.Command {
	var at string

	show := &cobra.Command{
		Use:   "show [--at TIME]",
		Short: "Print the configuration stored in the repository (the newest, or the one in use at TIME)",
		Args:  cobra.NoArgs,
		Example: "  lifeboat config show\n" +
			"  lifeboat config show --at '2026-11-25 14:03'",
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseAt(at)
			if err != nil {
				return err
			}

			sc, err := a.storedVersion(cmd.Context(), t)
			if err != nil {
				return err
			}

			fmt.Fprintf(a.Stderr, "# the configuration %s\n", sc.describe())
			_, err = a.Stdout.Write(sc.text)

			return err
		},
	}
	show.Flags().StringVar(&at, "at", "", atHelp)

	versions := &cobra.Command{
		Use:   "versions",
		Short: "List the versions of the configuration stored in the repository",
		Args:  cobra.NoArgs,
		Example: "  lifeboat config versions\n" +
			"  lifeboat --repo /srv/backups config versions",
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := a.openStored(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			segs, err := r.Segments(cmd.Context(), configSource)
			if err != nil {
				return err
			}

			if a.jsonOut {
				return a.jsonConfigVersions(segs)
			}

			fmt.Fprintf(a.Stdout, "%-19s  %-12s  %-8s  %s\n", "STORED", "SHA256", "BYTES", "FROM")

			for _, s := range segs {
				fmt.Fprintf(a.Stdout, "%-19s  %-12s  %-8d  %s:%s\n", s.Stored.Local().Format(time.DateTime), shortID(s.SHA256), s.Bytes, s.Labels["host"], s.Labels["file"])
			}

			return nil
		},
	}

	a.jsonFlag(versions)

	return []*cobra.Command{show, versions, a.configRestoreCommand()}
}

func (a *App) configRestoreCommand() *cobra.Command {
	var (
		out, at string
		force   bool
		dryRun  bool
	)

	cmd := &cobra.Command{
		Use:   "restore -o FILE [--at TIME] [--force] [--dry-run]",
		Short: "Write the configuration stored in the repository to FILE, as the starting configuration of a new machine",
		Args:  cobra.NoArgs,
		Example: "  lifeboat --repo /srv/backups config restore -o /etc/lifeboat/lifeboat.yaml\n" +
			"  lifeboat config restore -o before.yaml --at '2026-11-25 14:03'",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usage("config restore: -o FILE is required (where to write the configuration, e.g. -o lifeboat.yaml)")
			}

			t, err := parseAt(at)
			if err != nil {
				return err
			}

			if _, err := os.Lstat(out); err == nil && !force {
				return usage("config restore: %s exists; choose another file or pass --force to replace it", out)
			}

			sc, err := a.storedVersion(cmd.Context(), t)
			if err != nil {
				return err
			}

			if dryRun {
				fmt.Fprintf(a.Stdout, "would write the configuration %s to %s\ndry run: nothing was written\n", sc.describe(), out)

				return nil
			}

			if err := writeNew(out, a.restoredText(sc), force); err != nil {
				return fmt.Errorf("config restore: %w", err)
			}

			fmt.Fprintf(a.Stdout, "wrote the configuration %s to %s\n", sc.describe(), out)

			if red := sc.seg.Labels["redacted"]; red != "" {
				fmt.Fprintf(a.Stdout, "put back what was not stored because it is a secret: %s\n", strings.ReplaceAll(red, ",", ", "))
			}

			fmt.Fprintf(a.Stdout, "check it with `lifeboat --config %s config check`: paths, hosts and the password files and variables it names must exist on this machine\n", out)

			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the file to write (created 0600)")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	cmd.Flags().StringVar(&at, "at", "", atHelp)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say which stored version would be written, and write nothing")

	return cmd
}

// storedVersion reads the stored configuration in use at t.
func (a *App) storedVersion(ctx context.Context, t time.Time) (*storedConfig, error) {
	r, err := a.openStored(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close(ctx)

	return readStored(ctx, r, t)
}

// restoredText is a stored configuration with a header saying where it
// came from.
func (a *App) restoredText(sc *storedConfig) []byte {
	var b bytes.Buffer

	fmt.Fprintf(&b, "# Restored by `lifeboat config restore` from the repository: the configuration %s.\n", sc.describe())
	fmt.Fprintf(&b, "# Relative paths in it were relative to %s.\n", filepath.Dir(sc.seg.Labels["file"]))

	if red := sc.seg.Labels["redacted"]; red != "" {
		fmt.Fprintf(&b, "# Secrets are never stored: put back %s.\n", strings.ReplaceAll(red, ",", ", "))
	}

	b.Write(sc.text)

	return b.Bytes()
}

// writeNew writes data to path, 0600, through a temporary file in the same
// folder, so path holds either nothing, what it held, or all of data; it
// never replaces an existing file (nor follows a symbolic link there)
// unless force.
func writeNew(path string, data []byte, force bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".lifeboat-config-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())

	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}

	if err := tmp.Close(); err != nil {
		return err
	}

	if force {
		return os.Rename(tmp.Name(), path)
	}

	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; choose another file or pass --force to replace it", path)
		}

		return err
	}

	return nil
}
