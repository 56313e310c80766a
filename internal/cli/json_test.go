package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"lifeboat/internal/testenv"
)

var updateJSON = flag.Bool("update-json", false, "rewrite testdata/json/*.golden from the commands' --json output")

// jsonValues decodes what a --json command printed on stdout: every value
// must be a JSON object, and nothing else may be there.
func jsonValues(t *testing.T, what, out string) []map[string]any {
	t.Helper()

	var vals []map[string]any

	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()

	for {
		var v map[string]any

		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}

		if err != nil {
			t.Fatalf("%s: stdout is not JSON objects: %v\n%s", what, err, out)
		}

		vals = append(vals, v)
	}

	if len(vals) == 0 {
		t.Fatalf("%s: no JSON on stdout", what)
	}

	return vals
}

// shape is a JSON value's field names and types, without its values (IDs,
// times and durations change from run to run; the shape must not).
func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}

		sort.Strings(keys)

		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + shape(x[k])
		}

		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}

		return "[" + shape(x[0]) + "]"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}

	return "?"
}

// shapes renders a command's output for its golden file: each result's
// shape in order, then the distinct shapes of its progress lines (their
// number depends on timing). The last line must be a result.
func shapes(t *testing.T, what string, vals []map[string]any) string {
	t.Helper()

	var (
		results  []string
		progress = map[string]bool{}
	)

	if last := vals[len(vals)-1]; last["type"] == "progress" {
		t.Fatalf("%s: the last line is not a result: %v", what, last)
	}

	for _, v := range vals {
		if v["type"] == "progress" {
			progress[shape(v)] = true

			continue
		}

		results = append(results, shape(v))
	}

	out := strings.Join(results, "\n") + "\n"

	if len(progress) > 0 {
		ps := make([]string, 0, len(progress))
		for p := range progress {
			ps = append(ps, p)
		}

		sort.Strings(ps)
		out += "progress:\n" + strings.Join(ps, "\n") + "\n"
	}

	return out
}

// golden runs a --json command and compares the shape of what it printed
// with testdata/json/NAME.golden (go test -update-json rewrites it). It
// returns the decoded values for checks of their content.
func (e *env) golden(name string, args ...string) []map[string]any {
	e.t.Helper()

	what := "lifeboat " + strings.Join(args, " ")
	vals := jsonValues(e.t, what, e.mustRun(args...))
	got := shapes(e.t, what, vals)
	path := filepath.Join("testdata", "json", name+".golden")

	if *updateJSON {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			e.t.Fatal(err)
		}

		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			e.t.Fatal(err)
		}

		return vals
	}

	want, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatalf("%s: %v (go test -run %s -update-json writes it)", what, err, e.t.Name())
	}

	if string(want) != got {
		e.t.Errorf("%s: the JSON shape changed (scripts read these names: add fields, never rename or drop them)\nwant:\n%s\ngot:\n%s", what, want, got)
	}

	return vals
}

// TestJSONFilesCommands covers the --json output of every reporting command
// on a files source, against a real repository with a copy and a plan.
func TestJSONFilesCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	near := filepath.Join(t.TempDir(), "near")
	vault := filepath.Join(t.TempDir(), "vault-disk", "lifeboat")
	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n    schedule: \"0 3 * * *\"\n")
	e.writeConfig(readFile(t, e.cfg) + "copies:\n  near:\n    path: " + near + "\n  vault:\n    path: " + vault + "\n    offline: true\n" +
		"plans:\n  files:\n    tier: important\n    steps:\n      - restore: uploads\n")

	if v := e.golden("version", "version", "--json")[0]; v["version"] != toolVersion() {
		t.Errorf("version --json: %v", v)
	}

	if c := e.golden("config-check", "config", "check", "--json")[0]; c["ok"] != true || c["file"] != e.cfg {
		t.Errorf("config check --json: %v", c)
	}

	notes := filepath.Join(t.TempDir(), "notes")
	write(t, filepath.Join(notes, "n.txt"), "note")

	if s := e.golden("source-add", "source", "add", "notes", "--files", notes, "--json")[0]; s["source"] != "notes" || s["type"] != "files" {
		t.Errorf("source add --json: %v", s)
	}

	e.golden("schedule", "schedule", "--json")
	e.golden("init", "init", "--json")

	// Two sources: one line each, then the recovery point they make.
	b := e.golden("backup", "backup", "--json")
	if len(b) != 3 || b[0]["ok"] != true || b[0]["snapshot_type"] != "full" || b[2]["type"] != "point" {
		t.Errorf("backup --json: %v", b)
	}

	e.golden("backup-progress", "backup", "uploads", "--json", "--progress")

	target := filepath.Join(t.TempDir(), "restored")
	if r := e.golden("restore-files", "restore", "uploads", "--target", target, "--json", "--progress"); r[len(r)-1]["target"] != target {
		t.Errorf("restore --json: %v", r[len(r)-1])
	}

	if v := e.golden("verify", "verify", "--json"); v[0]["ok"] != true || v[0]["snapshots"] != json.Number("3") {
		t.Errorf("verify --json: %v", v)
	}

	e.golden("verify-restore-test", "verify", "uploads", "--restore-test", "--json", "--progress")
	e.golden("prune-dry-run", "prune", "--dry-run", "--json")
	e.golden("prune", "prune", "--json")

	// The attached copy is brought up to date; the offline one is absent.
	if r := e.golden("replicate", "replicate", "--json", "--progress"); r[len(r)-1]["absent"] != true || r[len(r)-2]["blobs"] == json.Number("0") {
		t.Errorf("replicate --json: %v", r)
	}

	run := e.golden("drill", "drill", "files", "--json")[0]
	if run["status"] != "ok" || run["mode"] != "drill" {
		t.Errorf("drill --json: %v", run)
	}

	e.golden("drill-dry-run", "drill", "files", "--dry-run", "--json")

	// --json is --format json, for a recorded run and the report.
	if shown := e.golden("drill-show", "drill", "--show", "latest", "--json")[0]; shown["id"] != run["id"] {
		t.Errorf("drill --show latest --json is not the drill: %v", shown["id"])
	}

	if e.mustRun("drill", "--show", "latest", "--json") != e.mustRun("drill", "--show", "latest", "--format", "json") {
		t.Error("drill --show: --json differs from --format json")
	}

	e.golden("report", "report", "--json")
	e.golden("recover-dry-run", "recover", "files", "--dry-run", "--json")

	if run := e.golden("recover", "recover", "files", "--json")[0]; run["status"] != "ok" || run["mode"] != "recover" {
		t.Errorf("recover --json: %v", run)
	}

	if x := e.golden("export-repo", "export-repo", filepath.Join(t.TempDir(), "usb"), "--json")[0]; x["copy"] != "export" || x["ok"] != true {
		t.Errorf("export-repo --json: %v", x)
	}

	id, _ := b[0]["snapshot_id"].(string)
	if p := e.golden("pin", "pin", id, "--reason", "legal hold", "--json")[0]; p["pinned"] != true || p["snapshot_id"] != id {
		t.Errorf("pin --json: %v", p)
	}

	if p := e.golden("unpin", "unpin", id, "--json")[0]; p["pinned"] != false {
		t.Errorf("unpin --json: %v", p)
	}

	if a := e.golden("audit-verify", "audit", "verify", "--json")[0]; a["ok"] != true {
		t.Errorf("audit verify --json: %v", a)
	}

	e.golden("config-versions", "config", "versions", "--json")
}

// TestJSONErrors: under --json a failure keeps its exit code and its
// message on stderr, and stdout carries nothing that is not JSON.
func TestJSONErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")
	e.mustRun("backup", "uploads")

	e.expectFailure(2, []string{"give --json or --format html, not both"}, "report", "--json", "--format", "html")
	e.expectFailure(2, []string{"give --json or --format md, not both"}, "drill", "--show", "latest", "--json", "--format", "md")

	// A restore into a folder that is not empty: the same refusal, and
	// the folder is left as it was.
	target := filepath.Join(t.TempDir(), "busy")
	write(t, filepath.Join(target, "keep.txt"), "mine")

	for _, args := range [][]string{{}, {"--json"}, {"--json", "--progress"}} {
		if r := e.expectFailure(2, []string{"restore target is not empty"}, append([]string{"restore", "uploads", "--target", target}, args...)...); r.out != "" {
			t.Errorf("the refused restore %v printed on stdout: %q", args, r.out)
		}
	}

	if got := readFile(t, filepath.Join(target, "keep.txt")); got != "mine" {
		t.Fatalf("the refused restore changed the target: %q", got)
	}

	// A source that cannot be read: its result says so, and the run is
	// partial (the other source's snapshot is kept).
	e.writeConfig(readFile(t, e.cfg) + "  gone:\n    type: files\n    paths: [" + filepath.Join(t.TempDir(), "nothing-here") + "]\n")

	r := e.expectFailure(ExitPartial, []string{"backup failed for: gone"}, "backup", "--json")

	var failed, ok int

	for _, v := range jsonValues(t, "backup --json", r.out) {
		switch {
		case v["ok"] == true && v["snapshot_id"] != nil:
			ok++
		case v["ok"] == false && v["error"] != "" && v["snapshot_id"] == nil:
			failed++
		}
	}

	if ok != 1 || failed != 1 {
		t.Fatalf("backup --json with one failing source: %d ok, %d failed lines\n%s", ok, failed, r.out)
	}

	// Damaged data: verify --json fails as verify does, and its result
	// names the problems.
	testenv.CorruptPacks(t, filepath.Join(e.dir, "repo"))

	r = e.expectFailure(1, []string{"problem:", "verification failed"}, "verify", "uploads", "--json")

	v := jsonValues(t, "verify --json", r.out)
	if problems, _ := v[0]["problems"].([]any); len(v) != 1 || v[0]["ok"] != false || len(problems) == 0 {
		t.Fatalf("verify --json of a damaged repository:\n%s", r.out)
	}
}

// TestJSONDatabaseRestores covers restore --json in its database forms
// (a full, a backup of binlog, the dry run) against a private MariaDB.
func TestJSONDatabaseRestores(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE sml_library;
		CREATE TABLE sml_library.bookings (id INT PRIMARY KEY AUTO_INCREMENT, room VARCHAR(10));
		INSERT INTO sml_library.bookings (room) VALUES ('A1'), ('A2')`)

	e := newEnv(t, "  db:\n    type: mysql\n    tier: critical\n    socket: "+db.Socket+"\n    user: root\n    databases: [sml_library]\n    binlog: {server_id: 778, segment_seconds: 1}\n")
	e.mustRun("init")

	full := e.golden("backup-database", "backup", "db", "--json")[0]

	db.Exec(t, "INSERT INTO sml_library.bookings (room) VALUES ('B1')")
	e.mustRun("backup", "db", "--type", "incremental")

	if p := e.golden("restore-database-dry-run", "restore", "db", "--dry-run", "--json")[0]; p["dry_run"] != true || p["kind"] != "point" || p["transactions"] != json.Number("1") {
		t.Errorf("restore --dry-run --json: %v", p)
	}

	id, _ := full["snapshot_id"].(string)
	if r := e.golden("restore-database", "restore", "db", "--snapshot", id, "--target-database", "full_copy", "--json", "--progress"); r[len(r)-1]["rows"] != json.Number("2") {
		t.Errorf("restore of the full --json: %v", r[len(r)-1])
	}

	if r := e.golden("restore-point", "restore", "db", "--target-database", "chain_copy", "--json")[0]; r["transactions"] != json.Number("1") || r["kind"] != "point" {
		t.Errorf("restore of the incremental --json: %v", r)
	}

	var rooms string
	if err := db.DB(t, "").QueryRow("SELECT GROUP_CONCAT(room ORDER BY id) FROM chain_copy.bookings").Scan(&rooms); err != nil || rooms != "A1,A2,B1" {
		t.Errorf("chain_copy rooms %q %v", rooms, err)
	}

	dump := filepath.Join(t.TempDir(), "db.sql.gz")
	if x := e.golden("export", "export", "db", "--snapshot", id, "-o", dump, "--json")[0]; x["output"] != dump || x["snapshot_id"] != id {
		t.Errorf("export --json: %v", x)
	}

	if i := e.golden("import", "import", "db", dump, "--database", "sml_library", "--json")[0]; i["source"] != "db" || i["tables"] != json.Number("1") {
		t.Errorf("import --json: %v", i)
	}
}
