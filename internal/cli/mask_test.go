package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/testenv"
)

// TestMaskedCommands drives masked copies through the CLI against a private
// MariaDB: mask scan's starting rules, a strict refusal naming the column,
// restore --masked under another name and export --masked loaded by the
// stock client, neither holding an original email or phone.
func TestMaskedCommands(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop;
		CREATE TABLE shop.customers (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) NOT NULL UNIQUE, contact VARCHAR(30), pay_ref VARCHAR(25), last_seen_from VARCHAR(45), note TEXT);
		INSERT INTO shop.customers (email, contact, pay_ref, last_seen_from, note) VALUES
			('ada@example.org', '+44 20 7946 0958', '4111 1111 1111 1111', '192.0.2.10', 'likes tea'),
			('bob@example.org', '+44 20 7946 0959', '5500 0000 0000 0004', '198.51.100.7', NULL);`)

	base := "  db:\n    type: mysql\n    socket: " + db.Socket + "\n    user: root\n    databases: [shop]\n"
	e := newEnv(t, base)
	e.mustRun("init")
	e.mustRun("backup", "db")

	out := e.mustRun("mask", "scan", "db")
	for _, want := range []string{"shop.customers.email: email", "its name (email)", "shop.customers.contact: phone", "phone numbers", "shop.customers.pay_ref: {hash: {format: true}}", "card numbers (Luhn)", "shop.customers.last_seen_from: hash", "IP addresses", "shop.customers.note: text"} {
		if !strings.Contains(out, want) {
			t.Fatalf("mask scan lacks %q:\n%s", want, out)
		}
	}

	if strings.Contains(out, "ada@example.org") || strings.Contains(out, "7946") {
		t.Fatalf("mask scan printed a sampled value:\n%s", out)
	}

	if scan := e.golden("mask-scan", "mask", "scan", "db", "--json")[0]; scan["source"] != "db" || len(scan["findings"].([]any)) != 5 {
		t.Fatalf("mask scan --json: %v", scan)
	}

	e.expectFailure(1, []string{"source db has no masking rules", "lifeboat mask scan db"}, "restore", "db", "--masked", "--target-database", "shop_dev")

	// The scan's rules, less one: strict mode names the missing column.
	_, rules, _ := strings.Cut(out, "# review each: change the transformer, or write keep for a column that is not personal.\n")
	cfg := base + "    " + strings.ReplaceAll(strings.TrimRight(rules, "\n"), "\n", "\n    ") + "\n"
	head := "repository:\n  path: " + filepath.Join(e.dir, "repo") + "\naudit:\n  path: " + filepath.Join(e.dir, "audit.jsonl") + "\nsources:\n"
	cfg = head + cfg
	e.writeConfig(strings.Replace(cfg, "shop.customers.note: text", "", 1))
	e.vars["LIFEBOAT_MASKING_KEY"] = "cli-test-masking-key-0123456789"

	e.expectFailure(1, []string{"strict masking refuses", "shop.customers.note"}, "restore", "db", "--masked", "--target-database", "shop_dev")

	e.writeConfig(cfg)
	e.mustRun("restore", "db", "--masked", "--target-database", "shop_dev")

	export := filepath.Join(t.TempDir(), "shop-dev.sql.gz")
	e.mustRun("export", "db", "--masked", "-o", export)

	db.Exec(t, "CREATE DATABASE shop_export")

	cmd := exec.Command("sh", "-c", "gunzip -c \"$0\" | \"$@\"", export, "mariadb")
	cmd.Args = append(cmd.Args, append(db.ClientArgs(), "shop_export")...)

	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gunzip | mariadb: %v %s", err, b)
	}

	raw, err := exec.Command("sh", "-c", "gunzip -c \"$0\"", export).Output()
	if err != nil {
		t.Fatal(err)
	}

	conn := db.DB(t, "")

	for _, copyDB := range []string{"shop_dev", "shop_export"} {
		var n int
		if err := conn.QueryRow("SELECT COUNT(*) FROM " + copyDB + ".customers WHERE email IN ('ada@example.org', 'bob@example.org') OR contact LIKE '%7946%' OR pay_ref LIKE '4111%' OR last_seen_from = '192.0.2.10' OR note = 'likes tea'").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s: %d original rows, %v", copyDB, n, err)
		}
	}

	for _, orig := range []string{"ada@example.org", "7946 0958", "4111 1111", "192.0.2.10", "likes tea"} {
		if strings.Contains(string(raw), orig) {
			t.Fatalf("the masked export holds %q", orig)
		}
	}

	// A drill of a plan whose restore step says masked: true restores a
	// masked scratch copy: the plan's check fails on any original email.
	plan := "plans:\n  dev:\n    steps:\n      - restore: db\n        masked: true\n" +
		"      - check: {sql: \"SELECT COUNT(*) = 2 AND SUM(email IN ('ada@example.org', 'bob@example.org')) = 0 FROM customers\", source: db}\n"
	e.writeConfig(cfg + plan)

	if out := e.mustRun("drill", "dev"); !strings.Contains(out, "PASSED") || !strings.Contains(out, "into lifeboat_drill_") {
		t.Fatalf("drill: %s", out)
	}

	// The same check fails on an unmasked drill, so it does check.
	e.writeConfig(cfg + strings.Replace(plan, "        masked: true\n", "", 1))
	e.expectFailure(1, []string{"SELECT COUNT(*) = 2"}, "drill", "dev")

	// verify: {masked: true}: the restore test restores a masked copy.
	e.writeConfig(strings.Replace(cfg, "    databases: [shop]\n", "    databases: [shop]\n    verify: {masked: true}\n", 1))

	if out := e.mustRun("verify", "db", "--restore-test"); !strings.Contains(out, "masked tables") {
		t.Fatalf("masked restore test: %s", out)
	}

	// The key reaches no file of the installation.
	if b, _ := os.ReadFile(filepath.Join(e.dir, "lifeboat.yaml")); strings.Contains(string(b), "cli-test-masking-key") {
		t.Fatal("the masking key is in the configuration")
	}
}
