package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"lifeboat/internal/audit"
)

// TestBackupSameFromCommandLineAndDaemon: a backup from the command line and
// one from the daemon's schedule run the same operation, so they write the
// same audit record and set the same metrics.
func TestBackupSameFromCommandLineAndDaemon(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "hello")
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	e := newEnv(t, "  data:\n    type: files\n    tier: critical\n    paths: ["+data+"]\n")
	e.mustRun("init")

	cliProm := filepath.Join(t.TempDir(), "cli.prom")
	e.mustRun("backup", "data", "--metrics-file", cliProm)

	ctx := context.Background()
	a := &App{
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv:     func(k string) string { return e.vars[k] },
		IsTerminal: func(any) bool { return false },
		configFlag: e.cfg, log: slog.New(slog.DiscardHandler),
	}

	cfg, r, err := a.openRepo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	d, err := a.newDaemon(cfg, r)
	if err != nil {
		t.Fatal(err)
	}

	if err := d.Backup(ctx, "data", "full"); err != nil {
		t.Fatal(err)
	}

	recs, err := audit.Read(filepath.Join(e.dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}

	var backups []audit.Record

	for _, rec := range recs {
		if rec.Action == "backup" {
			backups = append(backups, rec)
		}
	}

	if len(backups) != 2 {
		t.Fatalf("%d backup records, want the command line's and the daemon's: %+v", len(backups), recs)
	}

	detail := regexp.MustCompile(`^full: 1 files, 5 bytes$`)

	for i, rec := range backups {
		if rec.Source != "data" || rec.Outcome != audit.OK || !detail.MatchString(rec.Detail) || rec.Snapshot == "" || rec.Seconds <= 0 {
			t.Errorf("backup record %d (%s): %+v, want source data, ok, %s, its snapshot and duration", i, []string{"command line", "daemon"}[i], rec, detail)
		}
	}

	daemonProm := filepath.Join(t.TempDir(), "daemon.prom")
	if err := d.Metrics.WriteTextfile(daemonProm); err != nil {
		t.Fatal(err)
	}

	// The command line adds the repository's size and state at its end,
	// which the daemon keeps up to date on its own.
	cliSeries := series(t, cliProm, "lifeboat_repository_")
	daemonSeries := series(t, daemonProm, "lifeboat_repository_")

	if strings.Join(cliSeries, "\n") != strings.Join(daemonSeries, "\n") {
		t.Errorf("the command line's backup metrics:\n%s\ndiffer from the daemon's:\n%s", strings.Join(cliSeries, "\n"), strings.Join(daemonSeries, "\n"))
	}

	if !strings.Contains(strings.Join(cliSeries, "\n"), `lifeboat_backup_logical_bytes{source="data",type="full"} 5`) {
		t.Errorf("the backup's size is not among the metrics:\n%s", strings.Join(cliSeries, "\n"))
	}
}

// series lists a metrics file's samples, without the values that differ by
// the run's time (timestamps, durations, stored bytes), leaving out those
// named skip*.
func series(t *testing.T, path, skip string) []string {
	t.Helper()

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	byTime := regexp.MustCompile(`timestamp|duration|stored|rpo_seconds|_info`)

	var out []string

	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, skip) {
			continue
		}

		if name, _, _ := strings.Cut(l, " "); byTime.MatchString(name) {
			l = name
		}

		out = append(out, l)
	}

	sort.Strings(out)

	return out
}
