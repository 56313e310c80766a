package mysql

import (
	"context"
	"testing"
	"time"

	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// TestPITRIntoACopyNeverDropsTheOriginal: the database was dropped and
// created again after the full backup. Recovering it under another name (a
// drill's scratch copy, --target-database) replays the DROP and CREATE
// DATABASE on the copy; the original, which mariadb-binlog's --rewrite-db
// would have left named in them, keeps its rows.
func TestPITRIntoACopyNeverDropsTheOriginal(t *testing.T) {
	ctx := context.Background()
	const name, copyName = "pitr_dropdb", "pitr_dropdb_copy"

	db := server.DB(t, "")
	for _, stmt := range []string{"DROP DATABASE IF EXISTS " + name, "DROP DATABASE IF EXISTS " + copyName, "CREATE DATABASE " + name, "CREATE TABLE " + name + ".t (i INT PRIMARY KEY)", "INSERT INTO " + name + ".t VALUES (1)"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}

	s := pitrSource(server, name)
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	stop := streamer(t, s, r, &logBuffer{})

	for _, stmt := range []string{"DROP DATABASE " + name, "CREATE DATABASE " + name, "CREATE TABLE " + name + ".t (i INT PRIMARY KEY)", "INSERT INTO " + name + ".t VALUES (2), (3)"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}

	// Everything archived: a time target taken just after the last
	// commit may fall before the streamer saw it arrive.
	waitRestorable(t, s, r, time.Now())
	stop()

	if _, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: copyName}}); err != nil {
		t.Errorf("recovery into %s: %v", copyName, err)
	}

	for _, c := range []struct{ db, want string }{{name, "2,3"}, {copyName, "2,3"}} {
		var got string
		if err := db.QueryRow("SELECT COALESCE(GROUP_CONCAT(i ORDER BY i), '') FROM " + c.db + ".t").Scan(&got); err != nil || got != c.want {
			t.Errorf("%s.t holds %q (%v), want %q", c.db, got, err, c.want)
		}
	}

	if _, err := db.Exec("DROP DATABASE IF EXISTS " + copyName); err != nil {
		t.Error(err)
	}
}

// TestPITRLeavesDatabasesWithLongerNamesAlone: a statement on another
// database whose name ends in the recovered one's (xpitr_mention.t for
// pitr_mention) is not the recovered database's: replaying it would run it
// again on that other database, here emptying a table it has refilled since.
func TestPITRLeavesDatabasesWithLongerNamesAlone(t *testing.T) {
	ctx := context.Background()
	const name, other, copyName = "pitr_mention", "xpitr_mention", "pitr_mention_copy"

	db := server.DB(t, "")
	for _, stmt := range []string{
		"DROP DATABASE IF EXISTS " + name, "DROP DATABASE IF EXISTS " + other, "DROP DATABASE IF EXISTS " + copyName,
		"CREATE DATABASE " + name, "CREATE DATABASE " + other,
		"CREATE TABLE " + name + ".t (i INT PRIMARY KEY)", "CREATE TABLE " + other + ".t (i INT PRIMARY KEY)",
		"INSERT INTO " + name + ".t VALUES (1)", "INSERT INTO " + other + ".t VALUES (1)",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}

	s := pitrSource(server, name)
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	stop := streamer(t, s, r, &logBuffer{})

	for _, stmt := range []string{"TRUNCATE TABLE " + other + ".t", "INSERT INTO " + other + ".t VALUES (7)", "INSERT INTO " + name + ".t VALUES (2)"} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}

	// Everything archived: a time target taken just after the last
	// commit may fall before the streamer saw it arrive.
	waitRestorable(t, s, r, time.Now())
	stop()

	if _, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: copyName}}); err != nil {
		t.Errorf("recovery into %s: %v", copyName, err)
	}

	for _, c := range []struct{ db, want string }{{other, "7"}, {copyName, "1,2"}, {name, "1,2"}} {
		var got string
		if err := db.QueryRow("SELECT COALESCE(GROUP_CONCAT(i ORDER BY i), '') FROM " + c.db + ".t").Scan(&got); err != nil || got != c.want {
			t.Errorf("%s.t holds %q (%v), want %q", c.db, got, err, c.want)
		}
	}

	for _, d := range []string{copyName, other} {
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + d); err != nil {
			t.Error(err)
		}
	}
}
