package mysql

import (
	"encoding/json"
	"fmt"
	"maps"

	"compress/gzip"
	"context"
	"database/sql"
	"encoding/hex"
	"lifeboat/internal/binlog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/examples/sml-library/smlgen"
	"lifeboat/internal/config"
	"lifeboat/internal/mask"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

const testMaskKey = "masking-key-for-tests-0123456789"

// sakilaRules mask the people of Sakila: customers, staff, actors and
// addresses.
func sakilaRules() map[string]mask.Spec {
	r := map[string]mask.Spec{}
	for col, kind := range map[string]string{
		"customer.first_name": "first_name", "customer.last_name": "last_name", "customer.email": "email",
		"staff.first_name": "first_name", "staff.last_name": "last_name", "staff.email": "email", "staff.username": "name",
		"staff.password": "hash", "staff.picture": "null",
		"actor.first_name": "first_name", "actor.last_name": "last_name",
		"address.address": "address", "address.address2": "address", "address.phone": "phone", "address.postal_code": "hash",
		"category.name": "keep", "language.name": "keep", "address.district": "keep",
	} {
		r["sakila."+col] = mask.Spec{Kind: kind}
	}

	return r
}

func maskedSource(key string, rules map[string]mask.Spec, dbs ...string) *Source {
	s := newSource(dbs...)
	s.cfg.MySQL.Masking = &config.Masking{KeyEnv: "LB_TEST_MASK_KEY", Mode: config.MaskStrict, Rules: rules}
	s.getenv = func(n string) string {
		if n == "LB_TEST_MASK_KEY" {
			return key
		}

		return ""
	}

	return s
}

// maskedOriginals are the distinct values of the masked columns in db.
func maskedOriginals(t *testing.T, db *sql.DB, rules map[string]mask.Spec) map[string]string {
	t.Helper()

	out := map[string]string{}

	for col, spec := range rules {
		if spec.Kind == "keep" {
			continue
		}

		p := strings.Split(col, ".")

		rows, err := db.Query("SELECT DISTINCT `" + p[2] + "` FROM `" + p[0] + "`.`" + p[1] + "` WHERE `" + p[2] + "` IS NOT NULL")
		if err != nil {
			t.Fatal(err)
		}

		for rows.Next() {
			var v sql.RawBytes
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}

			if len(v) > 3 {
				out[string(v)] = col
			}
		}

		rows.Close()
	}

	return out
}

// dropUnmasked removes from originals the values that also stand in
// columns of db that are not masked (an id equal to a postal code is no
// leak).
func dropUnmasked(t *testing.T, db *sql.DB, name string, rules map[string]mask.Spec, originals map[string]string) {
	t.Helper()

	for _, cell := range leaked(t, db, name, originals) {
		col, _, _ := strings.Cut(cell, " holds ")
		if spec, ok := rules[name+"."+col]; !ok || spec.Kind == "keep" {
			v := cell[strings.LastIndex(cell, "original ")+len("original "):]
			delete(originals, v)
		}
	}
}

// leaked scans every cell of every table of db and returns the original
// values found, by the column they came from.
func leaked(t *testing.T, db *sql.DB, name string, originals map[string]string) []string {
	t.Helper()

	tables, err := strings1(context.Background(), db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", name)
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables of %s: %v %v", name, tables, err)
	}

	var found []string

	for _, tbl := range tables {
		rows, err := db.Query("SELECT * FROM `" + name + "`.`" + tbl + "`")
		if err != nil {
			t.Fatal(err)
		}

		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))

		for i := range vals {
			ptrs[i] = &vals[i]
		}

		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}

			for i, v := range vals {
				if from, ok := originals[string(v)]; ok && v != nil {
					found = append(found, tbl+"."+cols[i]+" holds "+from+"'s original "+string(v))
				}
			}
		}

		rows.Close()
	}

	return found
}

// tableChecksums are CHECKSUM TABLE of every base table of db.
func tableChecksums(t *testing.T, db *sql.DB, name string) map[string]string {
	t.Helper()

	tables, err := strings1(context.Background(), db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", name)
	if err != nil {
		t.Fatal(err)
	}

	out := map[string]string{}

	for _, tbl := range tables {
		var n, sum sql.NullString
		if err := db.QueryRow("CHECKSUM TABLE `"+name+"`.`"+tbl+"`").Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}

		out[tbl] = sum.String
	}

	return out
}

// shape is what a masked copy keeps of its database: row counts, keys,
// foreign keys, views, triggers and routines.
func shape(t *testing.T, db *sql.DB, name string) map[string]string {
	t.Helper()

	out := map[string]string{}
	one := func(k, q string, args ...any) {
		var v string
		if err := db.QueryRow(q, args...).Scan(&v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}

		out[k] = v
	}

	tables, _ := strings1(context.Background(), db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", name)
	for _, tbl := range tables {
		one("rows "+tbl, "SELECT COUNT(*) FROM `"+name+"`.`"+tbl+"`")
	}

	one("foreign keys", "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?", name)
	one("unique keys", "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND NON_UNIQUE = 0", name)
	one("views", "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?", name)
	one("triggers", "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", name)
	one("routines", "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?", name)

	return out
}

func TestMaskedRestoreAndExportSakila(t *testing.T) {
	ctx := context.Background()

	loadSakila(t)

	db := server.DB(t, "")
	r := newRepo(t)
	rules := sakilaRules()
	src := maskedSource(testMaskKey, rules, "sakila")

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	originals := maskedOriginals(t, db, rules)
	dropUnmasked(t, db, "sakila", rules, originals)

	if len(originals) < 1000 {
		t.Fatalf("only %d original values to look for", len(originals))
	}

	rep, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sakila_masked", Masked: true})
	if err != nil {
		t.Fatal(err)
	}

	if rep.Checked != 16 {
		t.Fatalf("checked %d tables", rep.Checked)
	}

	if found := leaked(t, db, "sakila_masked", originals); len(found) > 0 {
		t.Fatalf("%d original values in the masked copy, e.g. %s", len(found), found[0])
	}

	compare(t, shape(t, db, "sakila"), shape(t, db, "sakila_masked"))

	// The views still join the masked tables: every customer has its address.
	var listed int
	if err := db.QueryRow("SELECT COUNT(*) FROM sakila_masked.customer_list").Scan(&listed); err != nil || listed != 599 {
		t.Fatalf("customer_list: %d rows, %v", listed, err)
	}

	// The same key gives the same copy; another key another.
	if _, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sakila_masked_again", Masked: true}); err != nil {
		t.Fatal(err)
	}

	first := tableChecksums(t, db, "sakila_masked")
	compare(t, first, tableChecksums(t, db, "sakila_masked_again"))

	other := maskedSource("another-masking-key-0123456789", rules, "sakila")
	if _, err := other.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sakila_masked_other", Masked: true}); err != nil {
		t.Fatal(err)
	}

	second := tableChecksums(t, db, "sakila_masked_other")
	for _, tbl := range []string{"customer", "staff", "actor", "address"} {
		if first[tbl] == second[tbl] {
			t.Errorf("%s: the same masked table under another key", tbl)
		}
	}

	if first["film"] != second["film"] {
		t.Error("film, which has no rule, differs between the keys")
	}

	// A masked export loads in the stock client and holds the same copy.
	file := filepath.Join(t.TempDir(), "masked.sql.gz")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}

	zw := gzip.NewWriter(f)
	if err := src.ExportMasked(ctx, r, snap, zw); err != nil {
		t.Fatal(err)
	}

	zw.Close()
	f.Close()

	server.Exec(t, "CREATE DATABASE sakila_masked_export CHARACTER SET utf8mb4")

	cmd := exec.Command("sh", "-c", "gunzip -c \"$0\" | \"$@\"", file, "mariadb")
	cmd.Args = append(cmd.Args, append(server.ClientArgs(), "sakila_masked_export")...)

	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the stock client refused the masked export: %v\n%s", err, out)
	}

	if found := leaked(t, db, "sakila_masked_export", originals); len(found) > 0 {
		t.Fatalf("%d original values in the masked export, e.g. %s", len(found), found[0])
	}

	compare(t, first, tableChecksums(t, db, "sakila_masked_export"))
}

// TestMaskedSmartLibraryAndStrictMode masks the Smart Library's users and
// booking notes, then checks strict mode refuses an unruled personal column
// and a column added since the rules were first used, naming them.
func TestMaskedSmartLibraryAndStrictMode(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")

	server.Exec(t, "DROP DATABASE IF EXISTS sml_mask")
	server.Exec(t, "CREATE DATABASE sml_mask CHARACTER SET utf8mb4")

	if err := smlgen.CreateSchema(ctx, db, "sml_mask"); err != nil {
		t.Fatal(err)
	}

	if err := smlgen.Generate(ctx, db, "sml_mask", smlgen.Scale{Users: 300, Rooms: 20, Bookings: 3000, Seed: 7}); err != nil {
		t.Fatal(err)
	}

	server.Exec(t, `UPDATE sml_mask.users SET preferences = JSON_SET(COALESCE(preferences, '{}'), '$.address', CONCAT(id, ' Real Road, Springfield')) WHERE id % 2 = 0`)

	rules := map[string]mask.Spec{
		"sml_mask.users.email":              {Kind: "email"},
		"sml_mask.users.name":               {Kind: "name"},
		"sml_mask.users.preferences":        {Kind: "json", JSON: map[string]mask.Spec{"$.address": {Kind: "address"}}},
		"sml_mask.bookings.notes":           {Kind: "text"},
		"sml_mask.booking_audit.changed_by": {Kind: "keep"},
		"sml_mask.rooms.name":               {Kind: "keep"},
	}

	r := newRepo(t)
	src := maskedSource(testMaskKey, rules, "sml_mask")

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	originals := maskedOriginals(t, db, rules)
	dropUnmasked(t, db, "sml_mask", rules, originals)

	if _, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sml_mask_copy", Masked: true}); err != nil {
		t.Fatal(err)
	}

	if found := leaked(t, db, "sml_mask_copy", originals); len(found) > 0 {
		t.Fatalf("%d original values in the masked copy, e.g. %s", len(found), found[0])
	}

	compare(t, shape(t, db, "sml_mask"), shape(t, db, "sml_mask_copy"))

	// Unique emails stay unique, and bookings still join their users.
	var users, emails, joined int
	if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT email) FROM sml_mask_copy.users").Scan(&users, &emails); err != nil || users != 300 || emails != 300 {
		t.Fatalf("users %d, distinct emails %d, %v", users, emails, err)
	}

	if err := db.QueryRow("SELECT COUNT(*) FROM sml_mask_copy.bookings b JOIN sml_mask_copy.users u ON u.id = b.user_id").Scan(&joined); err != nil || joined != 3000 {
		t.Fatalf("joined bookings %d, %v", joined, err)
	}

	var address sql.NullString
	if err := db.QueryRow("SELECT JSON_VALUE(preferences, '$.address') FROM sml_mask_copy.users WHERE id = 2").Scan(&address); err != nil || !address.Valid || strings.Contains(address.String, "Real Road") {
		t.Fatalf("masked JSON address %v, %v", address, err)
	}

	// Strict mode: a personal-looking column without a rule is refused by name.
	delete(rules, "sml_mask.users.email")

	_, err = src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: "sml_mask_refused", Masked: true})
	if err == nil || !strings.Contains(err.Error(), "look like personal data and have no masking rule: sml_mask.users.email") {
		t.Fatalf("unruled email: %v", err)
	}

	rules["sml_mask.users.email"] = mask.Spec{Kind: "email"}

	// A column added since the rules were first used is refused until
	// it is classified.
	server.Exec(t, "ALTER TABLE sml_mask.users ADD COLUMN loyalty_code VARCHAR(20) NULL")
	server.Exec(t, "UPDATE sml_mask.users SET loyalty_code = CONCAT('LC-', id)")

	snap2, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	_, err = src.RestoreDatabase(ctx, r, snap2, RestoreOptions{Database: "sml_mask_refused", Masked: true})
	if err == nil || !strings.Contains(err.Error(), "added since the masking rules were written and are not classified: sml_mask.users.loyalty_code") {
		t.Fatalf("added column: %v", err)
	}

	var left int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'sml_mask_refused'").Scan(&left); err != nil || left != 0 {
		t.Fatalf("a refused masked restore left a database behind: %d %v", left, err)
	}

	rules["sml_mask.users.loyalty_code"] = mask.Spec{Kind: "hash", Format: true}

	if _, err := src.RestoreDatabase(ctx, r, snap2, RestoreOptions{Database: "sml_mask_copy2", Masked: true}); err != nil {
		t.Fatalf("classified: %v", err)
	}

	// The export is refused the same way, and writes nothing.
	delete(rules, "sml_mask.users.name")

	if err := src.ExportMasked(ctx, r, snap2, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "sml_mask.users.name") {
		t.Fatalf("export with an unruled name: %v", err)
	}

	// A masked copy never overwrites the database it came from.
	rules["sml_mask.users.name"] = mask.Spec{Kind: "name"}

	if _, err := src.RestoreDatabase(ctx, r, snap2, RestoreOptions{Overwrite: true, Masked: true}); err == nil || !strings.Contains(err.Error(), "never replaces the database it was taken from") {
		t.Fatalf("masked overwrite of the original: %v", err)
	}

	var email string
	if err := db.QueryRow("SELECT email FROM sml_mask.users WHERE id = 1").Scan(&email); err != nil || email != "user0000001@library.example.org" {
		t.Fatalf("the original changed: %q %v", email, err)
	}
}

// TestMaskedPointInTimeRestore: the rows a point-in-time recovery replays
// from the binlog (inserts, updates of masked and key columns, deletes) are
// masked as the full's are: the recovered copy equals a masked restore of a
// full backup taken at the same point, and holds no original value.
func TestMaskedPointInTimeRestore(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")

	server.Exec(t, `DROP DATABASE IF EXISTS pitr_mask; CREATE DATABASE pitr_mask CHARACTER SET utf8mb4;
		CREATE TABLE pitr_mask.people (id INT UNSIGNED PRIMARY KEY AUTO_INCREMENT, email VARCHAR(100) NOT NULL UNIQUE, phone VARCHAR(20),
			note TEXT, tier ENUM('basic','gold') NOT NULL DEFAULT 'basic', born DATE, score INT UNSIGNED NOT NULL DEFAULT 0,
			seen TIMESTAMP(3) NOT NULL DEFAULT '2024-01-01 00:00:00', profile JSON);
		CREATE TABLE pitr_mask.visits (id BIGINT UNSIGNED PRIMARY KEY AUTO_INCREMENT, person_id INT UNSIGNED NOT NULL, at DATETIME NOT NULL,
			FOREIGN KEY (person_id) REFERENCES pitr_mask.people (id));`)

	for i := 1; i <= 50; i++ {
		server.Exec(t, fmt.Sprintf(`INSERT INTO pitr_mask.people (email, phone, note, tier, born, score, profile) VALUES ('person%03d@corp.example', '+1 555 %04d', 'note about person %d', '%s', '1980-01-%02d', %d, '{"address": "%d Original Street"}');
			INSERT INTO pitr_mask.visits (person_id, at) VALUES (%d, '2024-02-01 10:00:00')`, i, 1000+i, i, []string{"basic", "gold"}[i%2], 1+i%28, 4000000000-i, i, i))
	}

	rules := map[string]mask.Spec{
		"pitr_mask.people.email":   {Kind: "email"},
		"pitr_mask.people.phone":   {Kind: "phone"},
		"pitr_mask.people.note":    {Kind: "text"},
		"pitr_mask.people.born":    {Kind: "date_shift", Value: "30d"},
		"pitr_mask.people.profile": {Kind: "json", JSON: map[string]mask.Spec{"$.address": {Kind: "address"}}},
	}

	s := maskedSource(testMaskKey, rules, "pitr_mask")
	s.cfg.MySQL.Binlog = config.Binlog{ServerID: 4242, SegmentSeconds: 1, SegmentBytes: 16 << 20}
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	// After the full: new people, changed emails and phones, a deleted
	// person, and a transaction touching both tables.
	server.Exec(t, `INSERT INTO pitr_mask.people (email, phone, note, born, profile) VALUES ('late1@corp.example', '+1 555 9001', 'late note', '1990-05-05', '{"address": "1 Late Lane"}'),
			('late2@corp.example', NULL, NULL, NULL, NULL);
		UPDATE pitr_mask.people SET email = CONCAT('changed.', email), phone = '+1 555 7777', score = score + 1 WHERE id <= 10;
		DELETE FROM pitr_mask.visits WHERE person_id = 20; DELETE FROM pitr_mask.people WHERE id = 20;
		START TRANSACTION; INSERT INTO pitr_mask.visits (person_id, at) VALUES (51, '2024-03-01 09:00:00'); UPDATE pitr_mask.people SET tier = 'gold' WHERE id = 51; COMMIT;`)

	inc, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental})
	if err != nil {
		t.Fatal(err)
	}

	var br BinlogRange
	if err := json.Unmarshal([]byte(inc.Extra[binlogLabel]), &br); err != nil {
		t.Fatal(err)
	}

	// Every cell is scanned for every original value of every masked
	// column, the birth dates' too.
	originals := maskedOriginals(t, db, rules)
	dropUnmasked(t, db, "pitr_mask", rules, originals)

	rep, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "pitr_mask_point", Masked: true}, Target: binlog.Target{File: br.ToFile, Pos: br.ToPos}})
	if err != nil {
		t.Fatal(err)
	}

	if rep.Replay == nil || rep.Replay.Transactions < 4 {
		t.Fatalf("replayed %+v", rep.Replay)
	}

	// The reference: a masked restore of a full taken at the same point.
	full2, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.RestoreDatabase(ctx, r, full2, RestoreOptions{Database: "pitr_mask_ref", Masked: true}); err != nil {
		t.Fatal(err)
	}

	// The birth dates (28 distinct days, shifted by 1 to 30 days) are a
	// small domain: a shifted date may be another person's real one, by
	// chance, which tells nothing of whose it is; never the person's own.
	// Every other original value is absent.
	for _, cell := range leaked(t, db, "pitr_mask_point", originals) {
		if !strings.HasPrefix(cell, "people.born holds pitr_mask.people.born's original ") {
			t.Fatalf("an original value in the masked recovery: %s", cell)
		}
	}

	var own, shifted int
	if err := db.QueryRow("SELECT COUNT(p.born), SUM(p.born = o.born) FROM pitr_mask_point.people p JOIN pitr_mask.people o USING (id)").Scan(&shifted, &own); err != nil || shifted < 50 || own != 0 {
		t.Fatalf("%d of %d birth dates kept their own value (%v)", own, shifted, err)
	}

	compare(t, tableChecksums(t, db, "pitr_mask_ref"), tableChecksums(t, db, "pitr_mask_point"))
	compare(t, shape(t, db, "pitr_mask"), shape(t, db, "pitr_mask_point"))

	// A change logged as a statement carries its values in its text: the
	// masked replay refuses it rather than replaying it unmasked.
	stmtConn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for _, q := range []string{"SET SESSION binlog_format = 'STATEMENT'", "UPDATE pitr_mask.people SET phone = '+1 555 424242' WHERE id = 3"} {
		if _, err := stmtConn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	stmtConn.Close()

	inc2, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental})
	if err != nil {
		t.Fatal(err)
	}

	if err := json.Unmarshal([]byte(inc2.Extra[binlogLabel]), &br); err != nil {
		t.Fatal(err)
	}

	_, err = s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "pitr_mask_stmt", Masked: true}, Target: binlog.Target{File: br.ToFile, Pos: br.ToPos}})
	if err == nil || !strings.Contains(err.Error(), "logged as a statement") || strings.Contains(err.Error(), "424242") {
		t.Fatalf("statement-based change: %v", err)
	}

	// The binlog is checked before the full is restored: nothing was written.
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'pitr_mask_stmt'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("a refused masked recovery left a database behind: %d %v", n, err)
	}
}

// TestMaskedRestoreTest: with verify.masked the restore test's scratch copy
// holds no original value of a masked column, and its tables are still
// compared (the masked rows' checksums).
func TestMaskedRestoreTest(t *testing.T) {
	ctx := context.Background()

	loadSakila(t)

	db := server.DB(t, "")
	r := newRepo(t)
	rules := sakilaRules()
	src := maskedSource(testMaskKey, rules, "sakila")
	src.cfg.Verify.Masked = true

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	originals := maskedOriginals(t, db, rules)
	dropUnmasked(t, db, "sakila", rules, originals)

	scanned := ""

	rep, err := src.RestoreTest(ctx, r, snap, source.TestOptions{Tamper: func(_ context.Context, copyDB string) error {
		scanned = copyDB
		if found := leaked(t, db, copyDB, originals); len(found) > 0 {
			t.Errorf("%d original values in the masked restore test's copy, e.g. %s", len(found), found[0])
		}

		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}

	if scanned == "" || rep.Checked != 16 || len(rep.Problems) > 0 || rep.What != "masked tables" {
		t.Fatalf("restore test: scanned %q, %+v", scanned, rep)
	}
}

// TestMaskedUniqueParallelChunks: a table loaded in parallel chunks masks
// exactly as a serial load does (CHECKSUM TABLE of both copies and of the
// masked export agree), and unique columns stay unique, a 4-digit code
// column with 6,000 of its 10,000 values taken among them.
func TestMaskedUniqueParallelChunks(t *testing.T) {
	ctx := context.Background()
	old := chunkRows
	chunkRows = 400

	defer func() { chunkRows = old }()

	db := server.DB(t, "")
	server.Exec(t, `DROP DATABASE IF EXISTS mask_chunks; CREATE DATABASE mask_chunks CHARACTER SET utf8mb4;
		CREATE TABLE mask_chunks.members (id INT PRIMARY KEY, code CHAR(4) NOT NULL UNIQUE, badge SMALLINT NOT NULL UNIQUE,
			email VARCHAR(60) NOT NULL UNIQUE, handle VARCHAR(45) NOT NULL UNIQUE, phone VARCHAR(20));
		INSERT INTO mask_chunks.members SELECT seq, LPAD(seq * 7919 % 10000, 4, '0'), 1000 + seq * 37 % 9000,
			CONCAT('member', seq, '@corp.example'), CONCAT('M', seq), CONCAT('+44 20 ', LPAD(seq, 4, '0')) FROM mask_chunks.seq_1_to_6000;
		ANALYZE TABLE mask_chunks.members`)

	rules := map[string]mask.Spec{
		"mask_chunks.members.code":   {Kind: "hash", Format: true},
		"mask_chunks.members.badge":  {Kind: "hash"},
		"mask_chunks.members.email":  {Kind: "email"},
		"mask_chunks.members.handle": {Kind: "first_name"},
		"mask_chunks.members.phone":  {Kind: "phone"},
	}

	r := newRepo(t)
	src := maskedSource(testMaskKey, rules, "mask_chunks")

	snap, err := src.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	if meta, _ := LoadMeta(snap); len(meta.Databases[0].Tables[0].Bounds) < 10 {
		t.Fatalf("members was not dumped in chunks: %v", meta.Databases[0].Tables[0].Bounds)
	}

	sums := map[int]map[string]string{}

	for _, workers := range []int{1, 8} {
		src.cfg.MySQL.Workers = workers
		name := fmt.Sprintf("mask_chunks_w%d", workers)

		if _, err := src.RestoreDatabase(ctx, r, snap, RestoreOptions{Database: name, Masked: true}); err != nil {
			t.Fatalf("%d workers: %v", workers, err)
		}

		sums[workers] = tableChecksums(t, db, name)

		var n, codes, badges, emails, handles, kept int
		if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT m.code), COUNT(DISTINCT m.badge), COUNT(DISTINCT m.email), COUNT(DISTINCT m.handle), "+
			"SUM(m.code = o.code) FROM "+name+".members m JOIN mask_chunks.members o USING (id)").Scan(&n, &codes, &badges, &emails, &handles, &kept); err != nil {
			t.Fatal(err)
		}

		if n != 6000 || codes != n || badges != n || emails != n || handles != n {
			t.Fatalf("%d workers: %d rows, distinct codes %d, badges %d, emails %d, handles %d", workers, n, codes, badges, emails, handles)
		}

		// A permutation may leave a code in place by chance (1 in 10,000 each).
		if kept > 5 {
			t.Fatalf("%d workers: %d codes kept their value", workers, kept)
		}
	}

	compare(t, sums[1], sums[8])

	// The export, read serially, holds the same rows.
	var out strings.Builder
	if err := src.ExportMasked(ctx, r, snap, &out); err != nil {
		t.Fatal(err)
	}

	server.Exec(t, "DROP DATABASE IF EXISTS mask_chunks_export; CREATE DATABASE mask_chunks_export CHARACTER SET utf8mb4")

	cmd := exec.Command("mariadb", append(server.ClientArgs(), "mask_chunks_export")...)
	cmd.Stdin = strings.NewReader(out.String())

	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("load the masked export: %v\n%s", err, msg)
	}

	compare(t, sums[1], tableChecksums(t, db, "mask_chunks_export"))
}

// TestMaskedPointInTimeUniqueAndLatin1: the binlog after the full inserts
// and updates rows of a unique 4-digit code column (8,300 of its 10,000
// values in use: a keyed hash with re-derivation on collision, as masking
// did before, gives such rows other codes than a full restore does) and
// latin1 text, masked and not. The masked recovery equals a masked restore
// of a full taken at the same point. A table altered after the full is
// refused, naming it and the fix, before anything is written.
func TestMaskedPointInTimeUniqueAndLatin1(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")

	server.Exec(t, `DROP DATABASE IF EXISTS pitr_codes; CREATE DATABASE pitr_codes CHARACTER SET utf8mb4;
		CREATE TABLE pitr_codes.cards (id INT PRIMARY KEY AUTO_INCREMENT, code CHAR(4) NOT NULL UNIQUE, owner VARCHAR(45) NOT NULL,
			city VARCHAR(45), note TEXT, alias VARCHAR(45) CHARACTER SET utf8mb4) DEFAULT CHARSET=latin1;
		INSERT INTO pitr_codes.cards SELECT seq, LPAD(seq * 7919 % 10000, 4, '0'), CONCAT('Zoë Müller ', seq), 'Malmö',
			CONCAT('Ångström café ', seq), CONCAT('Łukasz ', seq) FROM pitr_codes.seq_1_to_6000`)

	rules := map[string]mask.Spec{
		"pitr_codes.cards.code":  {Kind: "hash", Format: true},
		"pitr_codes.cards.owner": {Kind: "name"},
		"pitr_codes.cards.note":  {Kind: "text"},
		"pitr_codes.cards.alias": {Kind: "text"},
		"pitr_codes.cards.city":  {Kind: "keep"},
	}

	s := maskedSource(testMaskKey, rules, "pitr_codes")
	s.cfg.MySQL.Binlog = config.Binlog{ServerID: 4243, SegmentSeconds: 1, SegmentBytes: 16 << 20}
	r := newRepo(t)

	if _, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	server.Exec(t, `INSERT INTO pitr_codes.cards SELECT seq, LPAD(seq * 7919 % 10000, 4, '0'), CONCAT('Jörg Ærø ', seq), 'Göteborg',
			CONCAT('naïve façade ', seq), CONCAT('Šárka ', seq) FROM pitr_codes.seq_6001_to_8000;
		UPDATE pitr_codes.cards SET code = LPAD((id + 8000) * 7919 % 10000, 4, '0'), owner = CONCAT('Renée ', id), city = 'Århus' WHERE id <= 300;
		DELETE FROM pitr_codes.cards WHERE id BETWEEN 301 AND 400`)

	inc, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental})
	if err != nil {
		t.Fatal(err)
	}

	var br BinlogRange
	if err := json.Unmarshal([]byte(inc.Extra[binlogLabel]), &br); err != nil {
		t.Fatal(err)
	}

	if _, err := s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "pitr_codes_point", Masked: true}, Target: binlog.Target{File: br.ToFile, Pos: br.ToPos}}); err != nil {
		t.Fatal(err)
	}

	full2, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeFull})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.RestoreDatabase(ctx, r, full2, RestoreOptions{Database: "pitr_codes_ref", Masked: true}); err != nil {
		t.Fatal(err)
	}

	compare(t, tableChecksums(t, db, "pitr_codes_ref"), tableChecksums(t, db, "pitr_codes_point"))

	var rows, codes, malmo, arhus int
	if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT code), SUM(city = 'Malmö'), SUM(city = 'Århus') FROM pitr_codes_point.cards").Scan(&rows, &codes, &malmo, &arhus); err != nil ||
		rows != 7900 || codes != rows || malmo != 5600 || arhus != 300 {
		t.Fatalf("recovered %d rows, %d distinct codes, %d in Malmö, %d in Århus (%v)", rows, codes, malmo, arhus, err)
	}

	// The codes are a small domain (a masked code is often another card's
	// real one, by chance); the text columns' originals appear nowhere.
	scanned := maps.Clone(rules)
	delete(scanned, "pitr_codes.cards.code")

	originals := maskedOriginals(t, db, scanned)
	dropUnmasked(t, db, "pitr_codes", scanned, originals)

	if found := leaked(t, db, "pitr_codes_point", originals); len(found) > 0 {
		t.Fatalf("%d original values in the masked recovery, e.g. %s", len(found), found[0])
	}

	// A column added after the full: the masked replay refuses the table
	// before anything is written.
	server.Exec(t, `ALTER TABLE pitr_codes.cards ADD COLUMN tier VARCHAR(10) NULL;
		INSERT INTO pitr_codes.cards (id, code, owner, tier) VALUES (9001, LPAD(9001 * 7919 % 10000, 4, '0'), 'Late Comer', 'gold')`)

	inc2, err := s.Backup(ctx, r, source.BackupOptions{Type: repo.TypeIncremental})
	if err != nil {
		t.Fatal(err)
	}

	if err := json.Unmarshal([]byte(inc2.Extra[binlogLabel]), &br); err != nil {
		t.Fatal(err)
	}

	_, err = s.RestoreToPoint(ctx, r, PITROptions{DatabaseRestoreOptions: RestoreOptions{Database: "pitr_codes_reshaped", Masked: true}, Target: binlog.Target{File: br.ToFile, Pos: br.ToPos}})
	if err == nil || !strings.Contains(err.Error(), "pitr_codes.cards was reshaped after the full backup (by ALTER TABLE)") ||
		!strings.Contains(err.Error(), "take a full backup") || !strings.Contains(err.Error(), "nothing was written") || strings.Contains(err.Error(), "Late Comer") {
		t.Fatalf("a table altered after the full: %v", err)
	}

	var left int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'pitr_codes_reshaped'").Scan(&left); err != nil || left != 0 {
		t.Fatalf("a refused masked recovery left a database behind: %d %v", left, err)
	}
}

// TestReplayCharsets: a replayed text value is decoded as the server
// converts it to utf8mb4 (the full's dump reads it so): every byte of each
// single-byte character set the server has (from the server's own table),
// and names in several scripts in the multi-byte ones; the columns'
// character sets are read from the table's definition.
func TestReplayCharsets(t *testing.T) {
	ctx := context.Background()
	db := server.DB(t, "")
	sets := map[string]bool{}

	for cs := range decoders {
		// A character set this server lacks cannot be a column's.
		var known int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = ?", cs).Scan(&known); err != nil {
			t.Fatal(err)
		}

		if known > 0 {
			sets[cs] = true
		}
	}

	tables, err := loadByteTables(ctx, db, sets)
	if err != nil || len(tables) < 15 {
		t.Fatalf("%d single-byte tables of %d sets: %v", len(tables), len(sets), err)
	}

	for cs := range sets {
		var samples [][]byte

		if tables[cs] != nil {
			for b := 0; b < 0x100; b++ {
				samples = append(samples, []byte{byte(b), 'x'})
			}
		} else {
			for _, text := range []string{"Zoë Łukasz", "日本語の名前", "한국어 이름", "中文名字", "Ångström", "Иван"} {
				var h string
				if err := db.QueryRow("SELECT HEX(CONVERT(? USING "+cs+"))", text).Scan(&h); err != nil {
					t.Fatalf("%s: %v", cs, err)
				}

				raw, _ := hex.DecodeString(h)

				samples = append(samples, raw)
			}
		}

		for _, raw := range samples {
			var want sql.NullString
			if err := db.QueryRow("SELECT CONVERT(" + charsetLiteral(cs, raw) + " USING utf8mb4)").Scan(&want); err != nil {
				t.Fatalf("%s %x: %v", cs, raw, err)
			}

			got, err := tables.decodeText(cs, raw)
			if err != nil || !want.Valid || string(got) != want.String {
				t.Errorf("%s %x: decoded %q (%v), the server converts it to %q", cs, raw, got, err, want.String)
			}
		}
	}

	tbl := &Table{Create: "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `a` varchar(10) DEFAULT NULL,\n  `b` varchar(10) CHARACTER SET cp1251 COLLATE cp1251_general_ci DEFAULT NULL,\n  `c` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL,\n  `d` varbinary(10) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci",
		Cols: []Column{{Name: "id", Type: "int"}, {Name: "a", Type: "varchar"}, {Name: "b", Type: "varchar"}, {Name: "c", Type: "text"}, {Name: "d", Type: "varbinary"}}}

	if got := strings.Join(columnCharsets(tbl), ","); got != ",latin1,cp1251,," {
		t.Fatalf("column character sets %q", got)
	}
}
