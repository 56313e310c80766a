package cli

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"lifeboat/internal/testenv"
)

// s3Env is an installation whose repository is a bucket on a private
// SeaweedFS.
func s3Env(t *testing.T, srv *testenv.S3, bucket, sources string) *env {
	t.Helper()

	e := newEnv(t, sources)
	e.writeConfig("repository:\n  url: s3://" + bucket + "/sml\n  endpoint: " + srv.Endpoint + "\n  tls: false\n" +
		"audit:\n  path: " + filepath.Join(e.dir, "audit.jsonl") + "\nsources:\n" + sources)
	e.vars["AWS_ACCESS_KEY_ID"] = srv.AccessKey
	e.vars["AWS_SECRET_ACCESS_KEY"] = srv.SecretKey

	return e
}

// TestS3Repository: init, backup, restore, verify and a restore test with the
// repository in a bucket of a real S3-compatible server; a server stopped
// mid-upload fails the backup cleanly and the next one succeeds; wrong
// credentials, a missing bucket and a missing key are named.
func TestS3Repository(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "lifeboat")

	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	e := s3Env(t, srv, "lifeboat", "  uploads:\n    type: files\n    paths: ["+data+"]\n")

	if out := e.mustRun("init"); !strings.Contains(out, "s3://lifeboat/sml at "+srv.Endpoint) {
		t.Fatalf("init: %s", out)
	}

	e.mustRun("backup", "uploads")

	target := filepath.Join(t.TempDir(), "restored")
	e.mustRun("restore", "uploads", "--target", target)
	diffPrints(t, "restore from S3", fingerprint(t, data), fingerprint(t, target))

	if out := e.mustRun("verify", "--restore-test"); strings.Count(out, "OK") != 2 {
		t.Fatalf("verify: %s", out)
	}

	// Nothing in the bucket is plaintext.
	cli, _ := srv.Client()
	for obj := range cli.ListObjects(t.Context(), "lifeboat", minioList()) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}

		if !strings.HasPrefix(obj.Key, "sml/") {
			t.Fatalf("object outside the prefix: %s", obj.Key)
		}
	}

	// The server goes away in the middle of a backup.
	big := filepath.Join(data, "big")
	os.MkdirAll(big, 0o755)

	for i := 0; i < 4; i++ {
		b := make([]byte, 8<<20)
		rand.Read(b)
		os.WriteFile(filepath.Join(big, "f"+string(rune('a'+i))), b, 0o644)
	}

	// Bandwidth capped in business hours only: outside them (hours on
	// another day of the week) a backup is not capped.
	other := time.Weekday((int(time.Now().Weekday()) + 2) % 7).String()[:3]
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "  tls: false\n", "  tls: false\n  upload_limit: {rate: 2MB/s, during: \""+other+" 00:00-24:00\"}\n", 1))

	if r := e.run("-v", "snapshots"); r.code != 0 || !strings.Contains(r.err, "upload limit") || !strings.Contains(r.err, "now=none limit=2MB/s hours=\""+other+" 00:00-24:00\"") {
		t.Fatalf("outside its hours the upload limit should be off:\n%s%s", r.out, r.err)
	}

	// In its hours the upload takes long enough to be cut.
	e.writeConfig(strings.Replace(readFile(t, e.cfg), other+" 00:00-24:00", "00:00-24:00", 1))

	if r := e.run("-v", "snapshots"); r.code != 0 || !strings.Contains(r.err, "now=2MB/s limit=2MB/s hours=00:00-24:00") {
		t.Fatalf("in its hours the upload limit should be on:\n%s%s", r.out, r.err)
	}

	before := len(e.snapshots("uploads"))
	done := make(chan result)

	go func() { done <- e.run("backup", "uploads") }()

	// Gone for five seconds in the middle of the upload: the backup retries
	// and finishes, or fails cleanly; never a partial snapshot.
	time.Sleep(1500 * time.Millisecond) // the outage starts while the upload runs: fault timing, not a wait
	srv.Stop()
	time.Sleep(5 * time.Second) // the length of the outage the backup must ride out

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}

	var r result

	select {
	case r = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the backup neither finished nor failed within 5 minutes of the server coming back")
	}

	switch after := len(e.snapshots("uploads")); {
	case r.code == 0 && after == before+1:
		t.Logf("the backup rode out the outage: %s", strings.TrimSpace(r.out))
	case r.code == 1 && after == before:
		t.Logf("the backup failed cleanly: %s", strings.TrimSpace(r.err))
	default:
		t.Fatalf("backup across the outage: exit %d, %d snapshots (had %d)\n%s%s", r.code, after, before, r.out, r.err)
	}

	e.writeConfig(strings.Replace(readFile(t, e.cfg), "  upload_limit: {rate: 2MB/s, during: \"00:00-24:00\"}\n", "", 1))
	if strings.Contains(readFile(t, e.cfg), "upload_limit") {
		t.Fatal("the upload limit is still in the configuration")
	}

	// A large file is read back in ranges at once: it must come back whole,
	// with its mode and time.
	huge := make([]byte, 21<<20+12345)
	rand.Read(huge)

	hugePath := filepath.Join(data, "big", "huge.bin")
	os.WriteFile(hugePath, huge, 0o640)

	old := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(hugePath, old, old)

	e.mustRun("backup", "uploads")
	e.mustRun("verify", "uploads")

	target = filepath.Join(t.TempDir(), "restored-again")
	e.mustRun("restore", "uploads", "--target", target)
	diffPrints(t, "restore with a large file from S3", fingerprint(t, data), fingerprint(t, target))

	// Wrong credentials: named, exit 2, the secret never printed.
	e.vars["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-value-123"
	r = e.expectFailure(2, []string{"refused the credentials"}, "snapshots")
	if strings.Contains(r.out+r.err, "wrong-secret-value-123") || strings.Contains(r.out+r.err, srv.SecretKey) {
		t.Fatal("a secret key reached the output")
	}

	e.vars["AWS_SECRET_ACCESS_KEY"] = srv.SecretKey

	// No key at all.
	delete(e.vars, "AWS_ACCESS_KEY_ID")
	e.expectFailure(2, []string{"repository.access_key_env", "$AWS_ACCESS_KEY_ID is not set"}, "snapshots")
	e.vars["AWS_ACCESS_KEY_ID"] = srv.AccessKey

	// A bucket that does not exist is not created.
	e2 := s3Env(t, srv, "no-such-bucket", "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e2.expectFailure(2, []string{"the bucket does not exist: no-such-bucket"}, "init")

	if ok, _ := cli.BucketExists(t.Context(), "no-such-bucket"); ok {
		t.Fatal("init created the bucket")
	}

	var buf bytes.Buffer
	buf.WriteString(e.mustRun("status"))

	if !strings.Contains(buf.String(), "uploads") {
		t.Fatalf("status: %s", buf.String())
	}
}

func minioList() minio.ListObjectsOptions { return minio.ListObjectsOptions{Recursive: true} }

// TestS3Copies: replicate from a local repository to a bucket and from a
// bucket to a local folder; each copy restores on its own, the bucket copy
// with the local repository gone.
func TestS3Copies(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "offsite")
	srv.MakeBucket(t, "primary")

	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	s3Copy := "copies:\n  offsite:\n    url: s3://offsite/lifeboat\n    endpoint: " + srv.Endpoint + "\n    tls: false\n"

	// Local repository, copy in the bucket.
	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.writeConfig(readFile(t, e.cfg) + s3Copy)
	e.vars["AWS_ACCESS_KEY_ID"] = srv.AccessKey
	e.vars["AWS_SECRET_ACCESS_KEY"] = srv.SecretKey
	e.mustRun("init")
	e.mustRun("backup", "uploads")

	if out := e.mustRun("replicate"); !strings.Contains(out, "copy offsite (s3://offsite/lifeboat at "+srv.Endpoint+")") {
		t.Fatalf("replicate to S3:\n%s", out)
	}

	os.Rename(filepath.Join(e.dir, "repo"), filepath.Join(e.dir, "repo.gone"))

	target := filepath.Join(t.TempDir(), "from-s3")
	r := e.run("restore", "uploads", "--target", target)

	if r.code != 0 || !strings.Contains(r.err, "reading from copy offsite") {
		t.Fatalf("restore with the local repository gone: exit %d\n%s%s", r.code, r.out, r.err)
	}

	diffPrints(t, "restore from the S3 copy", fingerprint(t, data), fingerprint(t, target))

	// Repository in the bucket, copy in a local folder.
	local := filepath.Join(t.TempDir(), "local-copy")
	e2 := s3Env(t, srv, "primary", "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e2.writeConfig(readFile(t, e2.cfg) + "copies:\n  disk:\n    path: " + local + "\n")
	e2.mustRun("init")
	e2.mustRun("backup", "uploads")
	e2.mustRun("replicate", "--to", "disk")

	target = filepath.Join(t.TempDir(), "from-disk")
	e2.mustRun("--from", "disk", "restore", "uploads", "--target", target)
	diffPrints(t, "restore from the local copy of the S3 repository", fingerprint(t, data), fingerprint(t, target))
}

// TestS3Immutability: a repository with immutable_for on a bucket with
// Object Lock; check-immutability proves the backup credentials cannot
// delete, overwrite or unlock locked data; prune keeps what is locked; a
// bucket without Object Lock is refused.
func TestS3Immutability(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "plain")

	cli, _ := srv.Client()
	if err := cli.MakeBucket(t.Context(), "locked", minio.MakeBucketOptions{ObjectLocking: true}); err != nil {
		t.Fatal(err)
	}

	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	sources := "  uploads:\n    type: files\n    paths: [" + data + "]\n    retention: {latest: 1}\n" +
		"  logs:\n    type: files\n    paths: [" + data + "]\n    retention: {within: 90d}\n"

	e := s3Env(t, srv, "plain", sources)
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "  tls: false\n", "  tls: false\n  immutable_for: 1d\n  lock_mode: compliance\n", 1))
	e.expectFailure(2, []string{"the bucket has no Object Lock", "--object-lock-enabled-for-bucket"}, "init")

	e = s3Env(t, srv, "locked", sources)
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "  tls: false\n", "  tls: false\n  immutable_for: 1d\n", 1))
	e.mustRun("init")
	e.mustRun("backup", "uploads")
	write(t, filepath.Join(data, "later.txt"), "later")
	e.mustRun("backup", "uploads")

	// Retention says keep 1; the lock keeps both.
	out := e.mustRun("prune", "--dry-run", "--source", "uploads")
	if !strings.Contains(out, "under Object Lock until") {
		t.Fatalf("prune --dry-run:\n%s", out)
	}

	e.mustRun("prune", "--source", "uploads")

	if n := len(e.snapshots("uploads")); n != 2 {
		t.Fatalf("prune deleted a locked snapshot: %d left", n)
	}

	// A short probe lock, to watch the next check remove the probe.
	defer func(d time.Duration) { probeLock = d }(probeLock)
	probeLock = 6 * time.Second

	r := e.run("check-immutability")
	if r.code != 0 {
		t.Fatalf("check-immutability: exit %d\n%s%s", r.code, r.out, r.err)
	}

	for _, want := range []string{"COMPLIANCE", "delete a locked version: refused", "the locked version reads back unchanged: ok", "shorten its lock: refused", "immutable: every attempt"} {
		if !strings.Contains(r.out, want) {
			t.Fatalf("check-immutability lacks %q:\n%s", want, r.out)
		}
	}

	if !strings.Contains(r.err, "sources.logs keeps snapshots up to 90d") {
		t.Fatalf("no warning about a retention longer than the lock:\n%s", r.err)
	}

	probeVersions := func() []string {
		var keys []string

		for obj := range cli.ListObjects(t.Context(), "locked", minio.ListObjectsOptions{Prefix: "sml/lifeboat-lock-probe/", Recursive: true, WithVersions: true}) {
			if obj.Err != nil {
				t.Fatal(obj.Err)
			}

			keys = append(keys, obj.Key)
		}

		return keys
	}

	first := probeVersions()
	if len(first) != 2 {
		t.Fatalf("the probe should have its locked version and the one written over it: %v", first)
	}

	// Once the probe's lock has ended, the next check removes it.
	time.Sleep(7 * time.Second) // the object store's own clock must pass the probe's lock; no clock of ours can move it

	r = e.run("check-immutability")
	if r.code != 0 || !strings.Contains(r.out, "removed 2 object versions of earlier checks' probes") {
		t.Fatalf("the second check-immutability did not remove the first probe: exit %d\n%s%s", r.code, r.out, r.err)
	}

	if now := probeVersions(); len(now) != 2 || now[0] == first[0] {
		t.Fatalf("after the second check the bucket should hold only its probe: before %v, now %v", first, now)
	}

	// The backup credentials themselves cannot remove a locked data object.
	var victim minio.ObjectInfo

	for obj := range cli.ListObjects(t.Context(), "locked", minio.ListObjectsOptions{Prefix: "sml/p", Recursive: true, WithVersions: true}) {
		if obj.Err == nil && victim.Key == "" {
			victim = obj
		}
	}

	if victim.Key == "" {
		t.Fatal("no data object in the bucket")
	}

	if err := cli.RemoveObject(t.Context(), "locked", victim.Key, minio.RemoveObjectOptions{VersionID: victim.VersionID}); err == nil {
		t.Fatalf("deleting locked version %s of %s succeeded", victim.VersionID, victim.Key)
	}

	e.mustRun("verify")

	// --json: the same proof, attempt by attempt.
	if c := e.golden("check-immutability", "check-immutability", "--json")[0]; c["immutable"] != true || c["delete_refused"] != true || c["lock_mode"] != "COMPLIANCE" {
		t.Fatalf("check-immutability --json: %v", c)
	}
}

// TestS3TLSAndClock: TLS with a private CA (ca_file) works, a certificate
// nobody told Lifeboat to trust is refused with the fix, and a storage that
// reports the clock too far off is named.
func TestS3TLSAndClock(t *testing.T) {
	srv := testenv.StartS3TLS(t)
	srv.MakeBucket(t, "secure")

	data := filepath.Join(t.TempDir(), "uploads")
	makeUploads(t, data)

	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	base := "repository:\n  url: s3://secure/sml\n  endpoint: " + srv.Endpoint + "\n"
	rest := "audit:\n  path: " + filepath.Join(e.dir, "audit.jsonl") + "\nsources:\n  uploads:\n    type: files\n    paths: [" + data + "]\n"
	e.vars["AWS_ACCESS_KEY_ID"] = srv.AccessKey
	e.vars["AWS_SECRET_ACCESS_KEY"] = srv.SecretKey

	// TLS is on by default; the private CA is not trusted until named.
	e.writeConfig(base + rest)
	e.expectFailure(1, []string{"TLS certificate of " + srv.Endpoint + " is not trusted", "ca_file"}, "init")

	e.writeConfig(base + "  ca_file: " + srv.CAFile + "\n" + rest)
	e.mustRun("init")
	e.mustRun("backup", "uploads")

	target := filepath.Join(t.TempDir(), "r")
	e.mustRun("restore", "uploads", "--target", target)
	diffPrints(t, "restore over TLS", fingerprint(t, data), fingerprint(t, target))

	// A storage whose clock is far from ours refuses every signed request
	// with RequestTimeTooSkewed, as S3 does.
	skewed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the server's time is too large.</Message><Resource>%s</Resource><RequestId>1</RequestId></Error>`, r.URL.Path)
	}))
	defer skewed.Close()

	e.writeConfig("repository:\n  url: s3://secure/sml\n  endpoint: " + strings.TrimPrefix(skewed.URL, "http://") + "\n  tls: false\n" + rest)
	e.expectFailure(1, []string{"clock is too far from the storage's", "NTP"}, "snapshots")
}

// TestS3RestoreReadahead: a restore from a bucket fetches stretches of packs
// ahead of kopia and serves its reads from them. Hundreds of small files in
// many directories, large files, identical files in two directories, an
// empty file and a symlink come back exactly, from the newest snapshot and
// from an older one whose packs the newer shares, and over an existing
// folder; a few dozen requests serve hundreds of reads.
func TestS3RestoreReadahead(t *testing.T) {
	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "lifeboat")

	data := filepath.Join(t.TempDir(), "uploads")
	files := 0

	for d := range 12 {
		for f := range 40 {
			b := make([]byte, 1024+(d*40+f)*97%40000)
			rand.Read(b)
			write(t, filepath.Join(data, fmt.Sprintf("d%02d", d), fmt.Sprintf("f%03d.bin", f)), string(b))
			files++
		}
	}

	for i := range 3 {
		b := make([]byte, 6<<20+i*(1<<20)+333)
		rand.Read(b)
		write(t, filepath.Join(data, "large", fmt.Sprintf("l%d.bin", i)), string(b))
	}

	same := make([]byte, 30000)
	rand.Read(same)
	write(t, filepath.Join(data, "d03", "same.bin"), string(same))
	write(t, filepath.Join(data, "d09", "same.bin"), string(same))
	write(t, filepath.Join(data, "d05", "empty"), "")
	os.Symlink("../large/l0.bin", filepath.Join(data, "d07", "link"))

	e := s3Env(t, srv, "lifeboat", "  uploads:\n    type: files\n    paths: ["+data+"]\n")

	// Before init: the bucket holds no repository, and says so.
	e.expectFailure(ExitNoRepository, []string{"no repository here", "lifeboat init"}, "snapshots")
	e.mustRun("init")
	e.mustRun("backup", "uploads")
	first := fingerprint(t, data)
	firstID := e.snapshots("uploads")[0].ID

	// The second backup rewrites a third of the files: its restore reads
	// packs of both backups.
	for d := 0; d < 12; d += 3 {
		for f := range 40 {
			b := make([]byte, 2000+f*50)
			rand.Read(b)
			write(t, filepath.Join(data, fmt.Sprintf("d%02d", d), fmt.Sprintf("f%03d.bin", f)), string(b))
		}
	}

	e.mustRun("backup", "uploads")

	stats := func(stderr string, what ...string) (requests, served, passthrough int) {
		t.Helper()

		op := append(what, "restore")[0]

		i := strings.Index(stderr, `msg="`+op+` readahead"`)
		if i < 0 {
			t.Fatalf("the %s did not read ahead:\n%s", op, stderr)
		}

		if _, err := fmt.Sscanf(stderr[i:], `msg="`+op+` readahead" requests=%d bytes=%d served=%d passthrough=%d`, &requests, new(int), &served, &passthrough); err != nil {
			t.Fatalf("readahead line: %v\n%s", err, stderr[i:])
		}

		return requests, served, passthrough
	}

	target := filepath.Join(t.TempDir(), "latest")
	r := e.run("-v", "restore", "uploads", "--target", target)

	if r.code != 0 {
		t.Fatalf("restore: %s%s", r.out, r.err)
	}

	diffPrints(t, "restore of the newest snapshot", fingerprint(t, data), fingerprint(t, target))

	requests, served, passthrough := stats(r.err)
	t.Logf("newest: %d requests, %d reads served, %d passed through", requests, served, passthrough)

	if served < files*3/4 || requests > files/5 {
		t.Fatalf("%d requests served %d reads (%d passed through) for %d files: not reading ahead", requests, served, passthrough, files)
	}

	// Verification reads every file back the same way, four at a time.
	r = e.run("-v", "verify", "uploads")
	if r.code != 0 || !strings.Contains(r.out, "OK") {
		t.Fatalf("verify: %s%s", r.out, r.err)
	}

	if requests, served, _ := stats(r.err, "verify"); served < files*3/4 || requests > files/5 {
		t.Fatalf("verify: %d requests served %d reads for %d files: not reading ahead", requests, served, files)
	}

	older := filepath.Join(t.TempDir(), "older")
	r = e.run("-v", "restore", "uploads", "--snapshot", firstID, "--target", older)

	if r.code != 0 {
		t.Fatalf("restore: %s%s", r.out, r.err)
	}

	diffPrints(t, "restore of the older snapshot", first, fingerprint(t, older))

	// Over the newest restore: the older snapshot's files replace it.
	r = e.run("-v", "restore", "uploads", "--snapshot", firstID, "--target", target, "--overwrite")
	if r.code != 0 {
		t.Fatalf("restore --overwrite: %s%s", r.out, r.err)
	}

	diffPrints(t, "restore over the newest", first, fingerprint(t, target))
}
