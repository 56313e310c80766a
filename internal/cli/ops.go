package cli

import (
	"errors"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// executor runs a command's operations on the open repository r. command
// is the command line, as locks name it to another run they refuse.
func (a *App) executor(cfg *config.Config, r *repo.Repository, srcs []source.Source, command string) *ops.Executor {
	m := make(map[string]source.Source, len(srcs))
	for _, s := range srcs {
		m[s.Name()] = s
	}

	a.ran = true

	return &ops.Executor{
		Cfg: cfg, Repo: r, Sources: m, Log: a.log, Audit: a.auditLog(cfg),
		Version: toolVersion(), Who: "lifeboat", Command: command, Clock: a.clock(),
	}
}

// operation is audited for a command that runs one operation through the
// executor, which records every run it starts. What failed before (the
// repository could not be opened) is recorded here, as audited records it;
// a request the executor found it cannot run is a usage error, and like
// one not recorded.
func (a *App) operation(action string, cmd *cobra.Command) *cobra.Command {
	run := cmd.RunE

	cmd.RunE = func(c *cobra.Command, args []string) error {
		a.ran = false
		err := run(c, args)

		var re *ops.RequestError
		if errors.As(err, &re) {
			return &UsageError{Err: re.Err}
		}

		if a.ran || errors.As(err, new(*UsageError)) {
			return err
		}

		a.recordCommand(action, args, err)

		return err
	}

	return cmd
}

// asked is what the user asked, as the audit trail records it: the command
// line (secrets never are on it).
func asked() string {
	return strings.Join(os.Args[1:], " ")
}

// bars renders operations' counts (files, bytes) as progress bars on
// stderr: one bar per run of an operation, labelled by label, or one bar for
// all of them when shared is set (finished by done). A run's Step after it
// counted something starts its next phase, drawn as a new bar named after
// the step.
type bars struct {
	a      *App
	label  func(ops.Event) string
	shared *progress.Bar
	bar    *progress.Bar
	// name is the label of the run's next bar; last and files are the
	// counts its bar has been given.
	name        string
	last, files int64
}

// perRun draws a bar for each run, labelled by label ("" draws none).
func (a *App) perRun(label func(ops.Event) string) *bars {
	return &bars{a: a, label: label}
}

// oneBar draws one bar, label, over every run; call done once they ended.
func (a *App) oneBar(label string) *bars {
	return &bars{a: a, shared: a.bar(label)}
}

func (b *bars) observe(ev ops.Event) {
	switch ev.Kind {
	case ops.Started:
		b.last, b.files, b.name = 0, 0, ""
		if b.label != nil {
			b.name = b.label(ev)
		}
	case ops.Step:
		// The emitter counts each step from zero.
		b.last, b.files = 0, 0

		if b.bar != nil && b.shared == nil {
			b.bar.Done()
			b.bar = nil

			if b.name != "" && ev.Source != "" {
				b.name = ev.Source + ": " + ev.Step
			} else if b.name != "" {
				b.name = ev.Step
			}
		}
	case ops.Bytes:
		b.count(ev)
	case ops.Finished, ops.Failed:
		if b.bar != nil && b.shared == nil {
			b.bar.Done()
		}

		b.bar = nil
	}
}

// count gives the run's bar, started at its first count, the event's.
func (b *bars) count(ev ops.Event) {
	if b.bar == nil {
		switch {
		case b.shared != nil:
			b.bar = b.shared
		case b.name != "":
			b.bar = b.a.bar(b.name)
		default:
			return
		}
	}

	if ev.Total > 0 {
		b.bar.SetTotal(ev.Total)
	}

	if ev.FilesTotal > 0 {
		b.bar.SetTotalFiles(ev.FilesTotal)
	}

	b.bar.Add(ev.Done - b.last)
	b.bar.AddFiles(ev.Files - b.files)
	b.last, b.files = ev.Done, ev.Files
}

func (b *bars) done() {
	if b.shared != nil {
		b.shared.Done()
	}
}
