package binlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fixtureFiles are the two recorded binlog files: the first ends with a
// rotate to the second, the second with a rotate to a third (not kept).
var fixtureFiles = []string{"mysql-bin.000002", "mysql-bin.000003"}

// fixture is one recorded binlog file, split into its events.
type fixture struct {
	name     string
	raw      []byte
	fde      event
	checksum bool
	events   []event
}

func loadFixture(t *testing.T, dir, name string) fixture {
	t.Helper()

	raw, err := os.ReadFile(filepath.Join("testdata", dir, name))
	if err != nil {
		t.Fatalf("read fixture (re-record with LIFEBOAT_RECORD_FIXTURES=1): %v", err)
	}

	if !bytes.HasPrefix(raw, magic) {
		t.Fatalf("%s/%s does not start with the binlog magic", dir, name)
	}

	f := fixture{name: name, raw: raw}
	er := newEventReader(bytes.NewReader(raw[len(magic):]))

	for {
		e, err := er.next()
		if errors.Is(err, io.EOF) {
			break
		}

		if err != nil {
			t.Fatalf("%s/%s: %v", dir, name, err)
		}

		f.events = append(f.events, e)
	}

	if len(f.events) == 0 || f.events[0].typ != evFormat {
		t.Fatalf("%s/%s: first event is not a format description", dir, name)
	}

	f.fde = f.events[0]
	f.checksum = fdeChecksum(f.fde.raw)

	return f
}
