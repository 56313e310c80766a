package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"lifeboat/internal/audit"
	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// storedAudit is the repository's copy of the audit trail: every stored
// piece's bytes by segment ID, and the records they hold by sequence number.
type storedAudit struct {
	pieces map[string]string
	bySeq  map[int64]audit.Record
}

// auditPieces opens the repository and hands its stored audit pieces to fn.
func (e *env) auditPieces(fn func(ctx context.Context, r *repo.Repository, segs []*repo.Segment)) {
	e.t.Helper()

	ctx := context.Background()

	r, err := repo.Open(ctx, filepath.Join(e.dir, "repo"), repo.Password{Value: testPassword, Origin: "test"}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close(ctx)

	segs, err := r.Segments(ctx, "_audit")
	if err != nil {
		e.t.Fatal(err)
	}

	fn(ctx, r, segs)
}

func (e *env) storedAudit() storedAudit {
	e.t.Helper()

	s := storedAudit{pieces: map[string]string{}, bySeq: map[int64]audit.Record{}}

	e.auditPieces(func(ctx context.Context, r *repo.Repository, segs []*repo.Segment) {
		for _, seg := range segs {
			rc, err := r.OpenSegment(ctx, seg)
			if err != nil {
				e.t.Fatal(err)
			}

			b, err := io.ReadAll(rc)
			rc.Close()

			if err != nil {
				e.t.Fatal(err)
			}

			s.pieces[seg.ID] = string(b)

			recs, err := audit.Parse(bytes.NewReader(b))
			if err != nil {
				e.t.Fatal(err)
			}

			for _, rec := range recs {
				s.bySeq[rec.Seq] = rec
			}
		}
	})

	return s
}

// deleteStoredAudit removes the repository's copy of the trail, as someone
// holding the password could.
func (e *env) deleteStoredAudit() {
	e.t.Helper()

	e.auditPieces(func(ctx context.Context, r *repo.Repository, segs []*repo.Segment) {
		if len(segs) == 0 {
			e.t.Fatal("no stored audit trail to delete")
		}

		for _, s := range segs {
			if err := r.DeleteSegment(ctx, s.ID); err != nil {
				e.t.Fatal(err)
			}
		}
	})
}

// rewriteLog edits the local log: edit changes the records (by index), then
// every record from the first index given on is re-chained with plain
// SHA-256, which is all someone without the repository's key can do.
func rewriteLog(t *testing.T, path string, from int, edit func([]audit.Record)) {
	t.Helper()

	recs, err := audit.Read(path)
	if err != nil {
		t.Fatal(err)
	}

	edit(recs)

	var out bytes.Buffer

	for i := range recs {
		if i >= from {
			if i > 0 {
				recs[i].Prev = recs[i-1].Hash
			}

			recs[i].Hash = ""
			b, _ := json.Marshal(recs[i])
			h := sha256.Sum256(b)
			recs[i].Hash = hex.EncodeToString(h[:])
		}

		b, _ := json.Marshal(recs[i])
		out.Write(append(b, '\n'))
	}

	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

var keyField = regexp.MustCompile(`,"key":"[0-9a-f]*"`)

// stripKey drops the key ID from a record, through its JSON.
func stripKey(t *testing.T, r *audit.Record) {
	t.Helper()

	b, _ := json.Marshal(r)

	var stripped audit.Record
	if err := json.Unmarshal(keyField.ReplaceAll(b, nil), &stripped); err != nil {
		t.Fatal(err)
	}

	*r = stripped
}

func wantIn(t *testing.T, what, text string, want ...string) {
	t.Helper()

	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// TestAuditRechainedLogIsRefused: a record edited and the log re-chained with
// plain SHA-256 (keeping or dropping the key IDs) is refused by the next
// backup, loudly and on the record, and the repository's copy stays as it
// was; `audit verify`, `status` and `verify` name the edited record; moving
// the log aside brings the stored trail back, which then grows again.
func TestAuditRechainedLogIsRefused(t *testing.T) {
	e, data := filesEnv(t)
	write(t, filepath.Join(data, "b.txt"), "beta")
	e.mustRun("backup")

	log := filepath.Join(e.dir, "audit.jsonl")
	before := e.storedAudit()

	if len(before.bySeq) < 3 {
		t.Fatalf("the repository holds %d audit records, want the whole log", len(before.bySeq))
	}

	for _, c := range []struct {
		name  string
		strip bool
	}{{"re-chained", false}, {"re-chained without its keys", true}} {
		// Record 2 is the first backup: say it failed.
		rewriteLog(t, log, 1, func(recs []audit.Record) {
			if recs[1].Action != "backup" {
				t.Fatalf("record 2 is %q, not the first backup", recs[1].Action)
			}

			recs[1].Outcome = audit.Failed

			if c.strip {
				for i := 1; i < len(recs); i++ {
					stripKey(t, &recs[i])
				}
			}
		})

		r := e.run("backup")
		if r.code != 0 {
			t.Fatalf("%s: backup: exit %d: %s", c.name, r.code, r.err)
		}

		wantIn(t, c.name+": backup's stderr", r.err, "error: the audit log "+log+" does not extend the repository's copy", "audit record 2")

		after := e.storedAudit()
		if len(after.pieces) != len(before.pieces) {
			t.Fatalf("%s: the repository's copy changed: %d pieces, were %d", c.name, len(after.pieces), len(before.pieces))
		}

		for id, b := range before.pieces {
			if after.pieces[id] != b {
				t.Fatalf("%s: stored piece %s was replaced or changed", c.name, id)
			}
		}

		v := e.expectFailure(1, []string{"has been tampered with", "audit record 2"}, "audit", "verify")
		if strings.Contains(v.out, "intact") {
			t.Errorf("%s: audit verify still says intact: %s", c.name, v.out)
		}

		st := e.run("status")
		if st.code != 1 {
			t.Errorf("%s: status exit %d, want 1", c.name, st.code)
		}

		// status wraps the problem to fit the terminal.
		wantIn(t, c.name+": status", strings.Join(strings.Fields(st.out), " "), "audit trail: PROBLEM", "does not extend the repository's copy", "audit record")

		vr := e.run("verify")
		if vr.code != 1 {
			t.Errorf("%s: verify exit %d, want 1", c.name, vr.code)
		}

		wantIn(t, c.name+": verify", vr.out, "audit trail: PROBLEM", "audit record 2")
		wantIn(t, c.name+": the audit log", readFile(t, log), `"action":"audit copy"`, `"outcome":"refused"`)

		// The fix the message gives: keep the edited log aside; the next
		// command brings back the stored trail.
		if err := os.Rename(log, log+".edited-"+strconv.FormatBool(c.strip)); err != nil {
			t.Fatal(err)
		}

		st = e.run("status")
		if st.code != 0 {
			t.Errorf("%s: status after moving the log aside: exit %d:\n%s%s", c.name, st.code, st.out, st.err)
		}

		wantIn(t, c.name+": status after moving the log aside", st.err, "was missing: restored its")

		out := e.mustRun("audit", "verify")
		wantIn(t, c.name+": audit verify after the restore", out, "the hash chain is intact", "the repository's copy")

		restored, _ := audit.Read(log)
		if restored[1].Outcome != audit.OK || restored[1].Hash != before.bySeq[2].Hash {
			t.Fatalf("%s: record 2 after the restore: %+v", c.name, restored[1])
		}
	}

	// The trail grows again from the restored log.
	e.mustRun("backup")

	after := e.storedAudit()
	for seq, rec := range before.bySeq {
		if after.bySeq[seq].Hash != rec.Hash {
			t.Fatalf("stored record %d changed", seq)
		}
	}

	if len(after.bySeq) <= len(before.bySeq) {
		t.Fatalf("the stored trail did not grow: %d records", len(after.bySeq))
	}
}

// TestAuditLocalLogDeletedIsRestored: a backup after the local log was
// deleted brings the log back from the repository's copy and extends the
// copy; the stored trail loses nothing.
func TestAuditLocalLogDeletedIsRestored(t *testing.T) {
	e, _ := filesEnv(t)
	e.mustRun("backup")

	log := filepath.Join(e.dir, "audit.jsonl")
	before := e.storedAudit()

	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}

	r := e.run("backup")
	if r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, r.err)
	}

	wantIn(t, "backup's stderr", r.err, "was missing: restored its "+strconv.Itoa(len(before.bySeq))+" records from the repository's copy")

	after := e.storedAudit()
	for id, b := range before.pieces {
		if after.pieces[id] != b {
			t.Fatalf("stored piece %s was deleted or changed", id)
		}
	}

	local, err := audit.Read(log)
	if err != nil {
		t.Fatal(err)
	}

	if len(after.bySeq) != len(local) || len(local) <= len(before.bySeq) {
		t.Fatalf("local log %d records, stored %d, stored before %d", len(local), len(after.bySeq), len(before.bySeq))
	}

	for _, rec := range local {
		if after.bySeq[rec.Seq].Hash != rec.Hash {
			t.Fatalf("local record %d differs from the stored one", rec.Seq)
		}
	}

	wantIn(t, "the audit log", readFile(t, log), `"action":"audit restore"`)
	wantIn(t, "audit verify", e.mustRun("audit", "verify"), "the hash chain is intact")
}

// TestAuditRepositoryCopyGone: with the repository's copy deleted, `audit
// verify`, `verify` and `status` all fail and say so; `audit verify` also
// fails, saying why, when it has no password or no repository, or the copy
// is damaged. The next backup stores the log as a new copy, and says so.
func TestAuditRepositoryCopyGone(t *testing.T) {
	e, _ := filesEnv(t)
	e.deleteStoredAudit()

	st := e.run("status")
	if st.code != 1 {
		t.Errorf("status exit %d, want 1:\n%s", st.code, st.out)
	}

	wantIn(t, "status", st.out, "audit trail: PROBLEM: the repository's copy of the audit log was deleted")
	wantIn(t, "status's error", st.err, "the audit trail has a problem")

	vr := e.run("verify")
	if vr.code != 1 {
		t.Errorf("verify exit %d, want 1:\n%s", vr.code, vr.out)
	}

	wantIn(t, "verify", vr.out, "audit trail: PROBLEM: the repository's copy of the audit log was deleted")
	e.expectFailure(1, []string{"the repository's copy of the audit log was deleted", "nothing is left to check them against"}, "audit", "verify")

	r := e.run("backup")
	wantIn(t, "backup's stderr", r.err, "warning: the repository's copy of the audit log was deleted: stored this machine's log as a new copy")
	e.mustRun("status")
	wantIn(t, "audit verify", e.mustRun("audit", "verify"), "the hash chain is intact")

	// No password: the local chain is checked, the copy cannot be.
	delete(e.vars, EnvPassword)
	e.expectFailure(2, []string{"neither their MACs nor the repository's copy can be checked", "no password", EnvPassword}, "audit", "verify")
	e.vars[EnvPassword] = testPassword

	// No repository.
	repoDir := filepath.Join(e.dir, "repo")
	if err := os.Rename(repoDir, repoDir+".away"); err != nil {
		t.Fatal(err)
	}

	e.expectFailure(ExitNoRepository, []string{"the repository's copy cannot be checked, the repository does not open", "no repository here"}, "audit", "verify")

	if err := os.Rename(repoDir+".away", repoDir); err != nil {
		t.Fatal(err)
	}

	// A damaged copy.
	testenv.CorruptPacks(t, repoDir)
	e.expectFailure(1, []string{"the repository's copy of the audit log is damaged"}, "audit", "verify")
}

// TestAuditLegacyTrailStillVerifies: a log and a whole stored copy written
// before the chain was keyed still verify, as legacy records; keyed records
// extend them and the old copy stays in the repository.
func TestAuditLegacyTrailStillVerifies(t *testing.T) {
	data := filepath.Join(t.TempDir(), "uploads")
	write(t, filepath.Join(data, "a.txt"), "alpha")
	e := newEnv(t, "  uploads:\n    type: files\n    paths: ["+data+"]\n")
	e.mustRun("init")

	// What an older version left: unkeyed records, and a whole copy of
	// them in the repository labelled as it labelled them.
	log := filepath.Join(e.dir, "audit.jsonl")
	for i := 0; i < 3; i++ {
		if _, err := (&audit.Log{Path: log}).Append(audit.Record{Action: "backup", Source: "uploads", Outcome: audit.OK}); err != nil {
			t.Fatal(err)
		}
	}

	b := readFile(t, log)
	if keyField.MatchString(b) {
		t.Fatalf("not a legacy log:\n%s", b)
	}

	recs, _ := audit.Read(log)

	ctx := context.Background()

	r, err := repo.Open(ctx, filepath.Join(e.dir, "repo"), repo.Password{Value: testPassword, Origin: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	legacy, err := r.PutSegment(ctx, "_audit", map[string]string{"kind": "audit", "records": "3", "last_hash": recs[2].Hash}, strings.NewReader(b))
	r.Close(ctx)

	if err != nil {
		t.Fatal(err)
	}

	e.mustRun("backup")
	e.mustRun("backup")

	out := e.mustRun("audit", "verify")
	wantIn(t, "audit verify", out, "legacy, unkeyed up to seq 3", "the hash chain is intact", "matches")

	stored := e.storedAudit()
	if stored.pieces[legacy.ID] != b {
		t.Fatal("the older version's copy was deleted or changed")
	}

	local, _ := audit.Read(log)
	if len(stored.bySeq) != len(local) {
		t.Fatalf("stored %d records, the log has %d", len(stored.bySeq), len(local))
	}

	if strings.Contains(out, "not yet sealed") || !keyField.MatchString(readFile(t, log)) {
		t.Errorf("the new records are not keyed:\n%s", out)
	}
}
