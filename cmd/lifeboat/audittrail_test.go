package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAuditAndConfigCopiesStayBounded: every backup adds an increment to
// the repository's copy of the audit trail, but the copy is merged as it
// grows, so 20 backups leave a handful of pieces, and `audit verify` still
// matches every record; the configuration is stored once per version, not
// per command, and every version stays readable.
func TestAuditAndConfigCopiesStayBounded(t *testing.T) {
	in := newInstallation(t, "")
	os.WriteFile(in.data+"/a.txt", []byte("hello"), 0o644)
	in.mustRun("init")

	const backups = 20

	for i := 0; i < backups; i++ {
		in.mustRun("backup")
	}

	r := in.openRepo(t)
	pieces, err := r.Segments(context.Background(), "_audit")
	configs, cerr := r.Segments(context.Background(), "_config")
	r.Close(context.Background())

	if err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}

	merged := 0

	for _, p := range pieces {
		if p.Labels["level"] != "" {
			merged++
		}
	}

	if len(pieces) >= backups/2 || merged == 0 {
		t.Fatalf("%d backups left %d pieces of the audit log's copy (%d merged)", backups, len(pieces), merged)
	}

	if len(configs) != 1 {
		t.Fatalf("%d backups with one configuration stored %d versions", backups, len(configs))
	}

	out := in.mustRun("audit", "verify")
	if !regexp.MustCompile(`the repository's copy \(\d+ records\) matches`).MatchString(out) {
		t.Fatalf("audit verify: %s", out)
	}

	// A second version of the configuration, and the first still readable
	// at the instant it was stored.
	first := configs[0].Stored

	cfg, _ := os.ReadFile(in.cfg)
	os.WriteFile(in.cfg, append(cfg, []byte("# changed\n")...), 0o644)
	in.mustRun("backup")

	if got := strings.Count(in.mustRun("config", "versions"), "\n") - 1; got != 2 {
		t.Fatalf("config versions: %d versions", got)
	}

	if old := in.mustRun("config", "show", "--at", first.Format(time.RFC3339Nano)); strings.Contains(old, "# changed") || !strings.Contains(old, "sources:") {
		t.Fatalf("config show --at before the change: %s", old)
	}

	if now := in.mustRun("config", "show"); !strings.Contains(now, "# changed") {
		t.Fatalf("config show: %s", now)
	}

	if out := in.mustRun("audit", "verify"); !strings.Contains(out, "matches") {
		t.Fatalf("audit verify after the change: %s", out)
	}
}
