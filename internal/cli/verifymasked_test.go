package cli

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"lifeboat/internal/testenv"
	"lifeboat/internal/verify"
)

// TestMaskedRestoreTestOnTheVerifyServer: with verify: {masked: true,
// server: ...} the restore test restores a masked copy on the verify
// server only: there it holds every row and no original value of a masked
// column; the source's server never sees a scratch database and its data
// stays as it was; the copy is dropped after; the record says the tables
// compared were masked.
func TestMaskedRestoreTestOnTheVerifyServer(t *testing.T) {
	db := testenv.StartMariaDB(t)
	other := testenv.StartMariaDB(t)

	db.Exec(t, `CREATE DATABASE shop;
		CREATE TABLE shop.customers (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) NOT NULL UNIQUE, phone VARCHAR(30), note TEXT, visits INT);
		CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL, item VARCHAR(20),
			FOREIGN KEY (customer_id) REFERENCES shop.customers (id));
		INSERT INTO shop.customers (email, phone, note, visits) VALUES
			('ada@example.org', '+44 20 7946 0958', 'likes tea on Tuesdays', 3),
			('bob@example.org', '+44 20 7946 0959', NULL, 5),
			('cy@example.org', '+44 20 7946 0960', 'prefers the window seat', 1);
		INSERT INTO shop.orders (customer_id, item) VALUES (1, 'lamp'), (2, 'chair'), (1, 'desk');`)

	originals := []string{"ada@example.org", "bob@example.org", "cy@example.org", "+44 20 7946 0958", "+44 20 7946 0959", "+44 20 7946 0960",
		"likes tea on Tuesdays", "prefers the window seat"}

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n"+
		"    masking:\n      key_env: LIFEBOAT_MASKING_KEY\n      mode: strict\n      rules:\n"+
		"        shop.customers.email: email\n        shop.customers.phone: phone\n        shop.customers.note: text\n"+
		"    verify:\n      masked: true\n      assertions: [\"SELECT COUNT(*) = 3 FROM orders\"]\n"+
		"      server: {socket: "+other.Socket+", user: root}\n")
	e.vars["LIFEBOAT_MASKING_KEY"] = "cli-verify-masking-key-0123456789"
	e.mustRun("init")
	e.mustRun("backup", "db")

	source := db.DB(t, "")
	before := checksums(t, source)
	scanned := ""

	e.tamper = func(ctx context.Context, copyDB string) error {
		scanned = copyDB

		if n := schemaCount(t, source, copyDB); n != 0 {
			t.Errorf("the scratch copy %s is on the source's server", copyDB)
		}

		verifyDB := other.DB(t, "")
		if n := schemaCount(t, verifyDB, copyDB); n != 1 {
			t.Fatalf("the scratch copy %s is not on the verify server", copyDB)
		}

		for tbl, want := range map[string]int{"customers": 3, "orders": 3} {
			var n int
			if err := verifyDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+copyDB+"`."+tbl).Scan(&n); err != nil || n != want {
				t.Errorf("the masked copy's %s holds %d rows (%v), want %d", tbl, n, err, want)
			}
		}

		for _, cell := range cells(t, verifyDB, copyDB) {
			for _, orig := range originals {
				if strings.Contains(cell, orig) {
					t.Errorf("the masked copy on the verify server holds the original %q", orig)
				}
			}
		}

		return nil
	}

	out := e.mustRun("verify", "db", "--restore-test")
	if !strings.Contains(out, "masked tables") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("the masked restore test on the verify server: %s", out)
	}

	if scanned == "" {
		t.Fatal("the restore test restored no copy to scan")
	}

	if n := schemaCount(t, other.DB(t, ""), scanned); n != 0 {
		t.Fatalf("the scratch copy %s was left on the verify server", scanned)
	}

	if after := checksums(t, source); after != before {
		t.Fatalf("the source's data changed: %s, was %s", after, before)
	}

	if rec := e.records(verify.KindRestoreTest)["db"]; rec["ok"] != "true" || rec["checked"] != "2 masked tables" {
		t.Fatalf("the restore test's record: %+v", rec)
	}
}

func schemaCount(t *testing.T, conn *sql.DB, name string) int {
	t.Helper()

	var n int
	if err := conn.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}

	return n
}

// checksums are the source's tables' checksums.
func checksums(t *testing.T, conn *sql.DB) string {
	t.Helper()

	var all []string

	for _, tbl := range []string{"customers", "orders"} {
		var name, sum string
		if err := conn.QueryRow("CHECKSUM TABLE shop."+tbl).Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}

		all = append(all, name+"="+sum)
	}

	return strings.Join(all, ",")
}

// cells are every value of every table of database name, as text.
func cells(t *testing.T, conn *sql.DB, name string) []string {
	t.Helper()

	var out []string

	for _, tbl := range []string{"customers", "orders"} {
		rows, err := conn.Query("SELECT * FROM `" + name + "`." + tbl)
		if err != nil {
			t.Fatal(err)
		}

		cols, _ := rows.Columns()
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))

		for i := range vals {
			ptrs[i] = &vals[i]
		}

		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}

			for _, v := range vals {
				out = append(out, v.String)
			}
		}

		rows.Close()
	}

	return out
}
