package cli

import (
	"lifeboat/internal/config"
	"lifeboat/internal/notify"
	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// executor is the operations executor for one command on an open
// repository: the command builds a request, the executor runs it with the
// audit and notification bookkeeping the daemon's runs get too.
func (a *App) executor(cfg *config.Config, r *repo.Repository) (*ops.Executor, error) {
	srcs := map[string]source.Source{}

	for _, name := range cfg.SourceNames {
		s, err := a.source(cfg, name)
		if err != nil {
			return nil, err
		}

		srcs[name] = s
	}

	return &ops.Executor{
		Cfg: cfg, Repo: r, Sources: srcs, Log: a.log, Version: toolVersion(),
		Audit:  a.auditLog(cfg),
		Notify: notify.New(cfg.Notify, a.Getenv, a.log),
		Who:    "lifeboat " + a.command,
	}, nil
}

// barObserver draws an operation's byte counts as a progress bar on stderr,
// from its first byte count until its next step or its end.
func (a *App) barObserver(label string) ops.Observer {
	var (
		bar  *progress.Bar
		seen int64
	)

	return func(ev ops.Event) {
		switch ev.Kind {
		case ops.Bytes:
			if bar == nil {
				bar = a.bar(label)
			}

			bar.SetTotal(ev.Total)
			bar.Add(ev.Done - seen)
			seen = ev.Done
		case ops.Step, ops.Finished, ops.Failed:
			if bar != nil {
				bar.Done()
				bar = nil
			}
		}
	}
}
