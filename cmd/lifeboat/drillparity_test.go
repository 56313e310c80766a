package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/testenv"
)

// TestCommandAndDaemonDrillsAuditAlike drills one plan (a private MariaDB and
// a files source) from the command line, then from the daemon's schedule:
// both runs write the same audit records (a start, one per step, the run)
// and the daemon exports the same drill metrics for either.
func TestCommandAndDaemonDrillsAuditAlike(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20)); INSERT INTO shop.orders (item) VALUES ('tea')")

	addr := freePort(t)
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\n")
	os.WriteFile(filepath.Join(in.data, "a.txt"), []byte("hello"), 0o644)

	sources := "  db:\n    type: mysql\n    tier: critical\n    socket: " + db.Socket + "\n    user: root\n    databases: [shop]\n" +
		"  data:\n    type: files\n    paths: [" + in.data + "]\n"
	plan := func(schedule string) string {
		return "plans:\n  site:\n" + schedule + "    steps:\n      - restore: db\n" +
			"      - check: {sql: \"SELECT COUNT(*) = 1 FROM orders\", source: db}\n      - restore: data\n"
	}

	in.setSource(t, sources+plan(""))
	in.mustRun("init")
	in.mustRun("backup")

	logPath := filepath.Join(in.dir, "audit.jsonl")

	mark := len(readAudit(t, logPath))
	in.mustRun("drill", "site")
	cliRecs := drillRecords(t, readAudit(t, logPath)[mark:])

	// The daemon exports the command line's drill from its record.
	d := in.startDaemon(t, addr)
	cliMetrics := waitMetrics(t, addr, func(m map[string]string) bool { return m[`lifeboat_drill_last_result{plan="site"}`] != "" })
	d.stop(t)

	// Now the daemon drills on its schedule.
	b, err := os.ReadFile(in.cfg)
	if err != nil {
		t.Fatal(err)
	}

	os.WriteFile(in.cfg, []byte(strings.Replace(string(b), plan(""), plan("    drill: \"@every 1s\"\n"), 1)), 0o644)

	mark = len(readAudit(t, logPath))
	d = in.startDaemon(t, addr)

	var daemonRecs []audit.Record

	waitFor(t, "the daemon's drill in the audit log", func() bool {
		daemonRecs = drillRecords(t, readAudit(t, logPath)[mark:])
		return len(daemonRecs) > 0
	})

	daemonMetrics := waitMetrics(t, addr, func(m map[string]string) bool {
		return m[`lifeboat_drill_last_timestamp_seconds{plan="site"}`] != cliMetrics[`lifeboat_drill_last_timestamp_seconds{plan="site"}`]
	})
	d.stop(t)

	if got, want := describe(daemonRecs), describe(cliRecs); !slices.Equal(got, want) {
		t.Fatalf("the daemon's drill audited\n  %s\nthe command line's\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	if len(cliRecs) != 5 || cliRecs[0].Action != "drill start" || cliRecs[4].Action != "drill" || cliRecs[4].Outcome != audit.OK {
		t.Fatalf("a drill of 3 steps audits a start, 3 steps and the run:\n  %s", strings.Join(describe(cliRecs), "\n  "))
	}

	for _, ms := range []map[string]string{cliMetrics, daemonMetrics} {
		if ms[`lifeboat_drill_last_result{plan="site"}`] != "1" {
			t.Fatalf("the drill's result is not exported as passed: %v", ms)
		}
	}

	if got, want := metricNames(daemonMetrics), metricNames(cliMetrics); !slices.Equal(got, want) {
		t.Fatalf("after the daemon's drill the metrics are\n  %s\nafter the command line's\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func readAudit(t *testing.T, path string) []audit.Record {
	t.Helper()

	recs, err := audit.Read(path)
	if err != nil {
		t.Fatal(err)
	}

	return recs
}

// drillRecords are the records of the first drill among recs: from its
// start to its run.
func drillRecords(t *testing.T, recs []audit.Record) []audit.Record {
	t.Helper()

	for i, r := range recs {
		if r.Action != "drill start" {
			continue
		}

		for j := i; j < len(recs); j++ {
			if recs[j].Action == "drill" {
				return recs[i : j+1]
			}
		}

		return nil
	}

	return nil
}

// Run IDs and measured times differ from run to run; the rest must not.
var (
	runID    = regexp.MustCompile(`\d{8}T\d{6}Z-[0-9a-f]{6}`)
	measured = regexp.MustCompile(`\d+(\.\d+)?s\b`)
)

func describe(recs []audit.Record) []string {
	out := make([]string, 0, len(recs))

	for _, r := range recs {
		detail := measured.ReplaceAllString(runID.ReplaceAllString(r.Detail, "RUN"), "Ns")
		out = append(out, strings.Join([]string{r.Action, r.Source, r.Snapshot, r.Outcome, detail}, " | "))
	}

	return out
}

// waitMetrics reads /metrics until ready says it holds what the test waits
// for, and returns the plan's drill and recovery series.
func waitMetrics(t *testing.T, addr string, ready func(map[string]string) bool) map[string]string {
	t.Helper()

	var m map[string]string

	waitFor(t, "the drill metrics", func() bool {
		m = map[string]string{}

		for _, line := range strings.Split(get(t, "http://"+addr+"/metrics"), "\n") {
			name, value, ok := strings.Cut(line, " ")
			if ok && strings.Contains(name, `plan="site"`) && (strings.HasPrefix(name, "lifeboat_drill_") || strings.HasPrefix(name, "lifeboat_recovery_")) {
				m[name] = value
			}
		}

		return ready(m)
	})

	return m
}

func metricNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}

	slices.Sort(names)

	return names
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()

	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
