package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"lifeboat/internal/access"
	"lifeboat/internal/clock"
)

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"gzip": true, "gzip, deflate, br": true, "br;q=1.0, GZIP;q=0.5": true, " gzip ; q=1": true,
		"": false, "identity": false, "deflate, br": false, "gzip;q=0": false, "gzip; q=0.000": false, "gzip;q=x": false, "x-gzip": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("Accept-Encoding %q: gzip accepted %v, want %v", header, got, want)
		}
	}
}

// The shared answers go compressed to a client that accepts gzip and as
// they are to one that does not: the same JSON either way.
func TestSharedAnswersCompressForClientsThatAcceptGzip(t *testing.T) {
	f := newFixtureAt(t, clock.NewFake(clock.Real{}.Now()))

	read := func(path, accept string) (*http.Response, []byte) {
		t.Helper()

		resp := f.do(t, "GET", path, "", append(bearer(access.Viewer), "Accept-Encoding", accept)...)
		defer resp.Body.Close()

		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s (Accept-Encoding %q): %d %s (%v)", path, accept, resp.StatusCode, b, err)
		}

		return resp, b
	}

	for _, path := range []string{"/api/v1/status", "/api/v1/sources", "/api/v1/snapshots"} {
		plainResp, plain := read(path, "identity")
		if enc := plainResp.Header.Get("Content-Encoding"); enc != "" || !json.Valid(plain) {
			t.Fatalf("GET %s without gzip: Content-Encoding %q, body %.200s", path, enc, plain)
		}

		zResp, z := read(path, "gzip, deflate")
		if zResp.Header.Get("Content-Encoding") != "gzip" || zResp.Header.Get("Vary") != "Accept-Encoding" || zResp.ContentLength != int64(len(z)) {
			t.Fatalf("GET %s with gzip: headers %v, %d bytes", path, zResp.Header, len(z))
		}

		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatalf("GET %s with gzip: %v", path, err)
		}

		unzipped, err := io.ReadAll(zr)
		if err != nil || string(unzipped) != string(plain) {
			t.Fatalf("GET %s: the compressed answer is %.200s (%v), the plain one %.200s", path, unzipped, err, plain)
		}
	}
}
