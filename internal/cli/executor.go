package cli

import (
	"lifeboat/internal/config"
	"lifeboat/internal/notify"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// allExecutor is the executor for a command that may touch every configured
// source (a recovery plan, a restore test, a copy), with the notifier a
// plan's run reports its outcome to.
func (a *App) allExecutor(cfg *config.Config, r *repo.Repository) (*ops.Executor, error) {
	srcs := make([]source.Source, 0, len(cfg.SourceNames))

	for _, name := range cfg.SourceNames {
		s, err := a.source(cfg, name)
		if err != nil {
			return nil, err
		}

		srcs = append(srcs, s)
	}

	e := a.executor(cfg, r, srcs, "")
	e.Who = "lifeboat " + a.command
	e.Notify = notify.New(cfg.Notify, a.Getenv, a.log)
	e.Notify.Clock = a.clock()

	return e, nil
}

// barObserver draws an operation's counts as a progress bar on stderr,
// from its first count until its next step or its end.
func (a *App) barObserver(label string) ops.Observer {
	return a.perRun(func(ops.Event) string { return label }).observe
}
