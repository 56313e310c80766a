package metrics

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/clock"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

// sample is a registry with every metric set, as a daemon with a database
// source would have them.
func sample(t *testing.T) []byte {
	t.Helper()

	m := New("test")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	m.Clock = clock.NewFake(now)

	m.Backup("database", "full", now.Add(-time.Hour), now.Add(-59*time.Minute), 1<<30, 1<<20, nil)
	m.Backup("database", "incremental", now.Add(-2*time.Minute), now.Add(-time.Minute), 0, 0, errors.New("server gone"))
	m.BackupInterval.WithLabelValues("database", "full").Set(86400)
	m.RPOObjective.WithLabelValues("database").Set(3600)
	m.VerifyLast.WithLabelValues("database").Set(float64(now.Add(-24 * time.Hour).Unix()))
	m.VerifyOK.WithLabelValues("database").Set(1)
	m.BinlogStreaming.WithLabelValues("database").Set(1)
	m.BinlogArchive.WithLabelValues("database").Set(3 << 30)
	m.BinlogSegments.WithLabelValues("database").Set(29000)
	m.BinlogStored.WithLabelValues("database").Set(1200)
	m.RepositorySize.Set(5 << 30)
	m.RepositoryUp.Set(1)
	m.JobsSkipped.WithLabelValues("backup database full").Inc()
	m.RestoreTestLast.WithLabelValues("database").Set(float64(now.Add(-48 * time.Hour).Unix()))
	m.RestoreTestOK.WithLabelValues("database").Set(1)
	m.RestoreTestTime.WithLabelValues("database").Set(42)
	m.RestoreTestMasked.WithLabelValues("database").Set(1)
	m.RecoveryDuration.WithLabelValues("site", "drill", "total").Set(310)
	m.RecoveryDuration.WithLabelValues("site", "drill", "2. restore database").Set(250)
	m.RecoveryDuration.WithLabelValues("site", "drill", "3. run").Set(12)
	m.RecoveryRPO.WithLabelValues("site", "drill").Set(1800)
	m.RTOObjective.WithLabelValues("site").Set(4 * 3600)
	m.PlanRPOObjective.WithLabelValues("site").Set(3600)
	m.DrillLast.WithLabelValues("site").Set(float64(now.Add(-24 * time.Hour).Unix()))
	m.DrillOK.WithLabelValues("site").Set(1)
	m.DrillLastSuccess.WithLabelValues("site").Set(float64(now.Add(-24 * time.Hour).Unix()))
	m.CopyReplicated.WithLabelValues("offsite", "false", "true").Set(float64(now.Add(-time.Hour).Unix()))
	m.CopyRestorable.WithLabelValues("offsite", "database").Set(float64(now.Add(-time.Hour).Unix()))
	m.Copies321.WithLabelValues("database").Set(3)
	m.Media321.WithLabelValues("database").Set(2)
	m.Offsite321.WithLabelValues("database").Set(1)
	m.EscrowDrillLastSuccess.Set(float64(now.Add(-30 * 24 * time.Hour).Unix()))
	m.CopyOldPassword.WithLabelValues("offsite").Set(0)
	m.RecoveryKitStale.Set(0)
	m.SetRestorable("database", now.Add(-3*time.Second))
	m.SetBinlogCovered("database", now.Add(-2*time.Second))

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))

	return rec.Body.Bytes()
}

// TestGolden pins every metric name, type and help text: the alert rules and
// users' dashboards depend on them. `go test ./internal/metrics -update`
// rewrites the golden file after a deliberate change.
func TestGolden(t *testing.T) {
	out := sample(t)

	var meta []string

	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "# HELP lifeboat_") || strings.HasPrefix(l, "# TYPE lifeboat_") {
			meta = append(meta, l)
		}
	}

	got := strings.Join(meta, "\n") + "\n"
	golden := filepath.Join("testdata", "metrics.golden")

	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}

	if got != string(want) {
		t.Errorf("metrics changed; if deliberate, update the alert rules and run with -update.\ngot:\n%s\nwant:\n%s", got, want)
	}

	for _, want := range []string{
		`lifeboat_rpo_seconds{source="database"} 3`,
		`lifeboat_binlog_lag_seconds{source="database"} 2`,
		`lifeboat_backup_failures_total{source="database",type="incremental"} 1`,
		`lifeboat_backup_logical_bytes{source="database",type="full"} 1.073741824e+09`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func promtool(t *testing.T) string {
	t.Helper()

	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: it checks the metrics and the alert rules; install it with `apt-get install prometheus` (make deps does)")
	}

	return p
}

// TestPromtoolCheckMetrics lints the exposition with promtool.
func TestPromtoolCheckMetrics(t *testing.T) {
	cmd := exec.Command(promtool(t), "check", "metrics")
	cmd.Stdin = bytes.NewReader(sample(t))

	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestAlertRules checks the shipped rules and runs their unit tests, where
// every rule fires in its scenario and resolves.
func TestAlertRules(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "prometheus")

	for _, args := range [][]string{
		{"check", "rules", "lifeboat-rules.yml"},
		{"test", "rules", "lifeboat-rules.test.yml", "lifeboat-rules-long.test.yml", "lifeboat-rules-key.test.yml"},
	} {
		cmd := exec.Command(promtool(t), args...)
		cmd.Dir = dir

		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out

		if err := cmd.Run(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}

	// Every rule in the file has a scenario in the tests.
	rules, _ := os.ReadFile(filepath.Join(dir, "lifeboat-rules.yml"))
	tests, _ := os.ReadFile(filepath.Join(dir, "lifeboat-rules.test.yml"))
	long, _ := os.ReadFile(filepath.Join(dir, "lifeboat-rules-long.test.yml"))
	key, _ := os.ReadFile(filepath.Join(dir, "lifeboat-rules-key.test.yml"))
	tests = append(append(tests, long...), key...)

	for _, l := range strings.Split(string(rules), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(l), "- alert: "); ok && !bytes.Contains(tests, []byte("alertname: "+name)) {
			t.Errorf("rule %s has no promtool test", name)
		}
	}

	// And every metric the rules use exists.
	names, _ := io.ReadAll(bytes.NewReader(sample(t)))

	for _, w := range strings.FieldsFunc(string(rules), func(r rune) bool {
		return r != '_' && (r < 'a' || r > 'z') && (r < '0' || r > '9')
	}) {
		if strings.HasPrefix(w, "lifeboat_") && !bytes.Contains(names, []byte("# TYPE "+w+" ")) {
			t.Errorf("the rules use %s, which Lifeboat does not export", w)
		}
	}
}
