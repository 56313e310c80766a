package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPhysicalDrillAndRecoverPlan: a drill of a plan restoring a physical
// source restores into a scratch data directory served by a private
// server, checks its tables, the source's assertions and the plan's SQL
// check there, and removes it all; a failing check fails the drill; a
// recovery plan's step with mode: physical restores into its data
// directory target.
func TestPhysicalDrillAndRecoverPlan(t *testing.T) {
	e, _ := physicalEnv(t)
	e.mustRun("backup", "phys")

	text, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}

	cfg := string(text)
	plan := "plans:\n  db:\n    steps:\n      - restore: phys\n" +
		"      - check: {sql: \"SELECT COUNT(*) = 3000 FROM orders\", source: phys}\n"
	e.writeConfig(cfg + plan)

	out := e.mustRun("drill", "db")
	t.Log(out)
	if !strings.Contains(out, "PASSED") || !strings.Contains(out, "served by a private server") || !strings.Contains(out, "1 tables, 3000 rows, CHECK TABLE ok") {
		t.Fatalf("drill: %s", out)
	}

	dir := regexp.MustCompile(`scratch data directory (\S+?)[,:;]`).FindStringSubmatch(out)
	if dir == nil {
		t.Fatalf("the drill names no scratch data directory: %s", out)
	}

	if _, err := os.Stat(dir[1]); !os.IsNotExist(err) {
		t.Errorf("the drill left %s behind (%v)", dir[1], err)
	}

	// The check runs in the copy: a false one fails the drill.
	e.writeConfig(cfg + strings.Replace(plan, "= 3000", "= 2999", 1))
	e.expectFailure(1, []string{"SELECT COUNT(*) = 2999 FROM orders"}, "drill", "db")

	// A masked drill cannot take a physical copy: refused before anything
	// is restored.
	e.writeConfig(cfg + strings.Replace(plan, "      - restore: phys\n", "      - restore: phys\n        mode: physical\n        masked: true\n", 1))
	e.expectFailure(1, []string{"a physical copy cannot be masked"}, "drill", "db")

	// A recovery: mode physical restores into the target data directory.
	target := filepath.Join(t.TempDir(), "datadir")
	e.writeConfig(cfg + "plans:\n  db:\n    steps:\n      - restore: phys\n        mode: physical\n        target: " + target + "\n")

	out = e.mustRun("recover", "db")
	if !strings.Contains(out, "into the data directory "+target) {
		t.Fatalf("recover: %s", out)
	}

	if _, err := os.Stat(filepath.Join(target, "shop", "orders.ibd")); err != nil {
		t.Errorf("the recovery's data directory lacks the table: %v", err)
	}

	// A recovery with mode: physical and no data directory: refused, and
	// the first recovery's data directory is left as it was.
	e.writeConfig(cfg + "plans:\n  db:\n    steps:\n      - restore: phys\n        mode: physical\n")
	e.expectFailure(1, []string{"with mode: physical, which restores into a data directory", "target:"}, "recover", "db")

	if _, err := os.Stat(filepath.Join(target, "shop", "orders.ibd")); err != nil {
		t.Errorf("the refused recovery touched %s: %v", target, err)
	}

	// A relative data directory: refused by config check.
	e.writeConfig(cfg + "plans:\n  db:\n    steps:\n      - restore: phys\n        mode: physical\n        target: relative/dir\n")
	e.expectFailure(2, []string{"a physical restore's target is a data directory: an absolute path"}, "config", "check")
}
