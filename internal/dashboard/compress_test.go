package dashboard_test

import (
	"compress/gzip"
	"crypto/tls"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// compression checks what the site sends a browser that accepts gzip: the
// pages and assets compressed, with Vary, a tag and the caching each
// needs; a page or asset the browser holds answers 304 and nothing more;
// the API's JSON compressed too; and a client that does not accept gzip
// gets the plain bytes.
func (s *site) compression(t *testing.T) {
	// A transport that leaves the encoding alone, to see what was sent.
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec

	get := func(path string, header ...string) (*http.Response, []byte) {
		t.Helper()

		req, err := http.NewRequest("GET", s.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}

		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}

		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()

		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}

		return resp, body
	}

	plainPage := s.fetch(t, "/")

	resp, body := get("/", "Accept-Encoding", "gzip, deflate, br")
	checkGzip(t, "/", resp, body, plainPage)

	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("/: Cache-Control %q, want no-cache (a new binary's page must name its new assets)", cc)
	}

	// The page names its assets by their content's hash.
	for _, m := range regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`).FindAllStringSubmatch(plainPage, -1) {
		url := strings.ReplaceAll(m[1], "&amp;", "&")
		if !strings.Contains(url, "?v=") {
			t.Errorf("the page names %s without its content's hash", url)
		}

		plain := s.fetch(t, url)
		resp, body := get(url, "Accept-Encoding", "gzip")
		checkGzip(t, url, resp, body, plain)

		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q, want a year, immutable", url, cc)
		}

		etag := resp.Header.Get("ETag")
		resp, body = get(url, "Accept-Encoding", "gzip", "If-None-Match", etag)

		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("%s with If-None-Match %s: %d and %d bytes, want 304 and none", url, etag, resp.StatusCode, len(body))
		}

		// Without the hash (an old page's address) it is checked again.
		bare, _, _ := strings.Cut(url, "?")
		if resp, _ := get(bare); resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache", bare, resp.Header.Get("Cache-Control"))
		}
	}

	// A client that does not accept gzip gets the page as it is.
	resp, body = get("/")
	if resp.Header.Get("Content-Encoding") != "" || string(body) != plainPage {
		t.Errorf("/ without Accept-Encoding: Content-Encoding %q, %d bytes, want the %d plain bytes", resp.Header.Get("Content-Encoding"), len(body), len(plainPage))
	}

	// The API's JSON.
	resp, body = get("/api/v1/status", "Accept-Encoding", "gzip", "Authorization", "Bearer "+s.adminToken)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/status: %d %s", resp.StatusCode, body)
	}

	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("/api/v1/status: Content-Encoding %q, Vary %q, want gzip and Accept-Encoding", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}

	if got := gunzip(t, "/api/v1/status", body); !strings.HasPrefix(got, "{") || !strings.Contains(got, `"data"`) {
		t.Errorf("/api/v1/status decompressed is not the status: %.200s", got)
	}
}

func checkGzip(t *testing.T, path string, resp *http.Response, body []byte, plain string) {
	t.Helper()

	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Content-Encoding") != "gzip" || h.Get("Vary") != "Accept-Encoding" || h.Get("ETag") == "" {
		t.Fatalf("%s: %d, Content-Encoding %q, Vary %q, ETag %q: want 200, gzip, Accept-Encoding and a tag",
			path, resp.StatusCode, h.Get("Content-Encoding"), h.Get("Vary"), h.Get("ETag"))
	}

	if got := gunzip(t, path, body); got != plain {
		t.Errorf("%s: the compressed body is not the page (%d bytes, want %d)", path, len(got), len(plain))
	}

	if len(body)*2 > len(plain) {
		t.Errorf("%s: %d bytes compressed of %d: less than half expected", path, len(body), len(plain))
	}
}

func gunzip(t *testing.T, path string, body []byte) string {
	t.Helper()

	zr, err := gzip.NewReader(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("%s: not gzip: %v", path, err)
	}

	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}

	return string(out)
}
