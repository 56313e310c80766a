package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"lifeboat/internal/testenv"
)

// TestMarkerPasswords runs a demo's course (a database with its binlog and a
// files source, a copy in S3, notifications by mail, backups, a restore
// test, a point-in-time recovery, status and the report, a recovery kit and
// its escrow drill, a password change and a replication) with a unique
// marker as every secret: the repository password (then its new one), the
// database password, the S3 secret key, the SMTP password and the masking
// key (in the environment of every command, as an installation exports it),
// with masked copies in the course: a masked restore, a masked
// point-in-time recovery, a masked export and mask scan. No marker may
// appear in anything Lifeboat printed, in any file it wrote (the
// repository, its copy, the audit log, the kit, restored data, the export,
// temporary files), or in the command line or environment of any program it
// started: wrappers of mariadb and mariadb-binlog read /proc/self while they
// run during the recoveries.
func TestMarkerPasswords(t *testing.T) {
	markers := map[string]string{
		"repository password":     "mk-repo-5e0c9b1d",
		"new repository password": "mk-newrepo-8a27f4c6",
		"database password":       "mk-db-3f91c0aa",
		"SMTP password":           "mk-smtp-71d4e2b8",
		"masking key":             "mk-masking-c4d2e97b0f13a6",
	}

	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "offsite")
	markers["S3 secret key"] = srv.SecretKey

	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20));
		INSERT INTO shop.orders (item) VALUES ('one');
		CREATE USER 'shop'@'localhost' IDENTIFIED BY '`+markers["database password"]+`'; GRANT ALL ON *.* TO 'shop'@'localhost'`)

	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: shop\n    password_env: SHOP_DB_PASSWORD\n    databases: [shop]\n    binlog: {server_id: 781, segment_seconds: 1}\n"+
		"    masking:\n      key_env: SHOP_MASKING_KEY\n      rules:\n        shop.orders.item: text\n"+
		"  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.writeConfig(readFile(t, e.cfg) + "copies:\n  offsite:\n    url: s3://offsite/lifeboat\n    endpoint: " + srv.Endpoint + "\n    tls: false\n" +
		"notify:\n  email: {smtp: \"127.0.0.1:1\", from: lifeboat@example.org, to: [ops@example.org], username: lifeboat, password_env: SMTP_PASSWORD}\n")

	env := map[string]string{
		EnvPassword: markers["repository password"], "SHOP_DB_PASSWORD": markers["database password"],
		"SMTP_PASSWORD": markers["SMTP password"], "AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey,
		"NEW_PW": markers["new repository password"], "SHOP_MASKING_KEY": markers["masking key"],
	}
	for k, v := range env {
		t.Setenv(k, v)
		e.vars[k] = v
	}

	rc := newRecorder(t, "mariadb", "mariadb-binlog")

	var printed bytes.Buffer

	run := func(args ...string) {
		t.Helper()

		r := e.run(args...)
		printed.WriteString(r.out + r.err)

		if r.code != 0 {
			t.Fatalf("lifeboat %s: exit %d\n%s\n%s", strings.Join(args, " "), r.code, r.out, r.err)
		}
	}

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(e.dir, "escrow.key")
	write(t, keyFile, id.String()+"\n")

	run("config", "check")
	run("init")
	run("backup")
	// Through the driver: the test's own mariadb client would be recorded
	// as one Lifeboat started.
	if _, err := db.DB(t, "").Exec("INSERT INTO shop.orders (item) VALUES ('two')"); err != nil {
		t.Fatal(err)
	}

	// The binlog's times have whole seconds: recover to the next one.
	inserted := time.Now()
	testenv.Eventually(t, 5*time.Second, func() bool { return time.Now().Truncate(time.Second).After(inserted) }, "the next second")
	at := time.Now().Format(time.RFC3339Nano)
	run("backup", "db", "--type", "incremental")
	run("verify", "--restore-test")
	// The parallel replay logs in from Lifeboat itself; the serial one
	// starts mariadb-binlog and the client, whose /proc is read.
	run("restore", "db", "--to-time", at, "--target-database", "shop_copy")
	run("restore", "db", "--to-time", at, "--target-database", "shop_copy_serial", "--replay-workers", "1")
	run("restore", "uploads", "--target", filepath.Join(e.dir, "restored"))
	run("mask", "scan", "db")
	run("restore", "db", "--masked", "--target-database", "shop_dev")
	// The masked recovery's binlog goes to the mariadb client through
	// Lifeboat's own decoder: the client's /proc is read too.
	before, _ := rc.records("mariadb")
	run("restore", "db", "--masked", "--to-time", at, "--target-database", "shop_dev_pitr")

	if after, _ := rc.records("mariadb"); len(after) <= len(before) {
		t.Fatal("the masked point-in-time restore started no mariadb client")
	}

	export := filepath.Join(e.dir, "shop-dev.sql")
	run("export", "db", "--masked", "-o", export)
	run("replicate")
	run("status", "--wide")
	run("report")
	run("key", "kit", "--out", filepath.Join(e.dir, "kit"), "--recipient", id.Recipient().String(), "--holder", "incident manager", "--holder", "security officer", "--threshold", "2")
	run("key", "change-password", "--new-password-env", "NEW_PW")
	e.vars[EnvPassword] = markers["new repository password"]
	run("replicate")
	run("audit", "verify")

	r := bareRun(t, t.TempDir(), "key", "escrow-drill", "--kit", filepath.Join(e.dir, "kit", "kit.txt"), "--identity", keyFile, "--source", "uploads")
	printed.WriteString(r.out + r.err)

	if r.code != ExitWrongPassword {
		// The kit was sealed before the password changed: the drill must say so.
		t.Fatalf("the drill with the kit of the old password: exit %d\n%s", r.code, r.err)
	}

	var rooms string
	db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(item ORDER BY id) FROM shop_copy.orders").Scan(&rooms)

	if rooms != "one,two" {
		t.Fatalf("the recovery gave %q", rooms)
	}

	// The masked copies hold both rows, masked: the masking key was used.
	for _, copyDB := range []string{"shop_dev", "shop_dev_pitr"} {
		var n, originals int
		if err := db.DB(t, "").QueryRow("SELECT COUNT(*), COALESCE(SUM(item IN ('one', 'two')), 0) FROM "+copyDB+".orders").Scan(&n, &originals); err != nil || n != 2 || originals != 0 {
			t.Fatalf("%s: %d rows, %d unmasked, %v", copyDB, n, originals, err)
		}
	}

	if dump := readFile(t, export); !strings.Contains(dump, "INSERT") || strings.Contains(dump, "'one'") || strings.Contains(dump, "'two'") {
		t.Fatalf("the masked export:\n%s", dump)
	}

	check := func(where, text string) {
		for what, m := range markers {
			if strings.Contains(text, m) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}

	check("the output", printed.String())

	for _, p := range []string{"mariadb", "mariadb-binlog"} {
		envs, args := rc.records(p)
		if len(envs) == 0 {
			t.Fatalf("%s never ran", p)
		}

		for i := range envs {
			check(p+"'s environment", envs[i])
			check(p+"'s command line", args[i])
		}
	}

	// Every file Lifeboat wrote: its folder (repository, audit log, kit,
	// restored files) and its temporary files; the S3 copy through the
	// server's own files.
	for _, root := range []string{e.dir, tmp} {
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() && p != keyFile {
				b, _ := os.ReadFile(p)
				check(p, string(b))
			}

			return nil
		})
	}
}
