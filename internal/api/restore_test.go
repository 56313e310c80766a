package api

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// lifeboat builds the real command line once for the package's tests.
func lifeboat(t *testing.T) string {
	t.Helper()

	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lifeboat-api-bin-")
		if err != nil {
			buildErr = err
			return
		}

		binary = filepath.Join(dir, "lifeboat")

		out, err := exec.Command("go", "build", "-o", binary, "lifeboat/cmd/lifeboat").CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})

	if buildErr != nil {
		t.Fatalf("build the lifeboat binary (needs the go tool on PATH): %v\n%s", buildErr, binary)
	}

	return binary
}

// readTree reads every file below dir: path -> contents.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()

	out := map[string]string{}

	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}

		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)

		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	return out
}

// keys are the fields a record sets, as the trail's JSON holds them.
func keys(t *testing.T, r audit.Record) []string {
	t.Helper()

	var m map[string]any

	b, _ := json.Marshal(r)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}

	var out []string

	for k := range m {
		out = append(out, k)
	}

	slices.Sort(out)

	return out
}

// TestRestoreThroughAPIMatchesCLI: a restore started through the API
// gives back the same files as `lifeboat restore` and writes an audit
// record of the same shape (the principal as actor, the request as
// detail); a restore over the source's own data needs an admin.
func TestRestoreThroughAPIMatchesCLI(t *testing.T) {
	f := newFixture(t)
	bin := lifeboat(t)

	if _, end := f.follow(t, f.start(t, access.Operator, "/api/v1/sources/data/backup", "").ID, access.Viewer); end.State != JobSucceeded {
		t.Fatalf("backup: %+v", end)
	}

	cliTarget, apiTarget := filepath.Join(f.dir, "by-cli"), filepath.Join(f.dir, "by-api")

	cmd := exec.Command(bin, "--config", f.cfgFile, "restore", "data", "--target", cliTarget)
	cmd.Env = append(os.Environ(), "LIFEBOAT_PASSWORD="+testPassword)

	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lifeboat restore: %v\n%s", err, out)
	}

	j := f.start(t, access.Operator, "/api/v1/restore", `{"source": "data", "target": "`+apiTarget+`"}`)
	if _, end := f.follow(t, j.ID, access.Operator); end.State != JobSucceeded {
		t.Fatalf("restore through the API: %+v", end)
	}

	want := readTree(t, f.data)
	if got := readTree(t, apiTarget); !mapsEqual(got, want) {
		t.Errorf("the API's restore holds %d files, the source %d", len(got), len(want))
	}

	if got := readTree(t, cliTarget); !mapsEqual(got, want) {
		t.Errorf("the command line's restore holds %d files, the source %d", len(got), len(want))
	}

	var byCLI, byAPI *audit.Record

	for _, r := range f.records(t) {
		if r.Action != "restore" {
			continue
		}

		if strings.HasSuffix(r.Actor, "(api)") {
			byAPI = &r
		} else {
			byCLI = &r
		}
	}

	if byCLI == nil || byAPI == nil {
		t.Fatalf("restore records: command line %+v, API %+v", byCLI, byAPI)
	}

	if ck, ak := keys(t, *byCLI), keys(t, *byAPI); !slices.Equal(ck, ak) {
		t.Errorf("the records' fields differ: command line %v, API %v", ck, ak)
	}

	if byCLI.Source != byAPI.Source || byCLI.Outcome != byAPI.Outcome || byCLI.Snapshot != byAPI.Snapshot || byCLI.Key != byAPI.Key {
		t.Errorf("the records differ:\n command line %+v\n API          %+v", byCLI, byAPI)
	}

	if byAPI.Actor != "token:ci-operator (api)" || !strings.Contains(byAPI.Detail, "api POST /api/v1/restore") || !strings.Contains(byAPI.Detail, apiTarget) {
		t.Errorf("the API's record: %+v", byAPI)
	}

	production(t, f)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}

	for k, v := range a {
		if b[k] != v {
			return false
		}
	}

	return true
}

// production: a restore into the source's own folder is refused to an
// operator (and audited as refused); an admin may ask, and the restore's
// own checks still keep the existing files.
func production(t *testing.T, f *fixture) {
	t.Helper()

	before := readTree(t, f.data)
	body := `{"source": "data", "target": "` + filepath.Join(f.data, "sub") + `"}`

	code, out := f.call(t, "POST", "/api/v1/restore", body, bearer(access.Operator)...)
	if code != http.StatusForbidden || !strings.Contains(out, "restore-production") || !strings.Contains(out, "scratch target") {
		t.Fatalf("an operator restoring over production: %d %s", code, out)
	}

	refused := false

	for _, r := range f.records(t) {
		refused = refused || r.Action == "restore" && r.Outcome == audit.Refused && r.Actor == "token:ci-operator (api)"
	}

	if !refused {
		t.Error("the refused restore over production is not in the audit trail")
	}

	j := f.start(t, access.Admin, "/api/v1/restore", body)
	if _, end := f.follow(t, j.ID, access.Admin); end.State != JobFailed || !strings.Contains(end.Error, "overwrite") {
		t.Fatalf("an admin restoring over a non-empty folder without overwrite: %+v", end)
	}

	if after := readTree(t, f.data); !mapsEqual(after, before) {
		t.Error("the refused restores changed the source's files")
	}
}
