package cli

import (
	"strings"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// oddPassword has what an unquoted option file mangles: leading and
// trailing spaces, a comment sign, backslashes and both quotes.
const oddPassword = ` p#a\\ss"wo'rd `

// sqlString quotes s as a MariaDB string literal.
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// tick waits until the wall clock is in a later second than t, so binlog
// events (stamped to the second) fall on either side of an instant.
func tick(t time.Time) time.Time {
	for time.Now().Truncate(time.Second).Equal(t.Truncate(time.Second)) {
		time.Sleep(10 * time.Millisecond) // polls the wall clock into the next second (binlog stamps are whole seconds)
	}

	return time.Now()
}

// TestPointInTimeRecoveryWithAnOddPassword recovers a database to an
// instant as a user whose password holds every character an option file
// treats specially, and shows that a login the client refuses stops the dry
// run and the recovery before anything is restored.
func TestPointInTimeRecoveryWithAnOddPassword(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20));
		INSERT INTO shop.orders (item) VALUES ('full');
		CREATE USER 'odd'@'localhost' IDENTIFIED BY `+sqlString(oddPassword)+`; GRANT ALL ON *.* TO 'odd'@'localhost'`)

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: odd\n    password_env: ODD_PASSWORD\n    databases: [shop]\n    binlog: {server_id: 780, segment_seconds: 1}\n")
	e.writeConfig(readFile(t, e.cfg) + "plans:\n  shop:\n    tier: critical\n    steps:\n      - restore: db\n")
	e.vars["ODD_PASSWORD"] = oddPassword
	e.mustRun("init")
	e.mustRun("backup", "db")

	sqlDB := db.DB(t, "")
	if _, err := sqlDB.Exec("INSERT INTO shop.orders (item) VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}

	at := tick(time.Now())
	tick(at)

	if _, err := sqlDB.Exec("INSERT INTO shop.orders (item) VALUES ('later')"); err != nil {
		t.Fatal(err)
	}

	e.mustRun("backup", "db", "--type", "incremental")

	when := at.Format(time.RFC3339Nano)
	out := e.mustRun("restore", "db", "--to-time", when, "--target-database", "shop_then", "--dry-run")

	if !strings.Contains(out, "logs in as the replay will") {
		t.Errorf("the dry run did not try the replay's login:\n%s", out)
	}

	e.mustRun("verify", "db", "--restore-test")

	if out := e.mustRun("recover", "shop", "--dry-run"); strings.Contains(out, "FAILS") {
		t.Errorf("the plan's dry run: %s", out)
	}

	out = e.mustRun("restore", "db", "--to-time", when, "--target-database", "shop_then")
	if !strings.Contains(out, "plus 1 binlog transactions") {
		t.Errorf("recovery: %s", out)
	}

	var items string
	if err := sqlDB.QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM shop_then.orders").Scan(&items); err != nil || items != "full,kept" {
		t.Errorf("recovered %q (%v), want full,kept", items, err)
	}

	// A password the server refuses: the dry run says so, and neither it
	// nor the recovery restores anything.
	e.vars["ODD_PASSWORD"] = "not-the-password"

	out = e.mustRun("recover", "shop", "--dry-run")
	if !strings.Contains(out, "restore db (") || !strings.Contains(out, "FAILS: source db: the mariadb client cannot log in") {
		t.Errorf("the plan's dry run with a refused login: %s", out)
	}

	for _, dry := range [][]string{{"--dry-run"}, nil} {
		args := append([]string{"restore", "db", "--to-time", when, "--target-database", "shop_wrong"}, dry...)
		r := e.expectFailure(1, []string{"cannot log in", "Access denied for user 'odd'", "check sources.db.user and its password"}, args...)

		if strings.Contains(r.err, "not-the-password") {
			t.Errorf("the message shows the password: %s", r.err)
		}

		var n int
		if err := sqlDB.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'shop_wrong'").Scan(&n); err != nil || n != 0 {
			t.Errorf("%v: a database was created (%d, %v)", args, n, err)
		}
	}
}
