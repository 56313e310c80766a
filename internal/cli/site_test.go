package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lifeboat/internal/plan"
	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// TestWholeSiteDrillAndPoint drills the Smart Library's whole-site plan (a
// private MariaDB, uploads, the git repository), checks the report's RTO and
// RPO, sees the RPO grow when the newest snapshot is deleted, and recovers
// every source to one recovery point.
func TestWholeSiteDrillAndPoint(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE sml_library;
		CREATE TABLE sml_library.users (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) UNIQUE);
		CREATE TABLE sml_library.bookings (id INT PRIMARY KEY AUTO_INCREMENT, user_id INT NOT NULL, room VARCHAR(10), cover VARCHAR(100));
		INSERT INTO sml_library.users (email) VALUES ('ada@example.org'), ('bob@example.org');
		INSERT INTO sml_library.bookings (user_id, room, cover) VALUES (1, 'A1', 'book-1.jpg');`)

	dir := t.TempDir()
	uploads := filepath.Join(dir, "uploads")
	write(t, filepath.Join(uploads, "book-1.jpg"), "cover one")

	app := filepath.Join(dir, "app")
	os.MkdirAll(app, 0o755)
	git(t, app, "init", "-q", "-b", "main")
	write(t, filepath.Join(app, "index.js"), "console.log('v1')\n")
	git(t, app, "add", "-A")
	git(t, app, "commit", "-qm", "v1")

	// The gate a resumed recovery waits on: down until ready is set.
	var ready atomic.Bool

	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(gate.Close)

	sources := "  database:\n    type: mysql\n    tier: critical\n    socket: " + db.Socket + "\n    user: root\n    databases: [sml_library]\n" +
		"  uploads:\n    type: files\n    tier: important\n    paths: [" + uploads + "]\n" +
		"  code:\n    type: git\n    tier: important\n    path: " + app + "\n"
	plans := `plans:
  database:
    steps:
      - restore: database
      - check: {sql: "SELECT COUNT(*) > 0 FROM users", source: database}
  files:
    steps:
      - restore: uploads
  application:
    steps:
      - restore: code
      - run: "test -f index.js"
        dir: ` + app + `
        drill: "test -f $LIFEBOAT_RESTORED_CODE/index.js"
  site:
    steps:
      - plan: database
      - plan: files
      - plan: application
      - check: {sql: "SELECT COUNT(*) = 0 FROM bookings b WHERE b.cover IS NULL", source: database}
  peek:
    steps:
      - restore: database
      - check: {sql: "SELECT COUNT(*) > 0 FROM sml_library.users", source: database}
  gated:
    steps:
      - restore: database
      - check: {url: "` + gate.URL + `/ready"}
        timeout: 1s
      - restore: code
`
	e := newEnv(t, sources)
	e.writeConfig(readFile(t, e.cfg) + plans)
	e.mustRun("init")

	// Round 1: every source at once is a recovery point.
	out := e.mustRun("backup")
	if !strings.Contains(out, "recovery point ") || strings.Index(out, "database:") > strings.Index(out, "uploads:") {
		t.Fatalf("backup of every source (database first) records a point:\n%s", out)
	}

	var pts []*plan.Point
	if err := json.Unmarshal([]byte(e.mustRun("points", "--json")), &pts); err != nil || len(pts) != 1 || len(pts[0].Snapshots) != 3 || !strings.Contains(pts[0].Details["database"], "binlog mysql-bin.") || !strings.Contains(pts[0].Details["code"], "HEAD refs/heads/main") {
		t.Fatalf("points: %v %+v", err, pts)
	}

	p1 := pts[0]

	// Round 2, two seconds later: a new booking with its upload, a new commit.
	time.Sleep(2 * time.Second) // two recovery points seconds apart on the wall clock binlog and snapshots are stamped with; not a wait
	db.Exec(t, "INSERT INTO sml_library.bookings (user_id, room, cover) VALUES (2, 'B2', 'book-2.jpg')")
	write(t, filepath.Join(uploads, "book-2.jpg"), "cover two")
	write(t, filepath.Join(app, "index.js"), "console.log('v2')\n")
	git(t, app, "commit", "-qam", "v2")
	e.mustRun("backup")

	// The whole-site drill, critical first, touches nothing live.
	out = e.mustRun("drill", "site")
	if !strings.Contains(out, "PASSED") || !strings.Contains(out, "[1/6] restore database") || !strings.Contains(out, "[4/6] restore code") {
		t.Fatalf("drill site:\n%s", out)
	}

	first := lastDrill(t, e)
	if first.Tier != "critical" || first.RTOObjective != 4*3600 || first.RPOObjective != 3600 || first.RPOSeconds <= 0 || first.RTOSeconds <= 0 {
		t.Fatalf("drill report: tier %s RTO %v/%v RPO %v/%v", first.Tier, first.RTOSeconds, first.RTOObjective, first.RPOSeconds, first.RPOObjective)
	}

	md := e.mustRun("drill", "--show", first.ID)
	if !strings.Contains(md, "**RTO measured:") || !strings.Contains(md, "**RPO:") || !strings.Contains(md, "scratch database lifeboat_drill_") {
		t.Fatalf("report:\n%s", md)
	}

	var scratch int
	db.DB(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'lifeboat_drill_%'").Scan(&scratch)

	if scratch != 0 {
		t.Fatal("the drill left its scratch database")
	}

	// A drill's SQL check sees only the copy: one naming the production
	// database fails, saying so, instead of checking production.
	peek := e.expectFailure(1, []string{"assertions can see only the restored copy"}, "drill", "peek")
	if !strings.Contains(peek.out+peek.err, "FAILED") {
		t.Fatalf("drill peek:\n%s%s", peek.out, peek.err)
	}

	// Delete the newest uploads snapshot: the next drill restores older data.
	ctx := context.Background()

	r, err := repo.Open(ctx, filepath.Join(e.dir, "repo"), repo.Password{Value: testPassword}, nil)
	if err != nil {
		t.Fatal(err)
	}

	snaps, _ := r.Snapshots(ctx, "uploads")
	if err := r.DeleteSnapshot(ctx, snaps[len(snaps)-1].ID); err != nil {
		t.Fatal(err)
	}

	r.Close(ctx)

	e.mustRun("drill", "site")

	second := lastDrill(t, e)
	if second.ID == first.ID || second.RPOSeconds < first.RPOSeconds+1.5 {
		t.Fatalf("after deleting the newest snapshot the RPO should grow by the 2 s between rounds: first %.2fs, second %.2fs", first.RPOSeconds, second.RPOSeconds)
	}

	// Recover every source to the first point: rows, uploads and code match it.
	out = e.mustRun("recover", "site", "--point", p1.ID)
	if !strings.Contains(out, "PASSED") {
		t.Fatalf("recover --point:\n%s", out)
	}

	var bookings int
	db.DB(t, "").QueryRow("SELECT COUNT(*) FROM sml_library.bookings").Scan(&bookings)

	if bookings != 1 {
		t.Fatalf("bookings after recovering to the point: %d, want 1", bookings)
	}

	if _, err := os.Stat(filepath.Join(uploads, "book-2.jpg")); err == nil {
		t.Fatal("uploads still hold a file from after the point")
	}

	if got := readFile(t, filepath.Join(app, "index.js")); got != "console.log('v1')\n" {
		t.Fatalf("code after recovering to the point: %q", got)
	}

	e.expectFailure(2, []string{`no recovery point "nosuch"`, "lifeboat points"}, "recover", "site", "--point", "nosuch")

	// A recovery to the first point stops at a check; --resume finishes it
	// at that same point: the code comes back as v1, not the newest v2.
	db.Exec(t, "INSERT INTO sml_library.bookings (user_id, room, cover) VALUES (2, 'C3', 'book-3.jpg')")
	write(t, filepath.Join(app, "index.js"), "console.log('v3')\n")
	git(t, app, "commit", "-qam", "v3")

	e.expectFailure(1, []string{"recovery plan failed: step 2 (check " + gate.URL + "/ready)", "--resume"}, "recover", "gated", "--point", p1.ID)

	db.DB(t, "").QueryRow("SELECT COUNT(*) FROM sml_library.bookings").Scan(&bookings)

	if bookings != 1 {
		t.Fatalf("bookings after the stopped recovery: %d, want the point's 1", bookings)
	}

	if got := readFile(t, filepath.Join(app, "index.js")); got != "console.log('v3')\n" {
		t.Fatalf("the code was restored before the check passed: %q", got)
	}

	ready.Store(true)

	out = e.mustRun("recover", "gated", "--resume")
	if !strings.Contains(out, "PASSED") || strings.Contains(out, "restore database") {
		t.Fatalf("resume:\n%s", out)
	}

	if got := readFile(t, filepath.Join(app, "index.js")); got != "console.log('v1')\n" {
		t.Fatalf("code after resuming the recovery to the point: %q, want v1", got)
	}
}

func lastDrill(t *testing.T, e *env) *plan.Run {
	t.Helper()

	var run plan.Run
	if err := json.Unmarshal([]byte(e.mustRun("drill", "--show", "latest", "--format", "json")), &run); err != nil {
		t.Fatal(err)
	}

	return &run
}
