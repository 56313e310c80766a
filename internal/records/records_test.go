package records

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"lifeboat/internal/repo"
)

func testRepo(t *testing.T) *repo.Repository {
	t.Helper()

	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "repo")
	pw := repo.Password{Value: "p", Origin: "test"}

	if err := repo.Create(ctx, path, pw); err != nil {
		t.Fatal(err)
	}

	r, err := repo.Open(ctx, path, pw, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { r.Close(context.Background()) })

	return r
}

func ptr[T any](v T) *T { return &v }

// The maps are spelled the way earlier versions wrote each kind.
var stored = []struct {
	kind  string
	old   map[string]string
	typed any
}{
	{KindVerify, map[string]string{"ok": "true", "at": "2026-05-04T10:00:00.123456789Z", "source": "db"},
		&Verify{OK: true, At: time.Date(2026, 5, 4, 10, 0, 0, 123456789, time.UTC), Source: "db"}},
	{KindVerifyRun, map[string]string{"ok": "false", "at": "2026-05-04T10:00:00.5Z", "snapshots": "3", "problems": "2", "read": "0.25"},
		&VerifyRun{At: time.Date(2026, 5, 4, 10, 0, 0, 5e8, time.UTC), Snapshots: 3, Problems: 2, Read: 0.25}},
	{KindRestoreTest, map[string]string{"at": "2026-05-04T10:00:00Z", "snapshot": "k1", "seconds": "4.200", "ok": "true",
		"checked": "12 tables", "assertions": "0", "problems": ""},
		&RestoreTest{At: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), Snapshot: "k1", Seconds: 4.2, OK: true, Checked: "12 tables", Assertions: ptr(0)}},
	// A test that could not run records its error only.
	{KindRestoreTest, map[string]string{"at": "2026-05-04T10:00:00Z", "snapshot": "k1", "seconds": "0.010", "ok": "false", "problems": "no server"},
		&RestoreTest{At: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), Snapshot: "k1", Seconds: 0.01, Problems: "no server"}},
	{KindCopy, map[string]string{"at": "2026-05-04T10:00:00Z", "ok": "true", "blobs": "7", "bytes": "123456789012", "total": "9",
		"restorable": `{"db":"2026-05-04T09:59:58.25Z","files":"2026-05-04T09:00:00Z"}`},
		&Copy{At: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), OK: true, Blobs: 7, Bytes: 123456789012, Total: 9, Restorable: map[string]time.Time{
			"db": time.Date(2026, 5, 4, 9, 59, 58, 25e7, time.UTC), "files": time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}}},
	{KindJob, map[string]string{"last": "2026-05-04T10:00:00.000000001Z", "outcome": "failed"},
		&Job{Last: time.Date(2026, 5, 4, 10, 0, 0, 1, time.UTC), Outcome: "failed"}},
	{KindPin, map[string]string{"reason": "legal hold", "by": "ops@host", "at": "2026-05-04T10:00:00Z"},
		&Pin{Reason: "legal hold", By: "ops@host", At: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}},
	{KindAuditTrail, map[string]string{"at": "2026-05-04T10:00:00Z"}, &AuditTrail{At: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}},
}

// What earlier versions wrote reads back typed, and what the types write
// reads back through the map API exactly as it was spelled.
func TestStoredFormIsUnchanged(t *testing.T) {
	r := testRepo(t)
	ctx := t.Context()

	for i, c := range stored {
		if err := r.PutRecord(ctx, c.kind, "old", c.old); err != nil {
			t.Fatal(err)
		}

		got := reflect.New(reflect.TypeOf(c.typed).Elem())

		raw, err := r.Records(ctx, c.kind)
		if err != nil {
			t.Fatal(err)
		}

		if err := Decode(raw["old"], got.Interface()); err != nil {
			t.Fatalf("%d %s: decode: %v", i, c.kind, err)
		}

		if !reflect.DeepEqual(got.Interface(), c.typed) {
			t.Errorf("%d %s: the old record reads back as\n%+v\nwant\n%+v", i, c.kind, got.Interface(), c.typed)
		}

		if err := Put(ctx, r, c.kind, "new", c.typed); err != nil {
			t.Fatal(err)
		}

		raw, err = r.Records(ctx, c.kind)
		if err != nil {
			t.Fatal(err)
		}

		if !reflect.DeepEqual(raw["new"], c.old) {
			t.Errorf("%d %s: the typed record is stored as\n%v\nwant\n%v", i, c.kind, raw["new"], c.old)
		}
	}
}

func TestAllAndGet(t *testing.T) {
	r := testRepo(t)
	ctx := t.Context()

	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

	for name, ok := range map[string]bool{"db": true, "files": false} {
		if err := Put(ctx, r, KindVerifyRun, name, VerifyRun{OK: ok, At: at, Snapshots: 1}); err != nil {
			t.Fatal(err)
		}
	}

	// A record this version cannot read is left out, not an error.
	if err := r.PutRecord(ctx, KindVerifyRun, "broken", map[string]string{"at": "yesterday"}); err != nil {
		t.Fatal(err)
	}

	all, err := All[VerifyRun](ctx, r, KindVerifyRun)
	if err != nil {
		t.Fatal(err)
	}

	if len(all) != 2 || !all["db"].OK || all["files"].OK || !all["files"].At.Equal(at) {
		t.Errorf("All = %+v", all)
	}

	if _, ok, err := Get[VerifyRun](ctx, r, KindVerifyRun, "git"); ok || err != nil {
		t.Errorf("Get of a missing record: %v %v", ok, err)
	}

	if v, ok, err := Get[VerifyRun](ctx, r, KindVerifyRun, "db"); !ok || err != nil || v.Snapshots != 1 {
		t.Errorf("Get = %+v %v %v", v, ok, err)
	}
}

func TestEncodeRefusesWhatItCannotSpell(t *testing.T) {
	if _, err := Encode(struct {
		C chan int `record:"c"`
	}{}); err == nil {
		t.Error("a channel field encoded")
	}

	if _, err := Encode(3); err == nil {
		t.Error("a number encoded as a record")
	}

	if err := Decode(map[string]string{}, Verify{}); err == nil {
		t.Error("decoded into a value, not a pointer")
	}
}

// A streamer's progress reads and writes as it always did, and a field
// that cannot be read is left zero rather than losing the rest.
func TestBinlogStateStoredFormIsUnchanged(t *testing.T) {
	r := testRepo(t)
	ctx := t.Context()

	old := map[string]string{"covered": "2026-05-04T10:00:00.25Z", "epoch": "e1", "file": "mysql-bin.000007", "pos": "4294967295",
		"updated": "2026-05-04T10:00:01Z"}
	typed := BinlogState{Covered: time.Date(2026, 5, 4, 10, 0, 0, 25e7, time.UTC), Epoch: "e1", File: "mysql-bin.000007", Pos: 4294967295,
		Updated: time.Date(2026, 5, 4, 10, 0, 1, 0, time.UTC)}

	if _, ok, err := State[BinlogState](ctx, r, "db", StateBinlog); ok || err != nil {
		t.Fatalf("state before any: %v %v", ok, err)
	}

	if err := r.PutState(ctx, "db", StateBinlog, old); err != nil {
		t.Fatal(err)
	}

	if got, ok, err := State[BinlogState](ctx, r, "db", StateBinlog); !ok || err != nil || got != typed {
		t.Fatalf("the old state reads back as %+v %v %v, want %+v", got, ok, err, typed)
	}

	if err := PutState(ctx, r, "files", StateBinlog, typed); err != nil {
		t.Fatal(err)
	}

	if got, err := r.State(ctx, "files", StateBinlog); err != nil || !reflect.DeepEqual(got, old) {
		t.Fatalf("the typed state is stored as %v %v, want %v", got, err, old)
	}

	if err := r.PutState(ctx, "db", StateBinlog, map[string]string{"covered": "soon", "file": "mysql-bin.000008"}); err != nil {
		t.Fatal(err)
	}

	if got, ok, _ := State[BinlogState](ctx, r, "db", StateBinlog); !ok || !got.Covered.IsZero() || got.File != "mysql-bin.000008" {
		t.Fatalf("a partly unreadable state: %+v %v", got, ok)
	}
}
