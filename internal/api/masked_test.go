package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
	"lifeboat/internal/testenv"
)

const apiMaskKey = "api-test-masking-key-0123456789"

// The shop's personal values: none may reach a masked copy.
var shopOriginals = []string{"ada@example.org", "bob@example.org", "+44 20 7946 0958", "+44 20 7946 0959", "likes tea on Tuesdays"}

// maskedSources are four sources on one database: db masks every personal
// column in strict mode, partial lacks the phone's rule (strict refuses),
// loose is partial in permissive mode, plain has no masking rules.
func maskedSources(socket string) string {
	conn := "    type: mysql\n    socket: " + socket + "\n    user: root\n    databases: [shop]\n"
	rules := func(mode string, phone bool) string {
		r := "    masking:\n      key_env: LB_API_MASK_KEY\n      mode: " + mode + "\n      rules:\n" +
			"        shop.customers.email: email\n        shop.customers.note: text\n"
		if phone {
			r += "        shop.customers.phone: phone\n"
		}

		return r
	}

	return "  db:\n" + conn + rules("strict", true) + "  partial:\n" + conn + rules("strict", false) +
		"  loose:\n" + conn + rules("permissive", false) + "  plain:\n" + conn
}

// newMaskedFixture is the API over real HTTPS with the real executor (as
// newFixture), its sources the database ones of maskedSources on db.
func newMaskedFixture(t *testing.T, db *testenv.MariaDB) *fixture {
	t.Helper()

	ctx := context.Background()
	t.Setenv("LIFEBOAT_LOCK_DIR", t.TempDir())

	dir := t.TempDir()
	f := &fixture{dir: dir, cfgFile: filepath.Join(dir, "lifeboat.yaml")}
	writeFile(t, f.cfgFile, fmt.Sprintf("repository:\n  path: %s\naudit:\n  path: %s\nsources:\n%sserver:\n  listen: 127.0.0.1:0\n",
		filepath.Join(dir, "repo"), filepath.Join(dir, "state", "audit.jsonl"), maskedSources(db.Socket)))

	cfg, err := config.Load(f.cfgFile)
	if err != nil {
		t.Fatal(err)
	}

	pw := repo.Password{Value: testPassword, Origin: "test"}
	if err := repo.Create(ctx, cfg.Repository.Path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, cfg.Repository.Path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(ctx) })

	key, err := r.AuditKey()
	if err != nil {
		t.Fatal(err)
	}

	getenv := func(n string) string {
		if n == "LB_API_MASK_KEY" {
			return apiMaskKey
		}

		return ""
	}

	srcs := map[string]source.Source{}
	for _, name := range cfg.SourceNames {
		var ok bool
		if srcs[name], ok = sources.New(cfg.Sources[name], getenv); !ok {
			t.Fatalf("source %s: no implementation", name)
		}
	}

	log := &audit.Log{Path: cfg.Audit.Path, Key: key}

	tr, err := NewTransport(cfg, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}

	f.cfg, f.repo = cfg, r
	f.srv = &Server{
		Cfg: cfg, Repo: r, Sources: srcs, Audit: log, Authority: users(t, r, log), Transport: tr, Clock: clock.Real{},
		Exec: &ops.Executor{Cfg: cfg, Repo: r, Sources: srcs, Audit: log, Version: "test", Who: "lifeboat daemon", Clock: clock.Real{}},
	}

	f.serve(t, tr)
	t.Cleanup(func() { f.endJobs(t) })

	return f
}

// shopLeaks counts the rows of database name holding a personal value of
// the shop.
func shopLeaks(t *testing.T, conn *sql.DB, name string) int {
	t.Helper()

	var n int

	q := "SELECT COUNT(*) FROM `" + name + "`.customers WHERE email IN (?, ?) OR phone IN (?, ?) OR note = ?"
	if err := conn.QueryRow(q, shopOriginals[0], shopOriginals[1], shopOriginals[2], shopOriginals[3], shopOriginals[4]).Scan(&n); err != nil {
		t.Fatalf("scan %s: %v", name, err)
	}

	return n
}

func shopChecksum(t *testing.T, conn *sql.DB) string {
	t.Helper()

	var tbl, sum string
	if err := conn.QueryRow("CHECKSUM TABLE shop.customers").Scan(&tbl, &sum); err != nil {
		t.Fatal(err)
	}

	return sum
}

func databaseExists(t *testing.T, conn *sql.DB, name string) bool {
	t.Helper()

	var n int
	if err := conn.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}

	return n == 1
}

// TestMaskedRestoreAndExportThroughAPI: against a private MariaDB, a masked
// restore and a masked export through the API hold no personal value and
// leave the source as it was; an unmasked restore or export, a role
// without the permission, a source without rules and strict mode are each
// refused with their message, and nothing is written.
func TestMaskedRestoreAndExportThroughAPI(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop;
		CREATE TABLE shop.customers (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) NOT NULL UNIQUE, phone VARCHAR(30), note TEXT, visits INT);
		INSERT INTO shop.customers (email, phone, note, visits) VALUES
			('ada@example.org', '+44 20 7946 0958', 'likes tea on Tuesdays', 3),
			('bob@example.org', '+44 20 7946 0959', NULL, 5);`)

	conn := db.DB(t, "")
	f := newMaskedFixture(t, db)

	for _, name := range []string{"db", "partial", "loose", "plain"} {
		if _, end := f.follow(t, f.start(t, access.Operator, "/api/v1/sources/"+name+"/backup", "").ID, access.Operator); end.State != JobSucceeded {
			t.Fatalf("backup %s: %+v", name, end)
		}
	}

	before := shopChecksum(t, conn)

	// The masked restore: counts kept, no personal value, the source as it was.
	j := f.start(t, access.Operator, "/api/v1/restore", `{"source": "db", "database": "shop_dev", "masked": true}`)
	if _, end := f.follow(t, j.ID, access.Operator); end.State != JobSucceeded {
		t.Fatalf("masked restore: %+v", end)
	}

	var rows, visits int
	if err := conn.QueryRow("SELECT COUNT(*), SUM(visits) FROM shop_dev.customers").Scan(&rows, &visits); err != nil || rows != 2 || visits != 8 {
		t.Fatalf("the masked copy holds %d rows, %d visits (%v); want 2 and 8", rows, visits, err)
	}

	if n := shopLeaks(t, conn, "shop_dev"); n != 0 {
		t.Fatalf("the masked restore holds %d rows with a personal value", n)
	}

	if shopChecksum(t, conn) != before || shopLeaks(t, conn, "shop") != 2 {
		t.Fatal("the masked restore changed the source's database")
	}

	refusedRestores(t, f, conn)
	maskedExports(t, f, db)

	if shopChecksum(t, conn) != before {
		t.Fatal("the source's database changed")
	}
}

// refusedRestores: each refused masked restore answers its message and
// writes no database.
func refusedRestores(t *testing.T, f *fixture, conn *sql.DB) {
	t.Helper()

	for _, c := range []struct {
		role   access.Role
		body   string
		status int
		want   []string
	}{
		{access.Viewer, `{"source": "db", "database": "shop_v", "masked": true}`, http.StatusForbidden, []string{"does not grant restore-scratch"}},
		{access.Developer, `{"source": "db", "database": "shop_v", "masked": true}`, http.StatusForbidden, []string{"does not grant restore-scratch"}},
		{access.Operator, `{"source": "plain", "database": "shop_v", "masked": true}`, http.StatusBadRequest, []string{"source plain has no masking rules", "lifeboat mask scan plain"}},
		{access.Operator, `{"source": "partial", "database": "shop_v", "masked": true}`, http.StatusBadRequest, []string{"strict masking refuses this masked copy, and nothing was written", "shop.customers.phone"}},
		{access.Operator, `{"source": "partial", "database": "shop_v", "masked": true, "to_time": "2030-01-01T00:00:00Z"}`, http.StatusBadRequest, []string{"strict masking refuses", "shop.customers.phone"}},
	} {
		code, out := f.call(t, "POST", "/api/v1/restore", c.body, bearer(c.role)...)
		if code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.role, c.body, code, out, c.status)
		}

		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s %s: %s lacks %q", c.role, c.body, out, w)
			}
		}

		if databaseExists(t, conn, "shop_v") {
			t.Fatalf("%s %s: refused, yet database shop_v was written", c.role, c.body)
		}
	}
}

// export asks for an export as role; it returns the status and the body
// (the file, gunzipped, when 200).
func (f *fixture) export(t *testing.T, role access.Role, name, body string) (int, string) {
	t.Helper()

	resp := f.do(t, "POST", "/api/v1/sources/"+name+"/export", body, bearer(role)...)
	defer resp.Body.Close()

	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}

	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(b)
	}

	if ct := resp.Header.Get("Content-Type"); ct != "application/gzip" || !strings.Contains(resp.Header.Get("Content-Disposition"), name+"-") {
		t.Fatalf("export %s: %s, %s", name, ct, resp.Header.Get("Content-Disposition"))
	}

	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("export %s is not gzip: %v", name, err)
	}

	sqlText, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}

	return resp.StatusCode, string(sqlText)
}

// maskedExports: a developer's masked export loads in the stock client
// without a personal value; an unmasked one, or one from a permissive
// source, is the operator's (download-data); refusals write nothing and
// are audited.
func maskedExports(t *testing.T, f *fixture, db *testenv.MariaDB) {
	t.Helper()

	code, dump := f.export(t, access.Developer, "db", `{"masked": true}`)
	if code != http.StatusOK {
		t.Fatalf("a developer's masked export: %d %s", code, dump)
	}

	for _, orig := range shopOriginals {
		if strings.Contains(dump, orig) {
			t.Fatalf("the masked export holds %q", orig)
		}
	}

	db.Exec(t, "CREATE DATABASE shop_export")

	cmd := exec.Command("mariadb", append(db.ClientArgs(), "shop_export")...)
	cmd.Stdin = strings.NewReader(dump)

	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the masked export does not load in the stock client: %v %s", err, out)
	}

	conn := db.DB(t, "")

	var rows int
	if err := conn.QueryRow("SELECT COUNT(*) FROM shop_export.customers").Scan(&rows); err != nil || rows != 2 || shopLeaks(t, conn, "shop_export") != 0 {
		t.Fatalf("the loaded masked export: %d rows (%v)", rows, err)
	}

	for _, c := range []struct {
		role   access.Role
		source string
		body   string
		status int
		want   string
	}{
		{access.Developer, "db", `{}`, http.StatusForbidden, "an unmasked export of db: token ci-developer has role developer, which does not grant download-data"},
		{access.Developer, "loose", `{"masked": true}`, http.StatusForbidden, "permissive masking mode"},
		{access.Viewer, "db", `{"masked": true}`, http.StatusForbidden, "does not grant masked-copy"},
		{access.Developer, "plain", `{"masked": true}`, http.StatusBadRequest, "source plain has no masking rules"},
		{access.Operator, "plain", `{"masked": true}`, http.StatusBadRequest, "source plain has no masking rules"},
		{access.Developer, "partial", `{"masked": true}`, http.StatusBadRequest, "strict masking refuses this masked copy, and nothing was written: these columns look like personal data and have no masking rule: shop.customers.phone"},
	} {
		if code, out := f.export(t, c.role, c.source, c.body); code != c.status || !strings.Contains(out, c.want) {
			t.Errorf("%s exporting %s %s: %d %s, want %d and %q", c.role, c.source, c.body, code, out, c.status, c.want)
		}
	}

	// An operator may take the unmasked export, which does hold the data.
	if code, dump := f.export(t, access.Operator, "db", ""); code != http.StatusOK || !strings.Contains(dump, "ada@example.org") {
		t.Fatalf("an operator's unmasked export: %d, holds the original email: %v", code, strings.Contains(dump, "ada@example.org"))
	}

	var okDev, refusedDev bool

	for _, r := range f.records(t) {
		if r.Action != "export" {
			continue
		}

		okDev = okDev || r.Actor == "token:ci-developer (api)" && r.Outcome == audit.OK && strings.Contains(r.Detail, `"masked":true`)
		refusedDev = refusedDev || r.Actor == "token:ci-developer (api)" && r.Outcome == audit.Refused && strings.Contains(r.Detail, "unmasked export")
	}

	if !okDev || !refusedDev {
		t.Errorf("the audit trail lacks the developer's masked export (%v) or refused unmasked one (%v)", okDev, refusedDev)
	}
}

// TestMaskedIsForDatabaseSources: a masked restore or an export of a files
// source is refused with 400, and nothing is restored.
func TestMaskedIsForDatabaseSources(t *testing.T) {
	f := newFixture(t)
	target := filepath.Join(f.dir, "masked-files")

	code, out := f.call(t, "POST", "/api/v1/restore", `{"source": "data", "target": "`+target+`", "masked": true}`, bearer(access.Operator)...)
	if code != http.StatusBadRequest || !strings.Contains(out, "masked are for database sources; data is a files source") {
		t.Fatalf("a masked restore of a files source: %d %s", code, out)
	}

	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("the refused restore wrote %s (%v)", target, err)
	}

	if code, out := f.export(t, access.Operator, "data", `{"masked": true}`); code != http.StatusBadRequest || !strings.Contains(out, "export writes database snapshots; data is a files source") {
		t.Fatalf("an export of a files source: %d %s", code, out)
	}
}
