package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/starter"
)

// sourceAdd is `lifeboat source add`: one source written into the
// configuration file, so a first backup needs no hand-written YAML.
type sourceAdd struct {
	files        []string
	git          string
	mysql        string
	tier         string
	passwordEnv  string
	passwordFile string
	dryRun       bool
}

func (a *App) sourceCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "source", Short: "Change the sources of the configuration file", Example: "  lifeboat source add docs --files /srv/docs\n" +
		"  lifeboat source add shop-db --mysql 'backup@tcp(127.0.0.1:3306)/shop' --password-env SHOP_DB_PASSWORD"}

	var o sourceAdd

	add := &cobra.Command{
		Use:   "add NAME (--files PATH... | --git PATH | --mysql DSN) [--tier TIER]",
		Short: "Add a source to the configuration file, with the backup guide's defaults for its tier",
		Long: "Adds a source to the configuration file in use (the one `lifeboat init --repo` wrote, or --config's),\n" +
			"with a schedule that meets the tier's RPO and the guide's retention for that kind of data, each\n" +
			"explained in a comment. The rest of the file is kept as it is. Nothing is written when the name\n" +
			"exists, the tier is unknown, a path does not exist or the result would not pass `config check`.\n\n" +
			"A database's password never goes in the DSN: name where it is with --password-env or --password-file.",
		Example: "  lifeboat source add docs --files /srv/docs /etc/nginx --tier important\n" +
			"  lifeboat source add code --git /srv/app\n" +
			"  lifeboat source add shop --mysql 'backup@tcp(127.0.0.1:3306)/shop' --password-env SHOP_DB_PASSWORD --tier critical\n" +
			"  lifeboat source add shop --mysql 'root@unix(/run/mysqld/mysqld.sock)/shop'",
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return a.runSourceAdd(&o, args[0], args[1:])
		},
	}

	f := add.Flags()
	f.StringArrayVar(&o.files, "files", nil, "back up these files and folders (repeat the flag, or list more paths after the name)")
	f.StringVar(&o.git, "git", "", "back up this git repository (a work tree or a bare repository): every branch and tag")
	f.StringVar(&o.mysql, "mysql", "", "back up a MariaDB/MySQL server: user@tcp(host:port)/db1,db2, user@unix(/path/mysqld.sock)/db or mysql://user@host:port/db, without a password")
	f.StringVar(&o.tier, "tier", "important", "the recovery objective tier (the configuration's tiers: critical, important, other unless it defines more)")
	f.StringVar(&o.passwordEnv, "password-env", "", "with --mysql: the environment variable holding the database password")
	f.StringVar(&o.passwordFile, "password-file", "", "with --mysql: a file holding the database password")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the source as it would be added, and write nothing")

	a.jsonFlag(add)
	cmd.AddCommand(add)

	return cmd
}

// runSourceAdd checks the request, renders the new configuration, proves it
// valid and only then replaces the file.
func (a *App) runSourceAdd(o *sourceAdd, name string, more []string) error {
	src, err := o.source(name, more)
	if err != nil {
		return err
	}

	path, err := a.editableConfig()
	if err != nil {
		return err
	}

	text, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the configuration: %w", err)
	}

	// First with a tier every configuration has, to learn the file's tiers.
	probe := *src
	probe.Tier = "important"

	cfg, _, err := withSource(path, text, &probe, config.DefaultTiers()["important"])
	if err != nil {
		return err
	}

	t, ok := cfg.Tiers[src.Tier]
	if !ok {
		names := make([]string, 0, len(cfg.Tiers))
		for n := range cfg.Tiers {
			names = append(names, n)
		}

		sort.Strings(names)

		return usage("--tier %q: unknown tier; %s defines %s (add others under tiers:); nothing was written", src.Tier, path, strings.Join(names, ", "))
	}

	cfg, out, err := withSource(path, text, src, t)
	if err != nil {
		return err
	}

	d := starter.DefaultsFor(src.Type, t)

	if o.dryRun {
		fmt.Fprintf(a.Stdout, "would add source %s (%s, tier %s) to %s: schedule %s, retention %s, as:\n%s\ndry run: nothing was written\n",
			name, src.Type, src.Tier, path, d.Schedule, d.Retention, starter.Block(src, t, 2))

		return nil
	}

	if err := replaceFile(path, out); err != nil {
		return err
	}

	if a.jsonOut {
		return a.jsonSourceAdded(cfg, name, path, d)
	}

	fmt.Fprintf(a.Stdout, "added source %s (%s, tier %s) to %s: schedule %s, retention %s\n", name, src.Type, src.Tier, path, d.Schedule, d.Retention)

	for _, w := range a.environmentProblems(cfg) {
		fmt.Fprintf(a.Stderr, "warning: %s\n", w)
	}

	fmt.Fprintf(a.Stdout, "next: lifeboat backup %s\n", name)

	return nil
}

// withSource is the configuration text with src added, and its parse: it
// must pass `config check` and hold the new source.
func withSource(path string, text []byte, src *config.Source, t config.Tier) (*config.Config, []byte, error) {
	out, err := starter.AddSource(text, src.Name, func(indent int) string { return starter.Block(src, t, indent) })
	if errors.Is(err, starter.ErrSourceExists) {
		return nil, nil, usage("source %q exists in %s: choose another name, or edit or remove that one; nothing was written", src.Name, path)
	}

	if err != nil {
		return nil, nil, usage("%s: %v; nothing was written", path, err)
	}

	cfg, err := config.Parse(path, out)
	if err != nil {
		return nil, nil, fmt.Errorf("with source %s added, the configuration would not pass `config check`, so nothing was written:\n%w", src.Name, err)
	}

	if _, ok := cfg.Sources[src.Name]; !ok {
		return nil, nil, fmt.Errorf("source %s could not be added to %s: edit it by hand; nothing was written", src.Name, path)
	}

	return cfg, out, nil
}

// editableConfig is the configuration file in use; source add needs one.
func (a *App) editableConfig() (string, error) {
	path, named := a.configFile()
	if !named {
		return "", usage("no configuration file to add the source to (looked for ./%s, %s%s): "+
			"run `lifeboat init --repo DIR|s3://bucket/prefix` first (it writes one), or pass --config FILE", config.DefaultFile, a.userFileNamed(), a.systemFile())
	}

	if _, err := os.Stat(path); err != nil {
		return "", usage("%s: %v: run `lifeboat init --repo DIR|s3://bucket/prefix` first (it writes the configuration), or name an existing one with --config FILE", path, errors.Unwrap(err))
	}

	return path, nil
}

// replaceFile writes data over path as one step, keeping the file's mode,
// and through a symbolic link to the file it names.
func replaceFile(path string, data []byte) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}

	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}

	if err := writeNew(real, data, true); err != nil {
		return fmt.Errorf("write the configuration %s: %w", real, err)
	}

	if err := os.Chmod(real, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("write the configuration %s: %w", real, err)
	}

	return nil
}
