package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func writeLog(t *testing.T, n int) (string, []byte) {
	t.Helper()

	l := &Log{Path: filepath.Join(t.TempDir(), "audit", "audit.jsonl")}

	for i := 0; i < n; i++ {
		if _, err := l.Append(Record{Action: "backup", Source: "db", Outcome: OK, Detail: strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}

	b, err := os.ReadFile(l.Path)
	if err != nil {
		t.Fatal(err)
	}

	return l.Path, b
}

func verifyFile(t *testing.T, b []byte) error {
	t.Helper()

	recs, err := Parse(bytes.NewReader(b))
	if err != nil {
		return err
	}

	_, err = Verify(recs, nil)

	return err
}

// TestTamperingIsNamed: editing, deleting or reordering one record makes
// verification fail and name that record.
func TestTamperingIsNamed(t *testing.T) {
	_, b := writeLog(t, 6)

	if err := verifyFile(t, b); err != nil {
		t.Fatalf("untouched log: %v", err)
	}

	lines := bytes.SplitAfter(b, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty tail after the last newline

	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }

	edited := append([][]byte{}, lines...)
	edited[2] = bytes.Replace(lines[2], []byte(`"outcome":"ok"`), []byte(`"outcome":"failed"`), 1)

	removed := append(append([][]byte{}, lines[:3]...), lines[4:]...)
	swapped := append([][]byte{}, lines...)
	swapped[1], swapped[2] = lines[2], lines[1]
	rehashed := append([][]byte{}, lines...)

	// An editor who also fixes the edited record's own hash still breaks
	// the link from the next record.
	recs, _ := Parse(bytes.NewReader(lines[3]))
	recs[0].Detail = "nothing happened"
	recs[0].Hash = recs[0].sum(nil)
	rehashed[3] = mustJSON(t, recs[0])

	for _, c := range []struct {
		name string
		log  []byte
		seq  int64
		want string
	}{
		{"edited", join(edited), 3, "was edited"},
		{"removed", join(removed), 5, "records 4 to 4 were removed"},
		{"reordered", join(swapped), 3, "out of order"},
		{"edited and rehashed", join(rehashed), 5, "does not chain to record 4"},
		{"first removed", join(lines[1:]), 2, "records 1 to 1 were removed"},
	} {
		err := verifyFile(t, c.log)

		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Seq != c.seq || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want record %d %q", c.name, err, c.seq, c.want)
		}
	}

	// The tail removed: only the copy kept elsewhere can tell.
	full, _ := Parse(bytes.NewReader(b))
	short, _ := Parse(bytes.NewReader(join(lines[:4])))

	if _, err := Verify(short, nil); err != nil {
		t.Fatalf("a truncated log still chains: %v", err)
	}

	if err := Compare(short, full); err == nil || !strings.Contains(err.Error(), "audit record 5") || !strings.Contains(err.Error(), "removed") {
		t.Errorf("compare with the copy: %v", err)
	}
}

func mustJSON(t *testing.T, r Record) []byte {
	t.Helper()

	b, err := jsonLine(r)
	if err != nil {
		t.Fatal(err)
	}

	return b
}

// TestConcurrentAppendsChain: two writers at once still make one chain.
func TestConcurrentAppendsChain(t *testing.T) {
	l := &Log{Path: filepath.Join(t.TempDir(), "audit.jsonl")}

	var wg sync.WaitGroup

	for w := 0; w < 4; w++ {
		wg.Add(1)

		go func() {
			defer wg.Done()

			for i := 0; i < 25; i++ {
				if _, err := (&Log{Path: l.Path}).Append(Record{Action: "backup", Outcome: OK}); err != nil {
					t.Error(err)
				}
			}
		}()
	}

	wg.Wait()

	recs, err := Read(l.Path)
	if err != nil || len(recs) != 100 {
		t.Fatalf("%d records, %v", len(recs), err)
	}

	if _, err := Verify(recs, nil); err != nil {
		t.Fatal(err)
	}
}
