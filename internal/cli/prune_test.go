package cli

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPrunePinAndAudit: prune's dry run says for every snapshot why it stays
// or goes and deletes nothing; a pinned snapshot and the newest verified one
// stay whatever the rules say; the real prune gives the space back; every
// step is in the audit log, which verifies, and an edit to it is caught.
func TestPrunePinAndAudit(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	e := newEnv(t, "  data:\n    type: files\n    paths: ["+data+"]\n    retention: {latest: 1}\n")
	e.mustRun("init")

	for i := 0; i < 5; i++ {
		// Each snapshot holds 2 MiB of its own, so deleting it frees space.
		buf := make([]byte, 2<<20)
		rand.Read(buf)
		write(t, filepath.Join(data, "f.bin"), string(buf))
		e.mustRun("backup", "data")
		time.Sleep(10 * time.Millisecond) // distinct snapshot times, so which one is latest is known; not a wait
	}

	snaps := e.snapshots("data")
	if len(snaps) != 5 {
		t.Fatalf("%d snapshots", len(snaps))
	}

	oldest, second := snaps[0].ID, snaps[1].ID

	e.expectFailure(2, []string{"--reason is required"}, "pin", "data", oldest)
	e.mustRun("pin", oldest[:10], "--reason", "legal hold 2026-114")
	e.mustRun("verify", "data", "--snapshot", second)

	out := e.mustRun("prune", "--dry-run")
	for _, want := range []string{"pinned: legal hold 2026-114", "the newest snapshot that passed verification", "latest 1 of 1", "DELETE", "no rule keeps it: not among the latest 1", "would delete 2 snapshots"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}

	if n := len(e.snapshots("data")); n != 5 {
		t.Fatalf("the dry run deleted: %d snapshots left", n)
	}

	before := dirSize(t, filepath.Join(e.dir, "repo"))

	out = e.mustRun("prune", "--reclaim-now")
	if !strings.Contains(out, "deleted 2 snapshots") {
		t.Fatalf("prune: %s", out)
	}

	// One run gives the deleted snapshots' space back, and says so.
	after := dirSize(t, filepath.Join(e.dir, "repo"))
	if before-after < 3<<20 {
		t.Errorf("prune --reclaim-now gave back %d bytes, want the two deleted snapshots' 4 MiB (%d -> %d)", before-after, before, after)
	}

	if !strings.Contains(out, "the repository went from") {
		t.Errorf("prune should say how much it gave back:\n%s", out)
	}

	left := map[string]bool{}
	for _, s := range e.snapshots("data") {
		left[s.ID] = true
	}

	if len(left) != 3 || !left[oldest] || !left[second] {
		t.Fatalf("kept %v, want the pinned, the verified and the latest", left)
	}

	// Every kept snapshot still restores.
	e.mustRun("verify", "data")

	e.mustRun("unpin", "data", oldest)
	e.expectFailure(2, []string{"is not pinned"}, "unpin", oldest)
	e.expectFailure(2, []string{"no snapshot with ID"}, "pin", "data", "ffffffffffff", "--reason", "x")

	// The audit trail: what was done, in order, and nothing secret.
	var recs []struct {
		Action  string `json:"action"`
		Outcome string `json:"outcome"`
		Source  string `json:"source"`
	}

	for _, l := range strings.Split(strings.TrimSpace(e.mustRun("audit", "--json")), "\n") {
		var r struct {
			Action  string `json:"action"`
			Outcome string `json:"outcome"`
			Source  string `json:"source"`
		}

		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("audit --json: %v: %s", err, l)
		}

		recs = append(recs, r)
	}

	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}

	got := strings.Join(actions, ",")
	if !strings.HasPrefix(got, "config,backup,backup,backup,backup,backup,pin,verify,prune,prune,verify") || !strings.Contains(got, ",verify,unpin") {
		t.Errorf("audit actions: %s", got)
	}

	log := filepath.Join(e.dir, "audit.jsonl")
	if b, _ := os.ReadFile(log); strings.Contains(string(b), testPassword) {
		t.Fatal("the password is in the audit log")
	}

	out = e.mustRun("audit", "verify")
	if !strings.Contains(out, "the hash chain is intact") || !strings.Contains(out, "repository's copy") {
		t.Fatalf("audit verify: %s", out)
	}

	// A wrong password is refused and recorded.
	e.vars[EnvPassword] = "wrong"
	e.expectFailure(ExitWrongPassword, []string{"wrong password"}, "snapshots")
	e.vars[EnvPassword] = testPassword

	if !strings.Contains(e.mustRun("audit", "--since", "1h"), "password refused") {
		t.Error("the refused password is not in the audit log")
	}

	// Editing one record is caught and named.
	b, _ := os.ReadFile(log)
	edited := strings.Replace(string(b), `"action":"prune","outcome":"ok"`, `"action":"prune","outcome":"failed"`, 1)

	if edited == string(b) {
		t.Fatalf("no prune record to edit:\n%s", b)
	}

	os.WriteFile(log, []byte(edited), 0o600)
	e.expectFailure(1, []string{"has been tampered with", "was edited"}, "audit", "verify")

	// Cutting the newest records off is caught by the repository's copy.
	lines := strings.SplitAfter(string(b), "\n")
	// (the copy was made by the last command that wrote the repository, so
	// cut deeper than the records written since)
	os.WriteFile(log, []byte(strings.Join(lines[:len(lines)-8], "")), 0o600)
	e.expectFailure(1, []string{"has been tampered with", "missing here: it was removed"}, "audit", "verify")
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()

	var n int64

	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}

		return nil
	})

	return n
}

// TestMetricsFile: a one-shot backup writes the daemon's metric names for
// node_exporter, and promtool accepts the file.
func TestMetricsFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	write(t, filepath.Join(data, "a.txt"), "hello")

	e := newEnv(t, "  data:\n    type: files\n    tier: critical\n    paths: ["+data+"]\n")
	e.mustRun("init")

	prom := filepath.Join(t.TempDir(), "lifeboat.prom")
	e.mustRun("backup", "--metrics-file", prom)

	b, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}

	for _, want := range []string{
		`lifeboat_backup_last_success_timestamp_seconds{source="data",type="full"}`,
		`lifeboat_backup_logical_bytes{source="data",type="full"} 5`,
		`lifeboat_rpo_objective_seconds{source="data"} 3600`,
		`lifeboat_rpo_seconds{source="data"}`,
		`lifeboat_repository_up 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics file lacks %s:\n%s", want, b)
		}
	}

	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: install it with `apt-get install prometheus` (make deps does)")
	}

	cmd := exec.Command(p, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(b))

	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
