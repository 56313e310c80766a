package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// childSecrets are set in the test process's own environment, as they would
// be in Lifeboat's on a real machine: the repository password, the database
// password, the SMTP password, the S3 keys, and a secret whose name merely
// looks like a locale setting.
var childSecrets = map[string]string{
	EnvPassword:             testPassword,
	"SHOP_DB_PASSWORD":      "db-secret-4e1f0a",
	"SMTP_PASSWORD":         "smtp-secret-b7c2d9",
	"AWS_ACCESS_KEY_ID":     "AKIACHILDENVTEST0042",
	"AWS_SECRET_ACCESS_KEY": "aws-secret-9a8b7c6d5e",
	"LC_SHOP_TOKEN":         "token-secret-31f7",
}

// recorder puts wrappers named like the programs Lifeboat starts first on
// PATH; each copies its own /proc/PID/environ and its arguments into a
// record, then runs the real program.
type recorder struct {
	t   *testing.T
	dir string
}

func newRecorder(t *testing.T, programs ...string) *recorder {
	t.Helper()

	rc := &recorder{t: t, dir: t.TempDir()}
	bin := filepath.Join(t.TempDir(), "bin")

	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, p := range programs {
		real, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("%s not found: install it (Debian: apt-get install git mariadb-client)", p)
		}

		script := "#!/bin/sh\nf=$(mktemp " + rc.dir + "/" + p + ".XXXXXX)\n" +
			"tr '\\0' '\\n' < /proc/$$/environ > \"$f\"\nprintf '%s\\n' \"$*\" > \"$f.args\"\nexec " + real + " \"$@\"\n"
		write(t, filepath.Join(bin, p), script)

		if err := os.Chmod(filepath.Join(bin, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	return rc
}

// records returns the environments recorded for program, with the
// arguments each run was given.
func (rc *recorder) records(program string) (envs, args []string) {
	rc.t.Helper()

	files, _ := filepath.Glob(filepath.Join(rc.dir, program+".*"))
	for _, f := range files {
		if strings.HasSuffix(f, ".args") {
			continue
		}

		envs = append(envs, readFile(rc.t, f))
		args = append(args, readFile(rc.t, f+".args"))
	}

	return envs, args
}

// assertClean fails when an environment holds a secret's name or value.
func assertClean(t *testing.T, who, environ string) {
	t.Helper()

	var got []string

	for name, value := range childSecrets {
		if strings.Contains(environ, value) || strings.Contains("\n"+environ, "\n"+name+"=") {
			got = append(got, name)
		}
	}

	if len(got) > 0 {
		sort.Strings(got)
		t.Errorf("%s received %s in its environment", who, strings.Join(got, ", "))
	}
}

// TestChildrenGetNoSecrets reads the environment of every kind of program
// Lifeboat starts while it runs: git for a backup and a drill's restore,
// mariadb and mariadb-binlog for a point-in-time recovery, its dry run and a
// restore test, and a recovery plan's run, stop and start commands and
// drill stand-ins. None gets a password or key of Lifeboat's environment;
// the stand-ins still get LIFEBOAT_RESTORED_<SOURCE>.
func TestChildrenGetNoSecrets(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20));
		INSERT INTO shop.orders (item) VALUES ('one');
		CREATE USER 'shop'@'localhost' IDENTIFIED BY '`+childSecrets["SHOP_DB_PASSWORD"]+`'; GRANT ALL ON *.* TO 'shop'@'localhost'`)

	code := filepath.Join(t.TempDir(), "code")
	for _, args := range [][]string{{"init", "-q", code}, {"-C", code, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "first"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}

	steps := filepath.Join(t.TempDir(), "steps")
	if err := os.Mkdir(steps, 0o755); err != nil {
		t.Fatal(err)
	}

	// Each command copies the environment of the shell Lifeboat started.
	record := func(name string) string {
		return `"tr '\\0' '\\n' < /proc/$$/environ > ` + filepath.Join(steps, name) + `"`
	}

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: shop\n    password_env: SHOP_DB_PASSWORD\n    databases: [shop]\n    binlog: {server_id: 779, segment_seconds: 1}\n"+
		"  code:\n    type: git\n    path: "+code+"\n")
	e.writeConfig(readFile(t, e.cfg) + `notify:
  email: {smtp: "127.0.0.1:1", from: lifeboat@example.org, to: [ops@example.org], username: lifeboat, password_env: SMTP_PASSWORD}
plans:
  site:
    tier: critical
    steps:
      - stop: {command: ` + record("stop") + `}
        drill: ` + record("drill-stop") + `
      - restore: db
      - restore: code
      - run: ` + record("run") + `
        drill: ` + record("drill-run") + `
      - start: {command: ` + record("start") + `}
        drill: ` + record("drill-start") + `
  commands:
    tier: critical
    steps:
      - stop: {command: ` + record("stop") + `}
      - run: ` + record("run") + `
      - start: {command: ` + record("start") + `}
`)

	for name, value := range childSecrets {
		t.Setenv(name, value)
		e.vars[name] = value
	}

	e.mustRun("config", "check")
	e.mustRun("init")

	rc := newRecorder(t, "git", "mariadb", "mariadb-binlog")
	sqlDB := db.DB(t, "")

	e.mustRun("backup", "db")
	e.mustRun("backup", "code")

	if _, err := sqlDB.Exec("INSERT INTO shop.orders (item) VALUES ('two')"); err != nil {
		t.Fatal(err)
	}

	at := time.Now().Format(time.RFC3339Nano)
	e.mustRun("backup", "db", "--type", "incremental")

	// The dry run and the restore test log in as the replay will.
	e.mustRun("restore", "db", "--to-time", at, "--target-database", "shop_copy", "--dry-run")
	e.mustRun("verify", "db", "--restore-test")

	_, args := rc.records("mariadb")
	if logins := strings.Count(strings.Join(args, ""), "--execute=SELECT 1"); logins != 2 {
		t.Errorf("the dry run and the restore test ran %d client logins, want 2: %q", logins, args)
	}

	// Parallel (Lifeboat's own connections) and serial (mariadb-binlog
	// piped into the client) replays.
	e.mustRun("restore", "db", "--to-time", at, "--target-database", "shop_copy")
	e.mustRun("restore", "db", "--to-time", at, "--target-database", "shop_copy_serial", "--replay-workers", "1")
	e.mustRun("recover", "commands")
	e.mustRun("drill", "site")

	for _, program := range []string{"git", "mariadb", "mariadb-binlog"} {
		envs, _ := rc.records(program)
		if len(envs) == 0 {
			t.Fatalf("%s never ran", program)
		}

		for _, env := range envs {
			assertClean(t, program, env)

			if !strings.Contains(env, "PATH=") {
				t.Errorf("%s lacks PATH:\n%s", program, env)
			}
		}
	}

	for _, step := range []string{"stop", "run", "start", "drill-stop", "drill-run", "drill-start"} {
		env := readFile(t, filepath.Join(steps, step))
		assertClean(t, "plan step "+step, env)

		// The stop comes before the restores; what follows them sees where they went.
		if (step == "drill-run" || step == "drill-start") && (!strings.Contains(env, "LIFEBOAT_RESTORED_DB=lifeboat_drill_") || !strings.Contains(env, "LIFEBOAT_RESTORED_CODE=/")) {
			t.Errorf("drill stand-in %s lacks the restored locations:\n%s", step, env)
		}
	}
}
