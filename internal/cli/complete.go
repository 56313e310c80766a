package cli

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// Shell completion reads names from the configuration file alone: a
// completion runs at every TAB press, so it must be quick, must never ask
// for a password and must never print an error into the shell's line.
// Only snapshot IDs need the repository, and only with $LIFEBOAT_PASSWORD.

// nameKind is what a positional argument or a flag names.
type nameKind int

const (
	sourceNames nameKind = iota
	planNames
	copyNames
)

// argCompletions says, by command path, what the positional arguments name;
// many means every argument does (backup a b c), else only the first.
var argCompletions = map[string]struct {
	kind nameKind
	many bool
}{
	"lifeboat backup": {sourceNames, true}, "lifeboat binlog stream": {sourceNames, true},
	"lifeboat binlog list": {sourceNames, false}, "lifeboat binlog compact": {sourceNames, false},
	"lifeboat restore": {sourceNames, false}, "lifeboat export": {sourceNames, false},
	"lifeboat import": {sourceNames, false}, "lifeboat ls": {sourceNames, false},
	"lifeboat verify":    {sourceNames, false},
	"lifeboat snapshots": {sourceNames, true}, "lifeboat prune": {sourceNames, true},
	"lifeboat recover": {planNames, false}, "lifeboat drill": {planNames, false},
}

// flagCompletions says, by command path and flag, what a flag names.
var flagCompletions = map[string]map[string]nameKind{
	"lifeboat snapshots":          {"source": sourceNames},
	"lifeboat prune":              {"source": sourceNames},
	"lifeboat replicate":          {"to": copyNames},
	"lifeboat check-immutability": {"copy": copyNames},
}

// snapshotFlagCommands take --snapshot of the source named before it.
var snapshotFlagCommands = []string{"lifeboat restore", "lifeboat export", "lifeboat ls", "lifeboat verify"}

// registerCompletions attaches the dynamic completions to the command tree.
func (a *App) registerCompletions(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("from", a.completeNames(copyNames, true))

	walk(root, func(c *cobra.Command) {
		path := c.CommandPath()
		if ac, ok := argCompletions[path]; ok {
			c.ValidArgsFunction = a.completeNames(ac.kind, ac.many)
		}

		if path == "lifeboat pin" || path == "lifeboat unpin" {
			c.ValidArgsFunction = a.completeSourceSnapshot
		}

		for flag, kind := range flagCompletions[path] {
			_ = c.RegisterFlagCompletionFunc(flag, a.completeNames(kind, true))
		}

		for _, p := range snapshotFlagCommands {
			if p == path {
				_ = c.RegisterFlagCompletionFunc("snapshot", a.completeSnapshots)
			}
		}
	})
}

// walk calls f on c and every command below it.
func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)

	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// completeNames completes the names of kind from the configuration file;
// with many false, only the first argument.
func (a *App) completeNames(kind nameKind, many bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if !many && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}

		cfg := a.completionConfig()
		if cfg == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}

		var names []string

		switch kind {
		case sourceNames:
			names = cfg.SourceNames
		case planNames:
			names = cfg.PlanNames
		case copyNames:
			names = cfg.CopyNames
		}

		return without(names, args), cobra.ShellCompDirectiveNoFileComp
	}
}

// without is names less those already on the command line.
func without(names, given []string) []cobra.Completion {
	out := make([]cobra.Completion, 0, len(names))

	for _, n := range names {
		if !contains(given, n) {
			out = append(out, n)
		}
	}

	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}

	return false
}

// completeSourceSnapshot completes [SOURCE] SNAPSHOT (pin, unpin): a source
// first, then that source's snapshots.
func (a *App) completeSourceSnapshot(cmd *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return a.completeNames(sourceNames, false)(cmd, args, prefix)
	case 1:
		return a.completeSnapshots(cmd, args, prefix)
	}

	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completionConfig is the configuration file's content, with the repository
// --repo names; nil when there is no valid file. It never opens the
// repository for the configuration stored there (that needs a password).
func (a *App) completionConfig() *config.Config {
	path, found := a.configFile()
	if !found {
		return nil
	}

	cfg, err := config.Load(path)
	if err != nil {
		return nil
	}

	if where, _ := a.repoLocation(); where != "" {
		loc, err := a.flagLocation()
		if err != nil {
			return nil
		}

		loc.PasswordFile = cfg.Repository.PasswordFile
		loc.PasswordCommand = cfg.Repository.PasswordCommand
		cfg.Repository = loc
	}

	return cfg
}

// completeSnapshots completes --snapshot with the IDs of the snapshots of
// the source named before it (all sources when none is), newest first. The
// repository is opened only when $LIFEBOAT_PASSWORD is set: a completion
// never prompts.
func (a *App) completeSnapshots(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	none := cobra.ShellCompDirectiveNoFileComp

	pw := a.Getenv(EnvPassword)
	cfg := a.completionConfig()

	if pw == "" || cfg == nil {
		return nil, none
	}

	where, err := a.storage(cfg)
	if err != nil {
		return nil, none
	}

	ctx := cmd.Context()

	r, err := repo.OpenAt(ctx, where, repo.Password{Value: pw, Origin: "$" + EnvPassword}, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, none
	}
	defer r.Close(ctx)

	source := ""
	if len(args) > 0 {
		source = args[0]
	}

	snaps, err := r.Snapshots(ctx, source)
	if err != nil {
		return nil, none
	}

	out := make([]cobra.Completion, 0, len(snaps))
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		out = append(out, cobra.CompletionWithDesc(s.ID, fmt.Sprintf("%s %s %s", s.Source, s.Time.Local().Format(time.DateTime), s.Type)))
	}

	return out, none
}

// environmentHelp lists, in the root help, what Lifeboat reads from the
// environment.
var environmentHelp = strings.Join([]string{
	"Environment:",
	"  LIFEBOAT_PASSWORD      the repository password (else repository.password_file, else a prompt on a terminal)",
	"  LIFEBOAT_CONFIG        the configuration file, as --config (where it is looked for otherwise: see --config)",
	"  LIFEBOAT_REPOSITORY    the repository (a folder or s3://bucket/prefix), as --repo",
	"  LIFEBOAT_AUDIT_LOG     the audit log file, unless the configuration's audit.path sets it",
	"                         (default /var/lib/lifeboat/audit.jsonl as root, else $XDG_STATE_HOME/lifeboat/audit.jsonl",
	"                         or ~/.local/state/lifeboat/audit.jsonl)",
	"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
	"                         S3 keys of the repository and copies (access_key_env and secret_key_env name others)",
	"  LIFEBOAT_LOCK_DIR      where the process locks live (default /run/lifeboat/locks as root, else $XDG_RUNTIME_DIR/lifeboat/locks)",
	"  XDG_CONFIG_HOME, HOME  locate the per-user configuration file",
	"  database and e-mail passwords: the variables the configuration names in password_env (or --mysql-password-env)",
}, "\n")

// teach adds to the help what the commands alone do not say: the
// environment, the shell completion and the exit codes.
func (a *App) teach(root *cobra.Command) {
	root.Long += "\n\n" + environmentHelp + "\n\nShell completion of sources, plans, copies and snapshots: see `lifeboat completion --help`."
	root.Long += "\n\n" + exitCodesHelp()
	root.Example = "  lifeboat init --repo /srv/backup/lifeboat\n" +
		"  lifeboat source add docs --files /home/me/Documents\n" +
		"  lifeboat backup docs && lifeboat snapshots"
	a.registerCompletions(root)
}
