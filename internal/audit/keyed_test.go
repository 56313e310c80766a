package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testKey = bytes.Repeat([]byte{0x42}, 32)

// appendN appends n records with key (nil: unkeyed) to a log at path.
func appendN(t *testing.T, path string, key []byte, n int) {
	t.Helper()

	for i := 0; i < n; i++ {
		if _, err := (&Log{Path: path, Key: key}).Append(Record{Action: "backup", Source: "db", Outcome: OK, Detail: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRead(t *testing.T, path string) []Record {
	t.Helper()

	recs, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}

	return recs
}

// plainSHA is what someone without the key can compute: SHA-256 over the
// record's JSON with the hash left empty.
func plainSHA(r Record) string {
	r.Hash = ""
	b, _ := json.Marshal(r)
	h := sha256.Sum256(b)

	return hex.EncodeToString(h[:])
}

// rechain rewrites recs from index i on so every hash and link is
// consistent again under plain SHA-256, as an editor without the key would.
func rechain(recs []Record, i int) []Record {
	out := append([]Record{}, recs...)

	for j := i; j < len(out); j++ {
		if j > 0 {
			out[j].Prev = out[j-1].Hash
		}

		out[j].Hash = plainSHA(out[j])
	}

	return out
}

func wantRecord(t *testing.T, what string, err error, seq int64, msg string) {
	t.Helper()

	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Seq != seq || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: %v, want record %d %q", what, err, seq, msg)
	}
}

// TestKeyedChainCatchesRechaining: a record edited and the chain re-made with
// plain SHA-256 from there on fails at the edited record; stripping the key
// IDs instead leaves a chain that holds locally, but the stored copy names
// the edited record, and so does its newest record alone.
func TestKeyedChainCatchesRechaining(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	appendN(t, path, testKey, 6)
	orig := mustRead(t, path)

	c, err := Verify(orig, testKey)
	if err != nil || c.Legacy != 0 || c.Unkeyed != 0 || !c.MACsChecked || c.String() != "" {
		t.Fatalf("untouched keyed log: %+v %q, %v", c, c, err)
	}

	for _, r := range orig {
		if r.Key != KeyID(testKey) || r.Hash == plainSHA(r) || strings.Contains(fmt.Sprint(r), string(testKey)) {
			t.Fatalf("record %d is not keyed: %+v", r.Seq, r)
		}
	}

	edited := append([]Record{}, orig...)
	edited[2].Outcome = Failed

	_, err = Verify(rechain(edited, 2), testKey)
	wantRecord(t, "re-chained with SHA-256", err, 3, "its MAC does not match")

	// Another repository's key cannot check these records: it says so.
	c, err = Verify(orig, bytes.Repeat([]byte{1}, 32))
	if err != nil || c.Foreign != 6 || !strings.Contains(c.String(), "6 records keyed by another repository, not checked here") {
		t.Fatalf("checked with another repository's key: %+v %q, %v", c, c, err)
	}

	stripped := append([]Record{}, edited...)
	for i := 2; i < len(stripped); i++ {
		stripped[i].Key = ""
	}

	stripped = rechain(stripped, 2)

	c, err = Verify(stripped, testKey)
	if err != nil || c.Unkeyed != 4 || c.Unsealed != 3 || !strings.Contains(c.String(), "records 3 to 6 not yet sealed") {
		t.Fatalf("stripped of its keys from record 3: %+v %q, %v", c, c, err)
	}

	wantRecord(t, "stripped, against the stored copy", Compare(stripped, orig), 3, "differs from the repository's copy")
	wantRecord(t, "stripped, against the stored tip", Extends(stripped, 6, orig[5].Hash), 6, "differs from the repository's copy")
	wantRecord(t, "cut short, against the stored tip", Extends(orig[:4], 6, orig[5].Hash), 6, "missing here")

	if err := Extends(append(orig, orig[5]), 6, orig[5].Hash); err != nil {
		t.Errorf("a longer log extends its copy: %v", err)
	}
}

// TestLegacyRecordsStillVerify: a log written before the chain was keyed (the
// line below is in the format older versions wrote) verifies, and keyed
// records after it verify as extending it.
func TestLegacyRecordsStillVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")

	var prev string

	var lines []string

	for seq := 1; seq <= 3; seq++ {
		body := fmt.Sprintf(`{"seq":%d,"time":"2026-11-0%dT10:00:00Z","actor":"root@db1","action":"backup","source":"db","outcome":"ok","prev":%q,"hash":""}`, seq, seq, prev)
		h := sha256.Sum256([]byte(body))
		prev = hex.EncodeToString(h[:])
		lines = append(lines, strings.Replace(body, `"hash":""`, `"hash":"`+prev+`"`, 1))
	}

	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := Verify(mustRead(t, path), testKey)
	if err != nil || c.Legacy != 3 || !strings.Contains(c.String(), "legacy, unkeyed up to seq 3") {
		t.Fatalf("legacy log: %+v %q, %v", c, c, err)
	}

	appendN(t, path, testKey, 2)

	recs := mustRead(t, path)

	c, err = Verify(recs, testKey)
	if err != nil || c.Legacy != 3 || c.Unkeyed != 0 || c.Unsealed != 0 || c.String() != "legacy, unkeyed up to seq 3" {
		t.Fatalf("keyed after legacy: %+v %q, %v", c, c, err)
	}

	// An edit of a legacy record re-chained with SHA-256 up to the first
	// keyed record breaks that record's link: the keyed record seals them.
	edited := append([]Record{}, recs...)
	edited[1].Outcome = Failed
	edited = append(rechain(edited[:3], 1), edited[3:]...)

	_, err = Verify(edited, testKey)
	wantRecord(t, "legacy record edited", err, 4, "does not chain to record 3")
}

// TestUnkeyedRecordsAreSealed: records appended while the repository could
// not be opened are unkeyed and reported unsealed until a keyed one follows.
func TestUnkeyedRecordsAreSealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	appendN(t, path, testKey, 2)
	appendN(t, path, nil, 2)

	c, err := Verify(mustRead(t, path), testKey)
	if err != nil || c.Unkeyed != 2 || c.Unsealed != 3 || c.Last != 4 {
		t.Fatalf("unkeyed tail: %+v, %v", c, err)
	}

	appendN(t, path, testKey, 1)
	recs := mustRead(t, path)

	c, err = Verify(recs, testKey)
	if err != nil || c.Unkeyed != 2 || c.Unsealed != 0 || strings.Contains(c.String(), "sealed") {
		t.Fatalf("sealed: %+v %q, %v", c, c, err)
	}

	// Without a key the order and links are still checked, and it says
	// the MACs were not.
	c, err = Verify(recs, nil)
	if err != nil || c.MACsChecked || !strings.Contains(c.String(), "not authenticated") {
		t.Fatalf("no key: %+v %q, %v", c, c, err)
	}

	edited := append([]Record{}, recs...)
	edited[2].Detail = "nothing happened"
	edited = append(rechain(edited[:4], 2), edited[4:]...)

	_, err = Verify(edited, testKey)
	wantRecord(t, "sealed record edited", err, 5, "does not chain to record 4")
}

// TestRestoreNeverOverwrites: the repository's copy is written back only
// where the log is missing or empty.
func TestRestoreNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.jsonl")
	appendN(t, src, testKey, 3)
	stored := mustRead(t, src)

	gone := &Log{Path: filepath.Join(dir, "gone", "audit.jsonl"), Key: testKey}
	if ok, err := gone.Restore(stored); !ok || err != nil {
		t.Fatalf("restore a missing log: %v %v", ok, err)
	}

	if _, err := gone.Append(Record{Action: "backup", Outcome: OK}); err != nil {
		t.Fatal(err)
	}

	after := mustRead(t, gone.Path)
	if _, err := Verify(after, testKey); err != nil || len(after) != 4 || Compare(after, stored) != nil {
		t.Fatalf("restored log: %d records, %v", len(after), err)
	}

	other := filepath.Join(dir, "other.jsonl")
	appendN(t, other, nil, 1)
	before, _ := os.ReadFile(other)

	if ok, err := (&Log{Path: other}).Restore(stored); ok || err != nil {
		t.Fatalf("restore over a log with records: %v %v", ok, err)
	}

	if now, _ := os.ReadFile(other); !bytes.Equal(now, before) {
		t.Fatal("a log with records was overwritten")
	}
}

// TestJoinPieces: full copies and increments, overlapping or not, join into
// one trail; pieces that disagree or leave a gap do not.
func TestJoinPieces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	appendN(t, path, testKey, 6)
	recs := mustRead(t, path)

	got, err := Join(recs[:3], recs[4:], recs[:5])
	if err != nil || Compare(got, recs) != nil || len(got) != 6 {
		t.Fatalf("join: %d records, %v", len(got), err)
	}

	_, err = Join(recs[:3], recs[4:])
	wantRecord(t, "gap", err, 4, "missing from the stored pieces")

	other := append([]Record{}, recs[2:4]...)
	other[0].Hash = "00"

	_, err = Join(recs[:3], other)
	wantRecord(t, "disagree", err, 3, "stored twice, differently")
}
