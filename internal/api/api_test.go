package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/apitest"
	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

const testPassword = "api-test-password"

// fixture is the API served over real HTTPS on loopback, with its
// self-signed certificate, on a fresh repository with one files source,
// "data", and the real executor.
type fixture struct {
	dir, cfgFile, data string
	cfg                *config.Config
	repo               *repo.Repository
	srv                *Server
	url                string
	addr               string
	client             *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()

	return newFixtureAt(t, clock.Real{})
}

// newFixtureAt is newFixture with the server's clock (the answers' time,
// jobs and sessions) set to clk.
func newFixtureAt(t *testing.T, clk clock.Clock) *fixture {
	t.Helper()

	dir := t.TempDir()
	f := &fixture{dir: dir, data: filepath.Join(dir, "data")}

	for i := range 3 {
		writeFile(t, filepath.Join(f.data, "sub", fmt.Sprintf("f%d.txt", i)), strings.Repeat(fmt.Sprintf("lifeboat %d ", i), 2000))
	}

	yaml := fmt.Sprintf("repository:\n  path: %s\naudit:\n  path: %s\nsources:\n  data:\n    type: files\n    paths: [%s]\n"+
		"server:\n  listen: 127.0.0.1:0\n  read_header_timeout: 1s\n", filepath.Join(dir, "repo"), filepath.Join(dir, "state", "audit.jsonl"), f.data)
	d := apitest.New(t, dir, yaml, testPassword)
	f.cfgFile = d.ConfigFile

	tr, err := NewTransport(d.Cfg, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}

	log := d.Audit
	f.cfg, f.repo = d.Cfg, d.Repo
	f.srv = &Server{
		Cfg: d.Cfg, Repo: d.Repo, Sources: d.Sources, Audit: log, Authority: users(t, d.Repo, log), Transport: tr, Clock: clk,
		Exec: d.Exec,
	}

	// As the daemon does after each job: the trail's copy in the
	// repository follows.
	f.srv.AfterJob = func(ctx context.Context) { f.srv.Exec.CopyAudit(ctx, ops.AuditCopy{Log: log, Warn: io.Discard}) }

	f.serve(t, tr)

	// Jobs a test started and did not follow end before the repository
	// closes (cleanups run last first), or their end writes to a closed
	// repository.
	t.Cleanup(func() { f.endJobs(t) })

	return f
}

// endJobs cancels the jobs still running and waits until each has ended.
func (f *fixture) endJobs(t *testing.T) {
	t.Helper()

	f.srv.jobs.mu.Lock()
	all := make([]*job, 0, len(f.srv.jobs.byID))
	for _, j := range f.srv.jobs.byID {
		all = append(all, j)
	}
	f.srv.jobs.mu.Unlock()

	for _, j := range all {
		j.cancel()
	}

	testenv.Eventually(t, time.Minute, func() bool {
		for _, j := range all {
			if j.snapshot().State == JobRunning {
				return false
			}
		}

		return true
	}, "the jobs the test left running to end")
}

// serve starts the server on a loopback port, with a client that trusts
// only its certificate.
func (f *fixture) serve(t *testing.T, tr *Transport) {
	t.Helper()

	l := apitest.Listen(t)

	base := apitest.Base()
	base.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "lifeboat_up 1") })

	apitest.Serve(t, f.srv, l, base)

	pool := x509.NewCertPool()

	pem, err := os.ReadFile(tr.CertFile)
	if err != nil {
		t.Fatal(err)
	}

	pool.AppendCertsFromPEM(pem)

	f.addr = l.Addr().String()
	f.url = "https://" + f.addr
	f.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Minute}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	apitest.WriteFile(t, path, text)
}

// call sends method path with body (JSON, "" for none) and the header
// pairs; it returns the status and the answer.
func (f *fixture) call(t *testing.T, method, path, body string, header ...string) (int, string) {
	t.Helper()

	resp := f.do(t, method, path, body, header...)
	defer resp.Body.Close()

	b, _ := io.ReadAll(resp.Body)

	return resp.StatusCode, string(b)
}

func (f *fixture) do(t *testing.T, method, path, body string, header ...string) *http.Response {
	t.Helper()

	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}

	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}

	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}

	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}

	return resp
}

func bearer(r access.Role) []string { return []string{"Authorization", "Bearer " + tokenFor(r)} }

// follow reads a job's event stream to its end and returns the events'
// kinds and the job as the end event gives it.
func (f *fixture) follow(t *testing.T, id string, role access.Role) ([]string, Job) {
	t.Helper()

	return f.followWith(t, id, role, nil)
}

// followWith is follow, calling each (if set) with every event's kind as
// it arrives.
func (f *fixture) followWith(t *testing.T, id string, role access.Role, each func(kind string)) ([]string, Job) {
	t.Helper()

	resp := f.do(t, "GET", "/api/v1/jobs/"+id+"/events", "", bearer(role)...)
	defer resp.Body.Close()

	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("events: %s, %s", resp.Status, ct)
	}

	var (
		kinds []string
		kind  string
	)

	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()

		if k, ok := strings.CutPrefix(line, "event: "); ok {
			kind = k
			continue
		}

		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}

		if kind == "end" {
			var j Job
			if err := json.Unmarshal([]byte(data), &j); err != nil {
				t.Fatal(err)
			}

			return kinds, j
		}

		var ev sseEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil || string(ev.Kind) != kind {
			t.Fatalf("event %q has data %s (%v)", kind, data, err)
		}

		kinds = append(kinds, kind)

		if each != nil {
			each(kind)
		}
	}

	t.Fatalf("the event stream of job %s ended without an end event (%v): %v", id, sc.Err(), kinds)

	return nil, Job{}
}

// start posts an action and returns its job.
func (f *fixture) start(t *testing.T, role access.Role, path, body string) Job {
	t.Helper()

	code, out := f.call(t, "POST", path, body, bearer(role)...)
	if code != http.StatusAccepted {
		t.Fatalf("POST %s: %d %s", path, code, out)
	}

	var j Job
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.ID == "" || j.State != JobRunning {
		t.Fatalf("POST %s answered %s (%v)", path, out, err)
	}

	return j
}

func (f *fixture) records(t *testing.T) []audit.Record {
	t.Helper()

	recs, err := audit.Read(f.cfg.Audit.Path)
	if err != nil {
		t.Fatal(err)
	}

	return recs
}
