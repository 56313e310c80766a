package dashboard_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"lifeboat/internal/access"
	"lifeboat/internal/ops"
	"lifeboat/internal/testenv"
)

const developerPassword = "developer-password-1"

// The shop's personal values: none may reach a masked copy.
var shopPersonal = []string{"ada@example.org", "bob@example.org", "+44 20 7946 0958", "+44 20 7946 0959", "likes tea on Tuesdays"}

// TestMaskedCopiesInTheDashboard: the restore form offers "Masked copy"
// only for a source with masking rules; an admin restores one through it
// into a scratch database, which holds the rows but no personal value,
// while the source is untouched; a developer downloads a masked export from
// the overview, and sees no restore; the overview says db's restore test
// (verify.masked) restored a masked copy.
func TestMaskedCopiesInTheDashboard(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop;
		CREATE TABLE shop.customers (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) NOT NULL UNIQUE, phone VARCHAR(30), note TEXT, visits INT);
		INSERT INTO shop.customers (email, phone, note, visits) VALUES
			('ada@example.org', '+44 20 7946 0958', 'likes tea on Tuesdays', 3),
			('bob@example.org', '+44 20 7946 0959', NULL, 5);`)
	t.Setenv("LB_DASH_MASK_KEY", "dashboard-test-masking-key-0123456789")

	conn := "    type: mysql\n    socket: " + db.Socket + "\n    user: root\n    databases: [shop]\n"
	s := newSiteWith(t, "  db:\n"+conn+"    masking:\n      key_env: LB_DASH_MASK_KEY\n      mode: strict\n      rules:\n"+
		"        shop.customers.email: email\n        shop.customers.phone: phone\n        shop.customers.note: text\n"+
		"    verify: {masked: true}\n"+
		"  plain:\n"+conn, false)

	for _, name := range []string{"db", "plain"} {
		if _, err := s.exec.Backup(context.Background(), ops.Backup{Source: name, Type: "full"}, nil); err != nil {
			t.Fatalf("backup %s: %v", name, err)
		}
	}

	if _, err := s.exec.RestoreTest(context.Background(), ops.RestoreTest{Source: "db"}, nil); err != nil {
		t.Fatalf("the masked restore test of db: %v", err)
	}

	sqlDB := db.DB(t, "")
	before := customersChecksum(t, sqlDB, "shop")

	b := newBrowser(t, s.url)
	s.loginAs(t, b, "admin", adminPassword, s.code(t, 0))

	b.open("/restore?source=plain")

	if hidden := b.text(`String(document.getElementById("r-mask-row").hidden)`); hidden != "true" {
		t.Fatal("the restore form offers a masked copy of a source without masking rules")
	}

	b.open("/restore?source=db")
	b.do("plan a masked restore", chromedp.SetValue(chromedp.CSS("#r-database"), "shop_dev"), chromedp.Click(chromedp.CSS("#r-masked")),
		chromedp.Click(chromedp.CSS("#r-plan")))

	if plan := b.text(`document.getElementById("r-plan-list").textContent`); !strings.Contains(plan, "scratch database shop_dev") || !strings.Contains(plan, "masking rules (strict mode)") {
		t.Fatalf("the plan says %q; the page: %q", plan, b.text(`document.getElementById("error").textContent`))
	}

	b.shot("restore-masked-plan")
	b.do("run the masked restore", chromedp.Click(chromedp.CSS("#r-run")))
	b.wait(`document.getElementById("r-state")`, "the masked restore's result")

	if st := b.text(`document.getElementById("r-state").textContent`); st != "Restore succeeded" {
		t.Fatalf("the wizard says %q", st)
	}

	b.shot("restore-masked-result")

	var rows, visits int
	if err := sqlDB.QueryRow("SELECT COUNT(*), SUM(visits) FROM shop_dev.customers").Scan(&rows, &visits); err != nil || rows != 2 || visits != 8 {
		t.Fatalf("the masked copy holds %d rows, %d visits (%v); want 2 and 8", rows, visits, err)
	}

	for _, dbName := range []string{"shop_dev", "shop"} {
		var n int
		if err := sqlDB.QueryRow("SELECT COUNT(*) FROM `"+dbName+"`.customers WHERE email IN (?, ?) OR phone IN (?, ?) OR note = ?",
			shopPersonal[0], shopPersonal[1], shopPersonal[2], shopPersonal[3], shopPersonal[4]).Scan(&n); err != nil {
			t.Fatal(err)
		}

		if want := map[string]int{"shop_dev": 0, "shop": 2}[dbName]; n != want {
			t.Fatalf("%s holds %d rows with a personal value, want %d", dbName, n, want)
		}
	}

	if customersChecksum(t, sqlDB, "shop") != before {
		t.Fatal("the masked restore changed the source's database")
	}

	s.developerExport(t)
}

// developerExport: a developer sees a masked export on the overview for
// the source with masking rules only, no restore, and downloads one that
// holds the rows without a personal value.
func (s *site) developerExport(t *testing.T) {
	t.Helper()

	store, ok := s.srv.Authority.(*access.Store)
	if !ok {
		t.Fatalf("the site's authority is a %T", s.srv.Authority)
	}

	if err := store.AddUser(context.Background(), "test", "dev", access.Developer, developerPassword); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, s.url)
	s.loginAs(t, b, "dev", developerPassword, "")

	var controls []string
	b.eval(`[...document.querySelectorAll("[data-action]")].map((e) => e.closest("tr").dataset.source + " " + e.dataset.action)`, &controls)

	if strings.Join(controls, ",") != "db masked-export" {
		t.Fatalf("a developer's overview offers %q, want only db's masked export", controls)
	}

	if cell := b.text(`document.querySelector('tr[data-source="db"] .c-test').textContent`); !strings.HasPrefix(cell, "ok ") || !strings.HasSuffix(cell, " (masked copy)") {
		t.Fatalf("the overview's restore test of db says %q, want ok ... (masked copy)", cell)
	}

	dir := t.TempDir()
	b.do("allow downloads", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	}))
	b.do("download the masked export", chromedp.Click(chromedp.CSS(`tr[data-source="db"] [data-action="masked-export"]`)))
	b.wait(`document.querySelector('[data-action="masked-export"]').dataset.done`, "the masked export downloaded")

	file := filepath.Join(dir, b.text(`document.querySelector('[data-action="masked-export"]').dataset.done`))

	var dump []byte

	testenv.EventuallyNoError(t, 20*time.Second, func() error {
		raw, err := os.ReadFile(file)
		if err != nil {
			return err
		}

		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return err
		}

		dump, err = io.ReadAll(zr)

		return err
	}, "the downloaded masked export in "+dir)

	if !strings.Contains(string(dump), "INSERT INTO `customers`") {
		t.Fatalf("the masked export holds no customers' rows:\n%.600s", dump)
	}

	for _, v := range shopPersonal {
		if strings.Contains(string(dump), v) {
			t.Fatalf("the masked export holds %q", v)
		}
	}

	b.shot("overview-developer")
}

func customersChecksum(t *testing.T, conn *sql.DB, dbName string) string {
	t.Helper()

	var tbl, sum string
	if err := conn.QueryRow("CHECKSUM TABLE `"+dbName+"`.customers").Scan(&tbl, &sum); err != nil {
		t.Fatal(err)
	}

	return sum
}
