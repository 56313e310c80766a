package progress

import (
	"bytes"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

func TestLine(t *testing.T) {
	got := Line("backup uploads", 50<<20, 100<<20, 10*time.Second)
	want := "backup uploads  50.0 MiB / 100.0 MiB (50%)  5.0 MiB/s  ETA 0:10"

	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSilentWhenNotTerminal(t *testing.T) {
	var buf bytes.Buffer

	b := New(&buf, "x", false, nil)
	b.SetTotal(10)
	b.Add(10)
	b.Done()

	if buf.Len() != 0 {
		t.Fatalf("a bar off a terminal must print nothing, printed %q", buf.String())
	}
}

func TestDrawsAfterOneSecond(t *testing.T) {
	var buf safeBuf

	b := New(&buf, "restore", true, nil)
	b.SetTotal(100)
	b.Add(40)

	drawn := func() bool {
		return bytes.Contains(buf.Bytes(), []byte("restore  40 B / 100 B (40%)")) && bytes.Contains(buf.Bytes(), []byte("ETA"))
	}
	testenv.Eventually(t, 10*time.Second, drawn, "the progress line with its ETA, drawn once a second has passed")
	b.Done()

	if !drawn() {
		t.Fatalf("no progress line drawn: %q", buf.String())
	}
}
