package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// needPhysicalTools fails (never skips) without mariadb-backup.
func needPhysicalTools(t *testing.T) {
	t.Helper()

	for _, n := range []string{"mariadb-backup", "mbstream"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed: apt-get install -y mariadb-backup (scripts/install-deps.sh test installs it)", n)
		}
	}
}

func physicalEnv(t *testing.T) (*env, *testenv.MariaDB) {
	t.Helper()
	needPhysicalTools(t)

	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; USE shop;
		CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(40), doc JSON, img BLOB);
		INSERT INTO orders (item, doc, img) SELECT CONCAT('item', seq), JSON_OBJECT('n', seq), REPEAT('x', 2000) FROM seq_1_to_3000;`)

	e := newEnv(t, "  phys:\n    type: mysql\n    mode: physical\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n    verify:\n      assertions: [\"(SELECT COUNT(*) FROM orders) > 0\"]\n")
	e.mustRun("init")

	return e, db
}

// TestPhysicalBackupCLI: a physical full and incremental from the command
// line, restored into an empty data directory (a non-empty one refused,
// left as it was), and verify --restore-test starts a private server on a
// scratch copy and checks every table.
func TestPhysicalBackupCLI(t *testing.T) {
	e, db := physicalEnv(t)

	out := e.mustRun("backup", "phys")
	if !strings.Contains(out, "phys: full snapshot") || !strings.Contains(out, "binlog mysql-bin") {
		t.Fatalf("backup: %s", out)
	}

	db.Exec(t, "UPDATE shop.orders SET item = 'changed' WHERE id < 100")

	if out := e.mustRun("backup", "phys", "--type", "incremental"); !strings.Contains(out, "incremental snapshot") {
		t.Fatalf("incremental: %s", out)
	}

	dir := filepath.Join(t.TempDir(), "datadir")

	out = e.mustRun("restore", "phys", "--target-datadir", dir)
	if !strings.Contains(out, "physical restore into "+dir) || !strings.Contains(out, "the full and 1 incremental(s)") {
		t.Fatalf("restore: %s", out)
	}

	if _, err := os.Stat(filepath.Join(dir, "shop", "orders.ibd")); err != nil {
		t.Fatalf("the restored datadir lacks the table: %v", err)
	}

	// --json names the data directory.
	dir2 := filepath.Join(t.TempDir(), "datadir2")
	if out := e.mustRun("restore", "phys", "--target-datadir", dir2, "--json"); !strings.Contains(out, `"datadir": "`+dir2+`"`) && !strings.Contains(out, `"datadir":"`+dir2+`"`) {
		t.Fatalf("restore --json: %s", out)
	}

	// The same directory again: refused, and left as it is.
	before := readDir(t, dir)
	e.expectFailure(2, []string{dir + " holds files", "needs an empty or new one"}, "restore", "phys", "--target-datadir", dir)

	if after := readDir(t, dir); after != before {
		t.Errorf("the refused restore changed %s", dir)
	}

	out = e.mustRun("verify", "phys", "--restore-test")
	t.Log(out)

	if !strings.Contains(out, "restore test of phys") || !strings.Contains(out, "1 tables") {
		t.Fatalf("verify --restore-test: %s", out)
	}

	if strings.Count(out, ": OK") < 1 || strings.Contains(out, "FAIL") {
		t.Fatalf("verify --restore-test: %s", out)
	}

	// Nothing was recorded at backup time to compare with: the line says
	// what was checked and claims no comparison.
	if strings.Contains(out, "compared with the backup") || !strings.Contains(out, "CHECK TABLE ok") ||
		!strings.Contains(out, "no checksums recorded at backup time") {
		t.Fatalf("verify --restore-test claims a comparison or omits what it checked: %s", out)
	}

	if out := e.mustRun("verify", "phys", "--restore-test", "--json"); !strings.Contains(out, `"checks":`) {
		t.Fatalf("verify --restore-test --json lacks what was checked: %s", out)
	}
}

// readDir lists a directory's names and sizes.
func readDir(t *testing.T, dir string) string {
	t.Helper()

	var b strings.Builder

	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			b.WriteString(p + " " + strconv.FormatInt(fi.Size(), 10) + "\n")
		}

		return nil
	})

	return b.String()
}

// TestPhysicalRestoreFullDisk: a target data directory on a file system
// too small for the backup fails with a clear message, leaves nothing
// there, and the source's server and repository are untouched.
func TestPhysicalRestoreFullDisk(t *testing.T) {
	e, db := physicalEnv(t)
	e.mustRun("backup", "phys")

	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a small tmpfs as the full disk and must run as root (make test does)")
	}

	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs: %v %s", err, out)
	}

	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	files := e.repoFiles()
	dir := filepath.Join(mnt, "datadir")

	e.expectFailure(1, []string{"not enough free space", dir}, "restore", "phys", "--target-datadir", dir)

	if entries, _ := os.ReadDir(mnt); len(entries) != 0 {
		t.Errorf("the failed restore left %d entries on the full disk", len(entries))
	}

	var n int
	if err := db.DB(t, "").QueryRow("SELECT COUNT(*) FROM shop.orders").Scan(&n); err != nil || n != 3000 {
		t.Errorf("the source has %d rows (%v), want 3000", n, err)
	}

	if after := e.repoFiles(); len(after) != len(files) {
		t.Errorf("the repository changed: %d files, was %d", len(after), len(files))
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// lifeboatBinary builds the real command line once.
func lifeboatBinary(t *testing.T) string {
	t.Helper()

	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lifeboat-cli-bin-")
		if err != nil {
			binErr = err
			return
		}

		binPath = filepath.Join(dir, "lifeboat")
		if out, err := exec.Command("go", "build", "-o", binPath, "lifeboat/cmd/lifeboat").CombinedOutput(); err != nil {
			binErr, binPath = err, string(out)
		}
	})

	if binErr != nil {
		t.Fatalf("build the lifeboat binary (needs the go tool on PATH): %v\n%s", binErr, binPath)
	}

	return binPath
}

// childNamed is the pid of a child of parent whose command is name.
func childNamed(parent int, name string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}

		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}

		// pid (comm) state ppid ...
		s := string(stat)
		close := strings.LastIndexByte(s, ')')
		open := strings.IndexByte(s, '(')

		if open < 0 || close < 0 || !strings.HasPrefix(s[open+1:close], name[:min(len(name), 15)]) {
			continue
		}

		fields := strings.Fields(s[close+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(parent) {
			return pid
		}
	}

	return 0
}

// TestPhysicalBackupKilled: lifeboat killed with SIGKILL while
// mariadb-backup streams leaves no snapshot, the tool does not outlive it,
// verify passes and the next backup works.
func TestPhysicalBackupKilled(t *testing.T) {
	e, _ := physicalEnv(t)
	bin := lifeboatBinary(t)

	cmd := exec.Command(bin, "--config", e.cfg, "backup", "phys")
	cmd.Env = append(os.Environ(), EnvPassword+"="+testPassword)

	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var tool int

	testenv.Eventually(t, 60*time.Second, func() bool {
		tool = childNamed(cmd.Process.Pid, "mariadb-backup")
		return tool != 0
	}, "mariadb-backup to start under lifeboat")

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	if err := cmd.Wait(); err == nil {
		t.Fatal("the killed backup exited 0")
	}

	testenv.Eventually(t, 30*time.Second, func() bool {
		return syscall.Kill(tool, 0) != nil
	}, "mariadb-backup to end with lifeboat")

	if snaps := e.snapshots("phys"); len(snaps) != 0 {
		t.Fatalf("a killed backup left %d snapshots: %+v", len(snaps), snaps)
	}

	if out := e.mustRun("verify"); strings.Contains(out, "FAIL") {
		t.Fatalf("verify after the kill: %s", out)
	}

	e.mustRun("backup", "phys")

	if snaps := e.snapshots("phys"); len(snaps) != 1 {
		t.Fatalf("after the next backup: %d snapshots", len(snaps))
	}
}

// TestBothModesOnOneSource: a logical source also takes physical backups
// with --mode physical (a weekly physical beside daily logical ones): a
// physical incremental builds on the physical full past the logical
// backups, a binlog incremental follows a physical one, and each kind
// restores its own way.
func TestBothModesOnOneSource(t *testing.T) {
	needPhysicalTools(t)

	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; USE shop; CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(40));
		INSERT INTO orders (item) SELECT CONCAT('item', seq) FROM seq_1_to_2000;`)

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n")
	e.mustRun("init")
	e.mustRun("backup", "db")
	e.mustRun("backup", "db", "--mode", "physical")
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('after the physical full')")
	e.mustRun("backup", "db", "--type", "incremental") // binlog, on the physical full
	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('before the physical incremental')")

	out := e.mustRun("backup", "db", "--type", "incremental", "--mode", "physical")
	if !strings.Contains(out, "incremental snapshot") {
		t.Fatalf("physical incremental: %s", out)
	}

	db.Exec(t, "INSERT INTO shop.orders (item) VALUES ('after the physical incremental')")
	e.mustRun("backup", "db", "--type", "incremental") // binlog, on the physical incremental

	e.expectFailure(2, []string{`--mode "hot"`, "logical or physical"}, "backup", "db", "--mode", "hot")

	snaps := e.snapshots("db")
	if len(snaps) != 5 {
		t.Fatalf("%d snapshots, want 5", len(snaps))
	}

	var physInc, logicalFull string

	for _, s := range snaps {
		if s.Extra["physical"] != "" && s.Type == "incremental" {
			physInc = s.ID
		}

		if s.Extra["physical"] == "" && s.Type == "full" {
			logicalFull = s.ID
		}
	}

	dir := filepath.Join(t.TempDir(), "datadir")
	if out := e.mustRun("restore", "db", "--snapshot", physInc, "--target-datadir", dir); !strings.Contains(out, "the full and 1 incremental(s)") {
		t.Fatalf("restore of the physical incremental: %s", out)
	}

	if out := e.mustRun("restore", "db", "--snapshot", logicalFull, "--target-database", "shop_logical"); !strings.Contains(out, "2000 rows") {
		t.Fatalf("restore of the logical full: %s", out)
	}

	e.expectFailure(1, []string{"is a logical backup", "--target-datadir takes a physical backup"}, "restore", "db", "--snapshot", logicalFull, "--target-datadir", filepath.Join(t.TempDir(), "x"))

	// To where the last binlog incremental ends: into a data directory
	// from the physical incremental (the binlog after the logical full was
	// never archived), and --json says so and why.
	var br struct {
		ToFile string `json:"to_file"`
		ToPos  uint32 `json:"to_pos"`
	}

	if err := json.Unmarshal([]byte(snaps[len(snaps)-1].Extra["binlog"]), &br); err != nil || br.ToFile == "" {
		t.Fatalf("the last incremental records no binlog range: %v %v", snaps[len(snaps)-1].Extra, err)
	}

	out = e.mustRun("restore", "db", "--to-position", fmt.Sprintf("%s:%d", br.ToFile, br.ToPos), "--target-datadir", filepath.Join(t.TempDir(), "pitr"), "--json")
	if !strings.Contains(out, `"choice":"restore: using the physical incremental of `) || !strings.Contains(out, "no logical backup reaches position "+br.ToFile) {
		t.Fatalf("restore --to-position --target-datadir --json: %s", out)
	}
}
