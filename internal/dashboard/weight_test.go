package dashboard_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/dashboard"
)

// weigh measures each screen: the bytes of its HTML, CSS and script (as
// sent, and gzip-compressed), the browser's load event and the time until
// the script has filled the page in from the API. It writes the figures
// beside the screenshots.
func (s *site) weigh(t *testing.T, b *browser) {
	assets := s.fetch(t, "/assets/style.css") + s.fetch(t, "/assets/app.js")

	var out strings.Builder

	fmt.Fprintf(&out, "%-10s %10s %10s %10s %10s\n", "screen", "bytes", "gzip", "load ms", "ready ms")

	for _, p := range dashboard.Pages {
		if p.Name == "login" {
			continue
		}

		body := s.fetch(t, p.Path) + assets
		path := p.Path
		if p.Name == "timeline" || p.Name == "restore" || p.Name == "browse" {
			path += "?source=data"
		}

		b.open(path)

		b.labelled(p.Path)

		var load, ready float64
		b.eval(`performance.getEntriesByType("navigation")[0].loadEventEnd`, &load)
		b.eval(`Number(document.body.dataset.readyMs)`, &ready)

		if load <= 0 || ready <= 0 {
			t.Fatalf("%s: load event at %v ms, ready at %v ms", p.Path, load, ready)
		}

		fmt.Fprintf(&out, "%-10s %10d %10d %10.0f %10.0f\n", p.Name, len(body), gzipped(t, s.fetch(t, p.Path))+gzipped(t, assets), load, ready)
	}

	t.Logf("page weight and load time:\n%s", out.String())

	for _, d := range b.dirs {
		if err := os.WriteFile(filepath.Join(d, "weights.txt"), []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *site) fetch(t *testing.T, path string) string {
	t.Helper()

	resp, err := s.client.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}

	return string(body)
}

func gzipped(t *testing.T, s string) int {
	t.Helper()

	var buf bytes.Buffer

	w := gzip.NewWriter(&buf)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	return buf.Len()
}

// labelled checks every control of the page has a name a screen reader
// says, and is reachable by the keyboard (no negative tabindex).
func (b *browser) labelled(page string) {
	b.t.Helper()

	var unlabelled []string
	b.eval(`[...document.querySelectorAll("input, select, button, a, textarea")].filter((e) => {
		const named = (e.labels && e.labels.length) || e.getAttribute("aria-label") || e.textContent.trim() || e.getAttribute("alt");
		return !named || e.tabIndex < 0;
	}).map((e) => e.outerHTML.slice(0, 120))`, &unlabelled)

	if len(unlabelled) > 0 {
		b.t.Errorf("%s: controls without a label or out of the tab order: %v", page, unlabelled)
	}
}
