package dashboard_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lifeboat/internal/api"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// TestDatabaseTimelineGapAndPointInTime: a private MariaDB source whose
// binlog was purged before it was archived has a gap; the timeline draws
// it red and refuses an instant inside it, on the timeline and in the
// wizard; an instant after it is restored through the wizard into a
// scratch database, which then holds the rows of that instant.
func TestDatabaseTimelineGapAndPointInTime(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20))`)

	s := newSiteWith(t, "  db:\n    type: mysql\n    tier: critical\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n"+
		"    binlog: {server_id: 778, segment_seconds: 1}\n", false)
	ctx := context.Background()

	backup := func(typ string) {
		t.Helper()

		if _, err := s.exec.Backup(ctx, ops.Backup{Source: "db", Type: typ}, nil); err != nil {
			t.Fatalf("%s backup of db: %v", typ, err)
		}
	}

	// tick waits until the wall clock is past t by more than a second, the
	// binlog's resolution, so what comes next is after t in the binlog.
	tick := func(at time.Time) {
		t.Helper()
		testenv.Eventually(t, 5*time.Second, func() bool { return time.Since(at) > 1100*time.Millisecond }, "a second past "+at.String())
	}

	backup("full")
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('before-gap')")
	backup("incremental")

	// The binlog written now is purged before an incremental archives it.
	db.Exec(t, "FLUSH BINARY LOGS")
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('lost')")
	tick(time.Now())
	db.Exec(t, "FLUSH BINARY LOGS")
	db.Exec(t, "PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 DAY")
	tick(time.Now())
	backup("incremental")
	tick(time.Now())

	// The binlog counts an event's second as its end: the instant is a
	// second past after-gap-1's, and after-gap-2 comes after it.
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('after-gap-1')")
	tick(time.Now())

	instant := time.Now()

	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('after-gap-2')")
	backup("incremental")

	var arch api.BinlogArchive
	s.get(t, "/api/v1/sources/db/binlog", &arch)

	if len(arch.Gaps) != 1 {
		t.Fatalf("the archive has %d gaps, want the one made: %+v", len(arch.Gaps), arch)
	}

	b := newBrowser(t, s.url)
	s.loginAs(t, b, "admin", adminPassword, s.code(t, 0))

	b.open("/timeline?source=db")

	var fill string
	b.eval(`getComputedStyle(document.querySelector("svg.tl rect.gap")).fill`, &fill)

	if fill != "rgb(207, 34, 46)" {
		t.Fatalf("the gap is drawn in %s, want red", fill)
	}

	b.shot("timeline-database")

	// A click on the gap is refused on the page: the wizard does not open.
	b.text(`(() => { const g = document.querySelector("svg.tl rect.gap"), r = g.getBoundingClientRect();
		g.dispatchEvent(new MouseEvent("click", {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true})); return "" })()`)

	if msg := b.text(`document.getElementById("tl-pick").textContent`); !strings.Contains(msg, "cannot be chosen: it is inside a gap of the binlog archive") {
		t.Fatalf("a click in the gap says %q", msg)
	}

	if loc := b.location(); loc != "/timeline?source=db" {
		t.Fatalf("a click in the gap went to %s", loc)
	}

	s.restoreInstant(t, b, db, arch, instant)
	s.compareTables(t, b, backup)
}

// compareTables takes a second full backup (shop.orders has four rows
// now, none at the first) and compares the two in the snapshot browser:
// the table shows with its row counts and checksums.
func (s *site) compareTables(t *testing.T, b *browser, backup func(string)) {
	backup("full")

	var snaps []*repo.Snapshot
	s.get(t, "/api/v1/snapshots?source=db", &snaps)

	var fulls []*repo.Snapshot

	for _, sn := range snaps {
		if sn.Type == "full" && sn.Role == repo.RoleBackup {
			fulls = append(fulls, sn)
		}
	}

	if len(fulls) < 2 {
		t.Fatalf("the database has %d full backups, want 2 or more", len(fulls))
	}

	// The first (no rows yet) against the newest.
	slices.SortFunc(fulls, func(a, b *repo.Snapshot) int { return a.Time.Compare(b.Time) })
	first, second := fulls[0], fulls[len(fulls)-1]

	b.open("/browse?source=db&snapshot=" + second.ID)
	b.do("compare with the first full", chromedp.SetValue(chromedp.CSS("#b-other"), first.ID), chromedp.Click(chromedp.CSS("#b-compare")))
	b.wait(`document.getElementById("cmp-summary").textContent !== ""`, "the comparison")

	var rows []string
	b.eval(`[...document.querySelectorAll("#cmp-table tbody tr")].map((r) => [...r.cells].map((c) => c.textContent).join(" | "))`, &rows)

	if len(rows) == 0 || !strings.HasPrefix(rows[0], "rows differ | shop.orders | 0 rows, checksum ") || !strings.Contains(rows[0], " | 4 rows, checksum ") {
		t.Fatalf("the comparison of the two fulls: %q", rows)
	}

	if sum := b.text(`document.getElementById("cmp-summary").textContent`); !strings.Contains(sum, "1 table(s) whose rows differ") {
		t.Fatalf("the comparison's summary: %q", sum)
	}

	b.shot("browse-compare-database")
}

// restoreInstant types an instant in the gap (refused), then one after
// it, and restores that into a scratch database.
func (s *site) restoreInstant(t *testing.T, b *browser, db *testenv.MariaDB, arch api.BinlogArchive, instant time.Time) {
	b.open("/restore?source=db")

	inGap := arch.Gaps[0].From.Add(arch.Gaps[0].At.Sub(arch.Gaps[0].From) / 2).UTC().Format(time.RFC3339)
	b.do("an instant in the gap", chromedp.SetValue(chromedp.CSS("#r-time"), inGap), chromedp.SetValue(chromedp.CSS("#r-database"), "shop_copy"),
		chromedp.Click(chromedp.CSS("#r-plan")))

	if msg := b.text(`document.getElementById("error").textContent`); !strings.Contains(msg, "inside a gap") {
		t.Fatalf("an instant in the gap shows %q", msg)
	}

	at := instant.UTC().Format("2006-01-02T15:04:05.000Z")
	b.do("plan the instant", chromedp.SetValue(chromedp.CSS("#r-time"), at), chromedp.Click(chromedp.CSS("#r-plan")))

	if plan := b.text(`document.getElementById("r-plan-list").textContent`); !strings.Contains(plan, "scratch database shop_copy") || !strings.Contains(plan, "binlog archive") {
		t.Fatalf("the plan says %q; the page: %q; the archive: %+v", plan, b.text(`document.getElementById("error").textContent`), arch)
	}

	b.shot("restore-database-plan")
	b.do("run the restore", chromedp.Click(chromedp.CSS("#r-run")))
	b.wait(`document.getElementById("r-state")`, "the database restore's result")

	if st := b.text(`document.getElementById("r-state").textContent`); st != "Restore succeeded" {
		t.Fatalf("the wizard says %q", st)
	}

	b.shot("restore-database-result")

	rows, err := db.DB(t, "shop_copy").Query("SELECT item FROM orders ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()

	var items []string

	for rows.Next() {
		var it string
		if err := rows.Scan(&it); err != nil {
			t.Fatal(err)
		}

		items = append(items, it)
	}

	if got := strings.Join(items, ","); got != "before-gap,lost,after-gap-1" {
		t.Fatalf("shop_copy at %s holds %s, want before-gap,lost,after-gap-1", at, got)
	}
}

// loginAs logs in on the login page.
func (s *site) loginAs(t *testing.T, b *browser, user, password, code string) {
	t.Helper()

	b.open("/login")

	if s.provider == nil && b.text(`String(document.querySelectorAll("#sso-login").length)`) != "0" {
		t.Fatal("the login page offers single sign-on on a server without it")
	}

	b.do("log in as "+user, chromedp.SendKeys(chromedp.CSS("#user"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.SendKeys(chromedp.CSS("#totp"), code), chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait(`location.pathname === "/"`, fmt.Sprintf("the overview after %s's login", user))
	b.ready("overview")
}
