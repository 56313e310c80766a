package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"lifeboat/internal/config"
	"lifeboat/internal/source"
	"lifeboat/internal/source/sourcetest"
)

// TestConformance runs the suite every source runs against a database on
// the private server: its restore targets are database names, and its
// incremental (the binlog since the full) restores through its full.
func TestConformance(t *testing.T) {
	const live = "conformance"

	ctx := context.Background()
	admin := server.DB(t, "")
	targets := 0

	exec := func(t *testing.T, stmts ...string) {
		t.Helper()

		for _, s := range stmts {
			if _, err := admin.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}

	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T, _ string) source.Source {
			exec(t, "DROP DATABASE IF EXISTS "+live, "CREATE DATABASE "+live,
				"CREATE TABLE "+live+".books (id INT PRIMARY KEY, title VARCHAR(100), copies INT)",
				"CREATE TABLE "+live+".members (id INT PRIMARY KEY, name VARCHAR(100))",
				"INSERT INTO "+live+".books VALUES (1, 'Dune', 3), (2, 'Emma', 1)",
				"INSERT INTO "+live+".members VALUES (1, 'Ada')")
			t.Cleanup(func() { admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+live) })

			return New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
				Socket: server.Socket, User: "root", Databases: []string{live}, Workers: 2, Host: "127.0.0.1", Port: server.Port,
				Binlog: config.Binlog{ServerID: 4243},
			}}, func(string) string { return "" })
		},
		Change: func(t *testing.T) {
			exec(t, "UPDATE "+live+".books SET copies = copies - 1 WHERE id = 1",
				"INSERT INTO "+live+".books VALUES (3, 'Ulysses', 2)",
				"DELETE FROM "+live+".members WHERE id = 1",
				"INSERT INTO "+live+".members VALUES (2, 'Grace')")
		},
		State: func(t *testing.T, db string) string {
			if db == "" {
				db = live
			}

			return databaseState(t, admin, db)
		},
		Target: func(t *testing.T) string {
			targets++
			name := fmt.Sprintf("%s_restore_%d", live, targets)
			t.Cleanup(func() { admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name) })

			return name
		},
		Occupy: func(t *testing.T, db string) {
			exec(t, "CREATE DATABASE "+db, "CREATE TABLE "+db+".precious (note VARCHAR(20))", "INSERT INTO "+db+".precious VALUES ('local')")
		},
	})
}

// databaseState lists every table of db with its rows, in order.
func databaseState(t *testing.T, admin *sql.DB, db string) string {
	t.Helper()

	rows, err := admin.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", db)
	if err != nil {
		t.Fatal(err)
	}

	var tables []string

	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}

		tables = append(tables, name)
	}

	rows.Close()

	var out []string

	for _, tbl := range tables {
		var lines []string

		var cols string
		if err := admin.QueryRow("SELECT GROUP_CONCAT(CONCAT('`', COLUMN_NAME, '`') ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, tbl).Scan(&cols); err != nil {
			t.Fatal(err)
		}

		rs, err := admin.Query(fmt.Sprintf("SELECT CONCAT_WS('|', %s) FROM %s.%s ORDER BY 1", cols, quoteIdent(db), quoteIdent(tbl)))
		if err != nil {
			t.Fatal(err)
		}

		for rs.Next() {
			var line string
			if err := rs.Scan(&line); err != nil {
				t.Fatal(err)
			}

			lines = append(lines, line)
		}

		rs.Close()
		out = append(out, tbl+": "+strings.Join(lines, "; "))
	}

	return strings.Join(out, "\n")
}
