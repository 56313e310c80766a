package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/ops"
)

// jsonOut is a command's --json output: one JSON object per line on stdout,
// with stable snake_case field names (README: Scriptable output). Errors
// still go to stderr and set the exit code; stdout carries only JSON.
type jsonOut struct {
	a  *App
	on bool
	// progress streams the operations' events as "progress" lines before
	// the results (--json with the global --progress, on the long commands).
	progress bool
	// streams is set on the long commands, whose events can be streamed.
	streams bool

	mu        sync.Mutex
	lastBytes time.Time
}

// progressEvery is how often a stream of byte counts is written at most:
// an upload reports every block, and a script needs a few lines a second.
const progressEvery = 500 * time.Millisecond

// jsonFlag binds --json to cmd.
func (a *App) jsonFlag(cmd *cobra.Command) *jsonOut {
	j := &jsonOut{a: a}
	cmd.Flags().BoolVar(&j.on, "json", false, "print the result as JSON, one object per line (stdout carries nothing else)")

	run := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if err := j.check(); err != nil {
			return err
		}

		if run != nil {
			return run(c, args)
		}

		return nil
	}

	return j
}

// jsonProgressFlags binds --json to a long command, whose progress the
// global --progress streams: as JSON lines with --json, as plain lines on
// stderr without.
func (a *App) jsonProgressFlags(cmd *cobra.Command) *jsonOut {
	j := a.jsonFlag(cmd)
	j.streams = true

	return j
}

// check records the output mode before the command runs.
func (j *jsonOut) check() error {
	j.a.jsonOut = j.on
	j.progress = j.streams && j.on && j.a.progress

	return nil
}

// emit writes v as one line of JSON.
func (j *jsonOut) emit(v any) error {
	j.mu.Lock()
	defer j.mu.Unlock()

	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}

	_, err = j.a.Stdout.Write(append(b, '\n'))

	return err
}

// progressLine is one "progress" line: an operation's event.
type progressLine struct {
	Type string `json:"type"`
	// Event is started, step, bytes, finished or failed.
	Event  string `json:"event"`
	Op     string `json:"op"`
	Source string `json:"source,omitempty"`
	Step   string `json:"step,omitempty"`
	Done   int64  `json:"done_bytes"`
	Total  int64  `json:"total_bytes"`
	// Files and FilesTotal count files where the work counts them (a backup
	// or restore of a folder); FilesTotal is 0 while unknown.
	Files      int64     `json:"done_files"`
	FilesTotal int64     `json:"total_files"`
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at"`
}

// observe is the observer a long command hands the executor: with
// --json --progress it writes each event as a progress line (byte counts at
// most every progressEvery, and the last one); otherwise it is human (the
// progress bars on stderr).
func (j *jsonOut) observe(human ops.Observer) ops.Observer {
	if !j.on || !j.progress {
		return human
	}

	return func(ev ops.Event) {
		if ev.Kind == ops.Bytes {
			if !j.dueBytes(ev) {
				return
			}
		}

		line := progressLine{Type: "progress", Event: string(ev.Kind), Op: ev.Op, Source: ev.Source, Step: ev.Step, Done: ev.Done, Total: ev.Total, Files: ev.Files, FilesTotal: ev.FilesTotal, At: ev.At.UTC()}
		if ev.Err != nil {
			line.Error = ev.Err.Error()
		}

		_ = j.emit(line)
	}
}

// dueBytes reports whether a byte count is written: the first, one every
// progressEvery, and the one that completes the total.
func (j *jsonOut) dueBytes(ev ops.Event) bool {
	j.mu.Lock()
	defer j.mu.Unlock()

	if ev.Total > 0 && ev.Done >= ev.Total || j.lastBytes.IsZero() || ev.At.Sub(j.lastBytes) >= progressEvery {
		j.lastBytes = ev.At
		return true
	}

	return false
}

// textOut is where a command's notes for people go: stdout, or stderr
// when stdout carries JSON.
func (a *App) textOut() io.Writer {
	if a.jsonOut {
		return a.Stderr
	}

	return a.Stdout
}

// errorText is err's message, or "" for none.
func errorText(err error) string {
	if err == nil {
		return ""
	}

	return err.Error()
}

// utc is t in UTC, so JSON times read the same on every machine.
func utc(t time.Time) time.Time { return t.UTC() }

// format reconciles --json with --format (given: set on the command line):
// --json is --format json; with another --format it is refused.
func (j *jsonOut) format(format string, given bool) (string, error) {
	if !j.on {
		return format, nil
	}

	if given && format != "json" {
		return "", usage("give --json or --format %s, not both", format)
	}

	return "json", nil
}

// emitJSON writes v as one line of JSON, for a command whose output is
// printed by a helper deeper down (a.jsonOut says --json was given).
func (a *App) emitJSON(v any) error { return (&jsonOut{a: a}).emit(v) }
