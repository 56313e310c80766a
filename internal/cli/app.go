// Package cli holds one file per command. Commands are thin: they bind flags,
// validate, call one function of the core and print the outcome to injected
// writers, so they run in-process in tests. Nothing here exits the process;
// ExitCode maps errors to the documented exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
	"lifeboat/internal/version"
)

// EnvPassword names the environment variable holding the repository password.
const EnvPassword = "LIFEBOAT_PASSWORD"

// App is what every command needs from the outside world.
type App struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal tells whether a stream is an interactive terminal (progress
	// bars, password prompts).
	IsTerminal func(any) bool
	// Clock is the time every command, and what it runs, goes by.
	Clock clock.Clock

	configFlag string
	verbose    bool
	// progress prints progress lines when stderr is not a terminal too.
	progress    bool
	cpuProfile  string
	memProfile  string
	stopProfile func()
	log         *slog.Logger

	// from names the copy --from reads instead of the repository; usingCopy
	// is the copy actually read (--from, or a fallback).
	from      string
	usingCopy string
	command   string
	// ran is set once a command built its executor, which audits the run
	// from then on (operation).
	ran bool

	// tamper, when set (tests), changes a restore test's copy before the
	// comparison, to prove the comparison notices.
	tamper func(ctx context.Context, target string) error

	// trail holds the audit key once the repository is open.
	trail auditTrail

	// ro is what works from the repository alone (repoonly.go).
	ro repoOnly

	// jsonOut: the command prints JSON on stdout (--json), so its notes
	// for people go to stderr (textOut).
	jsonOut bool
	// dryRun is set when the command runs with --dry-run: it changes
	// nothing, not even the configuration kept in the repository.
	dryRun bool
	// hygieneChecked: the private paths were checked this run (hygiene.go).
	hygieneChecked bool
	// rekeyCrash, when set (tests), is asked at each point a rekey may be
	// interrupted; an error stops it there, as a crash would.
	rekeyCrash func(point string) error
}

// NewApp returns an App on the process's standard streams.
func NewApp() *App {
	return &App{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Clock: clock.Real{},
		IsTerminal: func(f any) bool {
			if file, ok := f.(*os.File); ok {
				return term.IsTerminal(int(file.Fd()))
			}

			return false
		},
	}
}

// UsageError marks errors the user fixes by changing the command line or the
// configuration; they exit with code 2 (ExitUsage).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Run executes the command line args and returns the error to report.
func (a *App) Run(ctx context.Context, args []string) error {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)

	a.ro.ctx = ctx
	err := root.ExecuteContext(ctx)
	a.closePending(ctx)
	if a.stopProfile != nil {
		a.stopProfile()
	}
	a.writeHeapProfile()
	if err != nil && strings.HasPrefix(err.Error(), "unknown command") {
		return &UsageError{Err: err}
	}

	return err
}

func (a *App) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "lifeboat",
		Short: "Backups you have restored: encrypted, deduplicated, verified",
		Long: "Lifeboat backs up files, git repositories and MariaDB/MySQL databases (with their\n" +
			"binlog, for recovery to any instant) into one encrypted, deduplicated repository,\n" +
			"and proves the backups restore.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			a.command = cmd.Name()
			a.dryRun, _ = cmd.Flags().GetBool("dry-run")

			level := slog.LevelWarn
			if a.verbose {
				level = slog.LevelInfo
			}

			a.log = slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: level}))

			if a.cpuProfile != "" {
				if f, err := os.Create(a.cpuProfile); err == nil && pprof.StartCPUProfile(f) == nil {
					a.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
				}
			}
		},
	}

	root.PersistentFlags().StringVarP(&a.configFlag, "config", "c", "", "configuration file (default: $LIFEBOAT_CONFIG, else ./lifeboat.yaml, else "+config.UserFileHelp+", else "+config.SystemFile+")")
	a.ro.flags.bind(root)
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log what is being done")
	root.PersistentFlags().BoolVar(&a.progress, "progress", false, "print progress lines (files, bytes, rate) on stderr even when it is not a terminal, e.g. into a log")
	root.PersistentFlags().StringVar(&a.from, "from", "", "read from this copy (copies: in the configuration) instead of the repository: restore, verify, drill, ls, snapshots, export, status")
	root.PersistentFlags().StringVar(&a.cpuProfile, "cpu-profile", "", "write a CPU profile to this file (for benchmarks)")
	_ = root.PersistentFlags().MarkHidden("cpu-profile")
	root.PersistentFlags().StringVar(&a.memProfile, "mem-profile", "", "write a heap profile to this file when the command ends (for benchmarks)")
	_ = root.PersistentFlags().MarkHidden("mem-profile")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })

	root.AddCommand(
		a.initCommand(), a.sourceCommand(), a.backupCommand(), a.snapshotsCommand(), a.operation("restore", a.restoreCommand()),
		a.lsCommand(), a.verifyCommand(), a.configCommand(), a.versionCommand(), a.operation("export", a.exportCommand()),
		a.operation("import", a.importCommand()), a.binlogCommand(), a.statusCommand(),
		a.daemonCommand(), a.scheduleCommand(), a.pruneCommand(),
		a.pinCommand(), a.unpinCommand(), a.auditCommand(),
		a.recoverCommand(), a.drillCommand(), a.pointsCommand(), a.reportCommand(),
		a.audited("replicate", a.replicateCommand()), a.audited("export-repo", a.exportRepoCommand()),
		a.audited("check-immutability", a.checkImmutabilityCommand()), a.maskCommand(),
	)
	root.AddCommand(a.userCommand(), a.tokenCommand())
	root.AddCommand(a.keyCommand())

	for _, c := range root.Commands() {
		wrapArgs(c)
	}

	a.teach(root)

	return root
}

// wrapArgs turns cobra's argument-count errors into usage errors.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &UsageError{Err: fmt.Errorf("%s: %w (see `lifeboat %s --help`)", cmd.CommandPath(), err, cmd.Name())}
			}

			return nil
		}
	}

	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

func (a *App) loadConfig() (*config.Config, error) {
	return a.configuration()
}

// password finds the repository password: $LIFEBOAT_PASSWORD, then
// repository.password_file (cfg nil: none), then a prompt on a terminal.
func (a *App) password(cfg *config.Config, confirm bool) (repo.Password, error) {
	if a.ro.pw != nil && !confirm {
		return *a.ro.pw, nil
	}

	if v := a.Getenv(EnvPassword); v != "" {
		return repo.Password{Value: v, Origin: "$" + EnvPassword}, nil
	}

	if cfg == nil {
		cfg = &config.Config{}
	}

	if f := cfg.Repository.PasswordFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return repo.Password{}, &config.Error{File: cfg.File, Key: "repository.password_file", Msg: fmt.Sprintf("cannot read %s: %v", f, errors.Unwrap(err))}
		}

		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return repo.Password{}, &config.Error{File: cfg.File, Key: "repository.password_file", Msg: fmt.Sprintf("%s is empty", f)}
		}

		return repo.Password{Value: pw, Origin: "repository.password_file " + f}, nil
	}

	if c := cfg.Repository.PasswordCommand; c != "" {
		return a.passwordFromCommand(cfg, c)
	}

	if f, ok := a.Stdin.(*os.File); ok && a.IsTerminal(a.Stdin) {
		fmt.Fprint(a.Stderr, "Repository password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.Stderr)

		if err != nil {
			return repo.Password{}, fmt.Errorf("read password: %w", err)
		}

		if confirm {
			fmt.Fprint(a.Stderr, "Repeat password: ")
			b2, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(a.Stderr)

			if err != nil {
				return repo.Password{}, fmt.Errorf("read password: %w", err)
			}

			if string(b) != string(b2) {
				return repo.Password{}, usage("the two passwords differ")
			}
		}

		return repo.Password{Value: string(b), Origin: "the prompt"}, nil
	}

	if cfg.File == "" {
		return repo.Password{}, fmt.Errorf("%w: set %s, or run on a terminal to be asked", repo.ErrNoPassword, EnvPassword)
	}

	return repo.Password{}, fmt.Errorf("%w: set %s, or repository.password_file or password_command in %s, or run on a terminal to be asked", repo.ErrNoPassword, EnvPassword, cfg.File)
}

// openRepo loads the configuration and opens its repository (or a copy),
// then keys the audit trail with it.
func (a *App) openRepo(ctx context.Context) (*config.Config, *repo.Repository, error) {
	cfg, r, err := a.openRepository(ctx)
	if err == nil {
		a.auditOpened(ctx, cfg, r)
	}

	return cfg, r, err
}

// openRepository is openRepo without the audit trail.
func (a *App) openRepository(ctx context.Context) (*config.Config, *repo.Repository, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}

	a.checkHygiene(cfg)

	if a.from == "" && a.ro.pending != nil {
		return cfg, a.takePending(), nil
	}

	pw, err := a.password(cfg, false)
	if err != nil {
		return nil, nil, err
	}

	if a.from != "" {
		if !readCommands[a.command] {
			return nil, nil, usage("--from reads a copy; %s writes the repository, so it cannot run on a copy", a.command)
		}

		c, err := a.copyByName(cfg, a.from)
		if err != nil {
			return nil, nil, err
		}

		r, err := a.openCopy(ctx, cfg, c, pw)
		if err != nil {
			return nil, nil, fmt.Errorf("copy %s: %w", c.Name, err)
		}

		a.usingCopy = c.Name

		return cfg, r, nil
	}

	where, err := a.storage(cfg)
	if err != nil {
		return nil, nil, err
	}

	r, err := repo.OpenAt(ctx, where, pw, a.log)
	if err != nil {
		if errors.Is(err, repo.ErrWrongPassword) {
			a.record(cfg, audit.Record{Action: "password refused", Outcome: audit.Refused, Detail: "the password from " + pw.Origin + " does not open the repository"})
		}

		// A primary that cannot be reached is what the copies are for.
		if readCommands[a.command] && !errors.Is(err, repo.ErrWrongPassword) && !errors.Is(err, repo.ErrNoPassword) && len(cfg.CopyNames) > 0 {
			if fr, ferr := a.fallback(ctx, cfg, pw, err); ferr == nil {
				return cfg, fr, nil
			}
		}

		return nil, nil, err
	}

	if writeCommands[a.command] && !a.dryRun {
		a.storeConfig(ctx, r, cfg)
	}

	return cfg, r, nil
}

// openSource opens the repository and resolves the named source; the caller
// closes the repository.
func (a *App) openSource(ctx context.Context, name string) (*repo.Repository, source.Source, error) {
	cfg, r, err := a.openRepo(ctx)
	if err != nil {
		return nil, nil, err
	}

	s, err := a.source(cfg, name)
	if err != nil {
		r.Close(ctx)
		return nil, nil, err
	}

	return r, s, nil
}

func (a *App) source(cfg *config.Config, name string) (source.Source, error) {
	s, ok := cfg.Sources[name]
	if !ok {
		return nil, usage("unknown source %q: %s defines %s", name, cfg.File, strings.Join(cfg.SourceNames, ", "))
	}

	if src, ok := sources.New(s, a.Getenv); ok {
		return src, nil
	}

	return nil, usage("source %s: type %q is not supported by this version", name, s.Type)
}

// clock is the App's clock; an App built without one goes by the wall clock.
func (a *App) clock() clock.Clock { return clock.Or(a.Clock) }

// bar starts a progress bar on stderr: redrawn in place on a terminal,
// printed as plain lines when --progress asks for them elsewhere, else
// silent so scripts and cron mails are not cluttered.
func (a *App) bar(label string) *progress.Bar {
	mode := progress.Off

	switch {
	case a.IsTerminal(a.Stderr):
		mode = progress.Terminal
	case a.progress:
		mode = progress.Lines
	}

	return progress.Start(a.Stderr, label, mode, a.clock())
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func toolVersion() string { return version.Version }

// writeHeapProfile records what the command still held at its end, after a
// collection, so a benchmark can tell what grows with the repository.
func (a *App) writeHeapProfile() {
	if a.memProfile == "" {
		return
	}

	f, err := os.Create(a.memProfile)
	if err != nil {
		return
	}
	defer f.Close()

	runtime.GC()
	_ = pprof.Lookup("allocs").WriteTo(f, 0)
}
