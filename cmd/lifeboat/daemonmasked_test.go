package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// TestDaemonRunsMaskedRestoreTests: the daemon's scheduled restore test of
// a source with verify: {masked: true} restores a masked copy, and
// /metrics says so next to its result.
func TestDaemonRunsMaskedRestoreTests(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop;
		CREATE TABLE shop.customers (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) NOT NULL UNIQUE, visits INT);
		INSERT INTO shop.customers (email, visits) VALUES ('ada@example.org', 3), ('bob@example.org', 5);`)
	t.Setenv("LB_E2E_MASK_KEY", "e2e-masking-key-0123456789abcdef")

	addr := freePort(t)
	in := newInstallation(t, "server: {listen: \""+addr+"\"}\n")
	conn := "    type: mysql\n    socket: " + db.Socket + "\n    user: root\n    databases: [shop]\n    schedule: \"@every 2s\"\n"
	in.setSource(t, "  db:\n"+conn+"    masking: {key_env: LB_E2E_MASK_KEY, rules: {shop.customers.email: email}}\n    verify: {masked: true}\n"+
		"  plain:\n"+conn+"jobs: {restore_test: \"@every 3s\"}\n")
	in.mustRun("init")

	d := in.startDaemon(t, addr)

	want := []string{
		`lifeboat_restore_test_last_success{source="db"} 1`,
		`lifeboat_restore_test_masked{source="db"} 1`,
		`lifeboat_restore_test_last_success{source="plain"} 1`,
		`lifeboat_restore_test_masked{source="plain"} 0`,
	}

	var m string

	// What is still missing then is reported below, metric by metric.
	testenv.Poll(60*time.Second, func() error { //nolint:errcheck
		m = get(t, "http://"+addr+"/metrics")

		for _, w := range want {
			if !strings.Contains(m, w) {
				return errors.New("lacks " + w)
			}
		}

		return nil
	})

	d.stop(t)

	for _, w := range want {
		if !strings.Contains(m, w) {
			t.Errorf("/metrics lacks %s\ndaemon:\n%s", w, d.out)
		}
	}

	// The restore test's own record says what it compared.
	if out := in.mustRun("verify", "db", "--restore-test"); !strings.Contains(out, "masked tables") {
		t.Errorf("the masked restore test: %s", out)
	}
}
