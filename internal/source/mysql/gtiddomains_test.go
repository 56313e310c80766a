package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/testenv"
)

// TestToGTIDAcrossDomains: transactions of GTID domains 0 and 1 alternate
// in the binlog, so archived segments start in one domain and end in the
// other; --to-gtid names a transaction of either domain and the recovery,
// from a logical full into the server and from a physical full into a
// data directory, holds exactly the rows committed up to it.
func TestToGTIDAcrossDomains(t *testing.T) {
	needBackupTool(t)

	ctx := context.Background()

	m := testenv.StartMariaDB(t)
	m.Exec(t, "CREATE DATABASE md; CREATE TABLE md.t (id INT PRIMARY KEY, domain INT)")

	s := New(&config.Source{Name: "db", Type: config.KindMySQL, MySQL: config.MySQL{
		Socket: m.Socket, User: "root", Workers: 2, Host: "127.0.0.1", Port: m.Port, Databases: []string{"md"},
		Binlog: config.Binlog{ServerID: 4242, SegmentSeconds: 1, SegmentBytes: 16 << 20},
	}}, func(string) string { return "" })
	r := newRepo(t)

	for _, mode := range []string{config.ModeLogical, config.ModePhysical} {
		if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull, Mode: mode}); err != nil {
			t.Fatalf("%s full: %v", mode, err)
		}
	}

	stop := streamer(t, s, r, &logBuffer{})
	defer stop()

	// One session per domain (gtid_domain_id is a session setting), the
	// rows inserted alternately: row i by domain i%2, starting with 0.
	conns := [2]*sql.Conn{}

	for d := range conns {
		c, err := m.DB(t, "md").Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		if _, err := c.ExecContext(ctx, fmt.Sprintf("SET SESSION gtid_domain_id = %d", d)); err != nil {
			t.Fatal(err)
		}

		conns[d] = c
	}

	const rows = 12

	gtids := make([]string, rows+1)

	for i := 1; i <= rows; i++ {
		c := conns[i%2]
		if _, err := c.ExecContext(ctx, "INSERT INTO t VALUES (?, ?)", i, i%2); err != nil {
			t.Fatal(err)
		}

		if err := c.QueryRowContext(ctx, "SELECT @@SESSION.last_gtid").Scan(&gtids[i]); err != nil {
			t.Fatal(err)
		}
	}

	testenv.EventuallyNoError(t, 30*time.Second, func() error {
		arch, err := s.loadArchive(ctx, r)
		if err != nil {
			return err
		}

		for _, sg := range arch.Segments {
			if sg.GTIDLast == gtids[rows] {
				return nil
			}
		}

		return fmt.Errorf("no archived segment ends at %s", gtids[rows])
	}, "the archive holds GTID "+gtids[rows])
	stop()

	arch, err := s.loadArchive(ctx, r)
	if err != nil {
		t.Fatal(err)
	}

	// The segments record each domain's range: a segment holding row 1
	// (domain 1) starts in domain 0 or 1 and names both.
	mixed := false
	for _, sg := range arch.Segments {
		if _, ok := sg.Domain(0); ok {
			_, mixed = sg.Domain(1)
			mixed = mixed && sg.Domains != nil
		}
	}

	if !mixed {
		t.Fatalf("no archived segment records both domains: %+v", arch.Segments)
	}

	// Row 5 is domain 1's, row 8 domain 0's; both are in the middle of a
	// segment that starts and ends with the other domain's transactions.
	for _, k := range []int{5, 8} {
		g, err := binlog.ParseGTID(gtids[k])
		if err != nil {
			t.Fatal(err)
		}

		target := binlog.Target{GTID: &g}

		// Logical: into the server under another name.
		copyDB := fmt.Sprintf("md_at_%d", k)
		if _, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: copyDB}, Target: target}); err != nil {
			t.Fatalf("logical recovery to %s: %v", g, err)
		}

		checkRowsUpTo(t, m.DB(t, ""), copyDB, k, "logical recovery to "+g.String())

		// Physical: into a fresh data directory.
		dir := filepath.Join(t.TempDir(), "datadir")

		rep, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Datadir: dir}, Target: target})
		if err != nil {
			t.Fatalf("physical recovery to %s: %v", g, err)
		}

		if rep.Restore == nil || rep.Restore.Physical == "" {
			t.Fatalf("the recovery to %s into a data directory did not start from the physical full: %+v", g, rep.Restore)
		}

		srv := openRestored(t, dir)
		checkRowsUpTo(t, srv.DB(), "md", k, "physical recovery to "+g.String())
		srv.Stop(ctx) //nolint:errcheck // its data directory is a scratch copy
	}
}

// checkRowsUpTo checks that db.t holds rows 1 to k, each of its domain.
func checkRowsUpTo(t *testing.T, pool *sql.DB, db string, k int, what string) {
	t.Helper()

	var n, top, wrong int
	if err := pool.QueryRow(fmt.Sprintf("SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(domain <> id %% 2), 0) FROM %s.t", quoteIdent(db))).Scan(&n, &top, &wrong); err != nil {
		t.Fatalf("%s: %v", what, err)
	}

	if n != k || top != k || wrong != 0 {
		t.Errorf("%s: %d rows up to id %d (%d of the wrong domain), want rows 1 to %d", what, n, top, wrong, k)
	}
}
