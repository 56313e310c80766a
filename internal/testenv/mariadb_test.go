//go:build linux

package testenv

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// sakilaDir is the shared Sakila dump, which sits beside the repository.
// It is relative to this package's directory, where go test runs the test.
const sakilaDir = "../../../shared/data/sakila"

// sakilaCounts are the row counts of the published Sakila sample database.
var sakilaCounts = map[string]int{
	"actor":         200,
	"address":       603,
	"category":      16,
	"city":          600,
	"country":       109,
	"customer":      599,
	"film":          1000,
	"film_actor":    5462,
	"film_category": 1000,
	"film_text":     1000, // filled by the ins_film trigger, not by the dump
	"inventory":     4581,
	"language":      6,
	"payment":       16049,
	"rental":        16044,
	"staff":         2,
	"store":         2,
}

func TestSakilaLoads(t *testing.T) {
	dir, err := filepath.Abs(sakilaDir)
	if err != nil {
		t.Fatalf("resolving %s: %v", sakilaDir, err)
	}
	schema := filepath.Join(dir, "sakila-schema.sql")
	data := filepath.Join(dir, "sakila-data.sql")
	for _, f := range []string{schema, data} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("Sakila dump missing: %v (expected the shared folder beside the repository at %s)", err, dir)
		}
	}

	m := StartMariaDB(t)
	m.LoadFile(t, schema)
	m.LoadFile(t, data)
	db := m.DB(t, "sakila")

	// Make sure we are talking to our private server, not some other one.
	var port int
	if err := db.QueryRow("SELECT @@port").Scan(&port); err != nil {
		t.Fatalf("SELECT @@port: %v", err)
	}
	if port != m.Port {
		t.Fatalf("@@port = %d, want %d", port, m.Port)
	}

	var logBin int
	var binlogFormat string
	if err := db.QueryRow("SELECT @@log_bin, @@binlog_format").Scan(&logBin, &binlogFormat); err != nil {
		t.Fatalf("SELECT @@log_bin, @@binlog_format: %v", err)
	}
	if logBin != 1 || binlogFormat != "ROW" {
		t.Errorf("@@log_bin = %d, @@binlog_format = %q; want 1, ROW", logBin, binlogFormat)
	}

	// The expectation must cover every table, or a new one would go unchecked.
	rows, err := db.Query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'sakila' AND table_type = 'BASE TABLE' ORDER BY table_name")
	if err != nil {
		t.Fatalf("listing sakila tables: %v", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("scanning table name: %v", err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("listing sakila tables: %v", err)
	}
	want := slices.Sorted(maps.Keys(sakilaCounts))
	if !slices.Equal(tables, want) {
		t.Errorf("sakila tables = %v, want %v", tables, want)
	}

	for _, table := range want {
		var n int
		// table comes from sakilaCounts, not from input: safe to splice.
		if err := db.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&n); err != nil {
			t.Errorf("counting %s: %v", table, err)
			continue
		}
		if n != sakilaCounts[table] {
			t.Errorf("%s has %d rows, want %d", table, n, sakilaCounts[table])
		}
	}
}
