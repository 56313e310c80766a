package progress

import (
	"bytes"
	"strings"
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

func TestRenderNamesFilesAndBytes(t *testing.T) {
	for _, c := range []struct {
		counts Counts
		want   string
	}{
		{Counts{Label: "backup docs", Done: 56 << 20, Files: 1234}, "backup docs  1,234 files  56.0 MiB  5.6 MiB/s"},
		{Counts{Label: "restore docs", Done: 50 << 20, Total: 100 << 20, Files: 617, FilesTotal: 1234},
			"restore docs  617 / 1,234 files  50.0 MiB / 100.0 MiB (50%)  5.0 MiB/s  ETA 0:10"},
		{Counts{Label: "verify", Done: 0, Total: 0}, "verify  0 B  0 B/s"},
	} {
		if got := Render(c.counts, 10*time.Second); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}

	if got := Count(1234567); got != "1,234,567" {
		t.Errorf("Count(1234567) = %q", got)
	}
}

// TestLinesPrintsItsLastLine: asked for lines (not a terminal, --progress),
// a bar prints plain lines, and one when the work ends however quickly.
func TestLinesPrintsItsLastLine(t *testing.T) {
	var buf safeBuf

	b := Start(&buf, "backup docs", Lines, nil)
	b.SetTotal(300)
	b.SetTotalFiles(3)
	b.Add(300)
	b.AddFiles(3)
	b.Done()

	out := buf.String()
	if !strings.HasPrefix(out, "backup docs  3 / 3 files  300 B / 300 B (100%)  ") || !strings.HasSuffix(out, "\n") || strings.ContainsAny(out, "\r\x1b") {
		t.Fatalf("the last line: %q", out)
	}
}
