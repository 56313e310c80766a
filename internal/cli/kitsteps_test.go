package cli

import (
	"bytes"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"lifeboat/internal/escrow"
	"lifeboat/internal/testenv"
)

// TestKitStepsWithoutLifeboat follows the recovery kit's "restore without
// Lifeboat" steps as printed: its command blocks run in bash on an empty
// HOME, without the configuration and with no lifeboat on PATH, with the
// password opened by the age tool from the escrow key (and, for the
// database, from two of three shares). kopia's command line of the version
// go.mod requires restores a files source identical to its data, and the
// stock mariadb client loads the Sakila database the kit's jq program
// rebuilds from the dump, into another server: every table's row count and
// CHECKSUM TABLE, the views, routines and triggers match the source.
func TestKitStepsWithoutLifeboat(t *testing.T) {
	tools := kitTools(t)

	src := testenv.StartMariaDB(t)
	sakila := filepath.Join("..", "..", "..", "shared", "data", "sakila")
	src.LoadFile(t, filepath.Join(sakila, "sakila-schema.sql"))
	src.LoadFile(t, filepath.Join(sakila, "sakila-data.sql"))

	data := filepath.Join(t.TempDir(), "docs")
	write(t, filepath.Join(data, "rules.txt"), "rules v3\n")
	write(t, filepath.Join(data, "scans", "page 1.bin"), strings.Repeat("\x00\x01binary", 3000))

	e := newEnv(t, "  docs:\n    type: files\n    paths: ["+data+"]\n  shop:\n    type: mysql\n    socket: "+src.Socket+"\n    user: root\n    databases: [sakila]\n")
	e.mustRun("init")
	e.mustRun("backup", "docs")
	e.mustRun("backup", "shop")

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(t.TempDir(), "escrow.key")
	write(t, keyFile, id.String()+"\n")

	kit := filepath.Join(t.TempDir(), "kit")
	e.mustRun("key", "kit", "--out", kit, "--recipient", id.Recipient().String(), "--holder", "incident manager", "--holder", "security officer", "--holder", "CTO", "--threshold", "2")

	if err := os.Remove(e.cfg); err != nil {
		t.Fatal(err)
	}

	text := readFile(t, filepath.Join(kit, "kit.txt"))
	blocks := escrow.Blocks(text)

	// The kit names the kopia release whose command line the steps need:
	// the one go.mod requires, which the test runs.
	if v := strings.TrimPrefix(filepath.Base(filepath.Dir(testenv.Kopia(t))), "kopia-"); !strings.Contains(text, "Without Lifeboat: kopia "+v+" ") {
		t.Fatalf("the kit does not name kopia %s", v)
	}
	home, restoreDir := t.TempDir(), t.TempDir()
	sh := kitShell{t: t, dir: t.TempDir(), env: []string{
		"HOME=" + home, "PATH=" + tools + ":/usr/bin:/bin", "KEY_FILE=" + keyFile, "RESTORE_DIR=" + restoreDir, "LANG=C.UTF-8",
	}, blocks: blocks}

	for _, f := range []string{"kit.txt", "password.age"} {
		write(t, filepath.Join(sh.dir, f), readFile(t, filepath.Join(kit, f)))
	}

	if out, err := sh.exec("command -v lifeboat"); err == nil {
		t.Fatalf("lifeboat is on the steps' PATH: %s", out)
	}

	sh.run("password-age")
	sh.run("kopia-connect")
	sh.run("kopia-restore-docs")

	for _, f := range []string{"rules.txt", filepath.Join("scans", "page 1.bin")} {
		if got, want := readFile(t, filepath.Join(restoreDir, "docs", f)), readFile(t, filepath.Join(data, f)); got != want {
			t.Fatalf("kopia restored %s differently", f)
		}
	}

	// The database: the password from two shares this time, the rows into
	// another server, reached by the client's own settings.
	if err := os.Remove(filepath.Join(sh.dir, "password.txt")); err != nil {
		t.Fatal(err)
	}

	if r := bareRun(t, home, "key", "unseal", "--kit", filepath.Join(sh.dir, "kit.txt"), "--share", filepath.Join(kit, "share-3.txt"),
		"--share", filepath.Join(kit, "share-1.txt"), "--out", filepath.Join(sh.dir, "password.txt")); r.code != 0 {
		t.Fatalf("unseal from shares: exit %d\n%s", r.code, r.err)
	}

	dst := testenv.StartMariaDB(t)
	write(t, filepath.Join(home, ".my.cnf"), "[client]\nsocket="+dst.Socket+"\nuser=root\n")
	sh.run("kopia-connect")
	sh.run("kopia-restore-shop")

	sameDatabase(t, src.DB(t, "sakila"), dst.DB(t, "sakila"))
}

// TestKitStepsWithoutLifeboatS3: the same steps for a repository in a
// bucket: kopia connects with the S3 command the kit prints and the bucket's
// keys the kit asks for, and restores a files source identical to its data;
// the escrow drill finds the bucket from the kit alone.
func TestKitStepsWithoutLifeboatS3(t *testing.T) {
	tools := kitTools(t)
	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "lifeboat")

	data := filepath.Join(t.TempDir(), "docs")
	write(t, filepath.Join(data, "rules.txt"), "rules in a bucket\n")

	e := s3Env(t, srv, "lifeboat", "  docs:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "docs")

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(t.TempDir(), "escrow.key")
	write(t, keyFile, id.String()+"\n")

	kit := filepath.Join(t.TempDir(), "kit")
	e.mustRun("key", "kit", "--out", kit, "--recipient", id.Recipient().String())

	if err := os.Remove(e.cfg); err != nil {
		t.Fatal(err)
	}

	restoreDir := t.TempDir()
	sh := kitShell{t: t, dir: t.TempDir(), env: []string{
		"HOME=" + t.TempDir(), "PATH=" + tools + ":/usr/bin:/bin", "KEY_FILE=" + keyFile, "RESTORE_DIR=" + restoreDir,
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
	}, blocks: escrow.Blocks(readFile(t, filepath.Join(kit, "kit.txt")))}

	for _, f := range []string{"kit.txt", "password.age"} {
		write(t, filepath.Join(sh.dir, f), readFile(t, filepath.Join(kit, f)))
	}

	sh.run("password-age")
	sh.run("kopia-connect")
	sh.run("kopia-restore-docs")

	if got := readFile(t, filepath.Join(restoreDir, "docs", "rules.txt")); got != "rules in a bucket\n" {
		t.Fatalf("kopia restored %q from the bucket", got)
	}

	// The kit's own drill finds the bucket from the kit alone, too.
	home := t.TempDir()
	vars := map[string]string{"HOME": home, "AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}

	if r := bare(t, vars, filepath.Join(home, "none.yaml"), "key", "escrow-drill", "--kit", filepath.Join(kit, "kit.txt"), "--identity", keyFile); r.code != 0 ||
		!strings.Contains(r.out, "escrow drill passed") {
		t.Fatalf("the escrow drill of an S3 kit: exit %d\n%s%s", r.code, r.out, r.err)
	}
}

// kitTools is a folder for PATH holding kopia, jq, age and the mariadb
// client, and no lifeboat.
func kitTools(t *testing.T) string {
	t.Helper()

	kopia := testenv.Kopia(t)
	tools := t.TempDir()

	for _, tool := range []string{"jq", "age", "mariadb"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("the kit's steps need %s: install it (bash scripts/install-deps.sh test)", tool)
		}

		if err := os.Symlink(p, filepath.Join(tools, tool)); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.Symlink(kopia, filepath.Join(tools, "kopia")); err != nil {
		t.Fatal(err)
	}

	return tools
}

// kitShell runs the kit's blocks in bash, in dir, with only env.
type kitShell struct {
	t      *testing.T
	dir    string
	env    []string
	blocks map[string]string
}

func (s kitShell) exec(script string) (string, error) {
	cmd := exec.Command("/bin/bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = s.dir, s.env

	out, err := cmd.CombinedOutput()

	return string(out), err
}

func (s kitShell) run(name string) {
	s.t.Helper()

	block, ok := s.blocks[name]
	if !ok {
		s.t.Fatalf("the kit has no block %q", name)
	}

	if out, err := s.exec(block); err != nil {
		s.t.Fatalf("the kit's block %s failed: %v\n%s\n--- the block:\n%s", name, err, out, block)
	}
}

// sameDatabase compares two databases: each table's rows and CHECKSUM
// TABLE, and the names of their views, routines and triggers.
func sameDatabase(t *testing.T, a, b *sql.DB) {
	t.Helper()

	list := func(db *sql.DB, q string) string {
		var out bytes.Buffer

		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()

		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}

			out.WriteString(s + "\n")
		}

		return out.String()
	}

	const tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"

	for _, q := range []string{
		tables,
		"SELECT table_name FROM information_schema.views WHERE table_schema = DATABASE() ORDER BY 1",
		"SELECT CONCAT(routine_type, ' ', routine_name) FROM information_schema.routines WHERE routine_schema = DATABASE() ORDER BY 1",
		"SELECT CONCAT(trigger_name, ' ', event_object_table) FROM information_schema.triggers WHERE trigger_schema = DATABASE() ORDER BY 1",
	} {
		if x, y := list(a, q), list(b, q); x != y || x == "" {
			t.Fatalf("%s:\nsource:\n%srestored:\n%s", q, x, y)
		}
	}

	for _, table := range strings.Fields(list(a, tables)) {
		var (
			name       string
			n1, n2     int64
			sum1, sum2 sql.NullInt64
		)

		a.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&n1)
		b.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&n2)
		a.QueryRow("CHECKSUM TABLE `"+table+"`").Scan(&name, &sum1)
		b.QueryRow("CHECKSUM TABLE `"+table+"`").Scan(&name, &sum2)

		if n1 != n2 || n1 == 0 || sum1 != sum2 || !sum1.Valid {
			t.Errorf("table %s: %d rows, checksum %v in the source; %d rows, checksum %v restored", table, n1, sum1, n2, sum2)
		}
	}
}
