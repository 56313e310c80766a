package cli

import (
	"context"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// EnvRepository names the environment variable that gives the repository's
// location, as --repo does.
const EnvRepository = "LIFEBOAT_REPOSITORY"

// repoOnly is the state of a run that may work from the repository alone.
type repoOnly struct {
	// flags are --repo and its S3 options; mysql the --mysql-* overrides;
	// systemConfig (tests) replaces config.SystemFile.
	flags        repoFlags
	mysql        mysqlFlags
	systemConfig string
	// stored is the configuration read from the repository when there is
	// no file, or storedErr why it could not be read; pending is the
	// repository opened to read it, until a command takes it; pw is the
	// password that opened it.
	stored    *config.Config
	storedErr error
	pending   *repo.Repository
	pw        *repo.Password
	ctx       context.Context
}

// repoFlags locate a repository on the command line, so a machine with
// nothing but the binary, the location and the password can work: the
// configuration comes from the repository.
type repoFlags struct {
	where    string
	endpoint string
	region   string
	tls      bool
	caFile   string
}

func (f *repoFlags) bind(root *cobra.Command) {
	pf := root.PersistentFlags()
	pf.StringVar(&f.where, "repo", "", "the repository (a folder or s3://bucket/prefix; default $"+EnvRepository+"): wins over the configuration's; "+
		"without a configuration file, the one stored in the repository is used")
	pf.StringVar(&f.endpoint, "s3-endpoint", "", "with --repo s3://...: the S3 endpoint, host[:port] (default s3.amazonaws.com); keys from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY")
	pf.StringVar(&f.region, "s3-region", "", "with --repo s3://...: the bucket's region")
	pf.BoolVar(&f.tls, "s3-tls", true, "with --repo s3://...: use TLS (--s3-tls=false for plain HTTP)")
	pf.StringVar(&f.caFile, "s3-ca-file", "", "with --repo s3://...: trust this CA certificate (PEM)")
}

// mysqlFlags point a command's database sources at another server than the
// configuration's: a restore into a fresh server on a new machine. The
// password is only ever named (an environment variable), never given.
type mysqlFlags struct {
	host, socket, user, passwordEnv string
	port                            int
}

func (f *mysqlFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.host, "mysql-host", "", "database sources: the server's host, instead of the configuration's")
	cmd.Flags().IntVar(&f.port, "mysql-port", 0, "database sources: the server's port, instead of the configuration's")
	cmd.Flags().StringVar(&f.socket, "mysql-socket", "", "database sources: the server's unix socket, instead of the configuration's host and port")
	cmd.Flags().StringVar(&f.user, "mysql-user", "", "database sources: the account to use, instead of the configuration's")
	cmd.Flags().StringVar(&f.passwordEnv, "mysql-password-env", "", "database sources: the environment variable holding that account's password (never the password itself)")
}

// apply points every database source of cfg at the server the flags name.
func (f *mysqlFlags) apply(cfg *config.Config) error {
	if f.port < 0 || f.port > 65535 {
		return usage("--mysql-port %d: expected a port from 1 to 65535", f.port)
	}

	for _, name := range cfg.SourceNames {
		my := cfg.Sources[name].Server()
		if my == nil {
			continue
		}

		if f.host != "" || f.port != 0 {
			my.Socket = ""
		}

		if f.host != "" {
			my.Host = f.host
		}

		if f.port != 0 {
			my.Port = f.port
		}

		if f.socket != "" {
			my.Socket = f.socket
		}

		if f.user != "" {
			my.User = f.user
		}

		if f.passwordEnv != "" {
			my.PasswordEnv, my.PasswordFile = f.passwordEnv, ""
		}
	}

	return nil
}

// repoLocation is --repo, else $LIFEBOAT_REPOSITORY, and the name of the one
// that gave it.
func (a *App) repoLocation() (where, origin string) {
	if a.ro.flags.where != "" {
		return a.ro.flags.where, "--repo"
	}

	if v := a.Getenv(EnvRepository); v != "" {
		return v, "$" + EnvRepository
	}

	return "", ""
}

// systemFile is config.SystemFile, or the tests' stand-in.
func (a *App) systemFile() string {
	if a.ro.systemConfig != "" {
		return a.ro.systemConfig
	}

	return config.SystemFile
}

// configFile finds the configuration file, if there is one.
func (a *App) configFile() (string, bool) {
	return config.Find(a.configFlag, a.Getenv, a.systemFile())
}

// flagLocation is the repository --repo (or $LIFEBOAT_REPOSITORY) names.
func (a *App) flagLocation() (config.Repository, error) {
	where, origin := a.repoLocation()
	f := a.ro.flags

	return config.RepositoryAt(origin, where, f.endpoint, f.region, f.tls, f.caFile)
}

// configuration is the configuration a command runs with: the file's, with
// the repository --repo names instead of its own; or, when there is no
// file but a repository was named, the newest one stored in the repository.
func (a *App) configuration() (*config.Config, error) {
	cfg, err := a.baseConfiguration()
	if err != nil {
		return nil, err
	}

	if err := a.ro.mysql.apply(cfg); err != nil {
		return nil, err
	}

	return cfg, nil
}

func (a *App) baseConfiguration() (*config.Config, error) {
	if a.ro.stored != nil {
		return a.ro.stored, nil
	}

	path, found := a.configFile()

	if where, _ := a.repoLocation(); where == "" {
		if !found {
			return nil, &config.Error{File: path, Msg: "no configuration file here, nor " + a.userFileNamed() + a.systemFile() + ": " + config.NotFoundHint}
		}

		return config.Load(path)
	}

	loc, err := a.flagLocation()
	if err != nil {
		return nil, err
	}

	if found {
		cfg, err := config.Load(path)
		if err != nil {
			return nil, err
		}

		loc.PasswordFile = cfg.Repository.PasswordFile
		loc.PasswordCommand = cfg.Repository.PasswordCommand
		cfg.Repository = loc

		return cfg, nil
	}

	// Opened once per run: a second attempt after a failure would only
	// ask for the password again.
	if a.ro.storedErr != nil {
		return nil, a.ro.storedErr
	}

	r, err := a.openBare(a.context(), loc)
	if err != nil {
		a.ro.storedErr = err
		return nil, err
	}

	cfg, err := loadStored(a.context(), r, loc)
	if err != nil {
		r.Close(a.context())
		a.ro.storedErr = err

		return nil, err
	}

	a.ro.stored, a.ro.pending = cfg, r

	return cfg, nil
}

// noConfigFile reports whether the command works from the repository alone: a
// repository named and no configuration file.
func (a *App) noConfigFile() bool {
	where, _ := a.repoLocation()
	_, found := a.configFile()

	return where != "" && !found
}

// openBare opens the repository at loc with the password from the
// environment or a prompt, without a configuration.
func (a *App) openBare(ctx context.Context, loc config.Repository) (*repo.Repository, error) {
	pw, err := a.password(nil, false)
	if err != nil {
		return nil, err
	}

	bare := &config.Config{File: "the command line", Repository: loc}

	where, err := a.storage(bare)
	if err != nil {
		return nil, err
	}

	r, err := repo.OpenAt(ctx, where, pw, a.log)
	if err != nil {
		return nil, err
	}

	a.ro.pw = &pw

	return r, nil
}

// openStored opens the repository for commands that read only what the
// repository itself holds (the stored configurations): from --repo without
// reading any configuration, else as every command does.
func (a *App) openStored(ctx context.Context) (*repo.Repository, error) {
	if !a.noConfigFile() {
		_, r, err := a.openRepo(ctx)
		return r, err
	}

	loc, err := a.flagLocation()
	if err != nil {
		return nil, err
	}

	return a.openBare(ctx, loc)
}

// takePending hands over the repository opened to read its configuration,
// so a command opens it once.
func (a *App) takePending() *repo.Repository {
	r := a.ro.pending
	a.ro.pending = nil

	return r
}

// closePending closes a repository opened for its configuration that no
// command took (it failed before opening it).
func (a *App) closePending(ctx context.Context) {
	if r := a.takePending(); r != nil {
		r.Close(ctx)
	}
}

func (a *App) context() context.Context {
	if a.ro.ctx != nil {
		return a.ro.ctx
	}

	return context.Background()
}
