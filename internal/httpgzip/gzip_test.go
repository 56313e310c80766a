package httpgzip_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"lifeboat/internal/httpgzip"
)

func TestHandlerCompressesOnlyText(t *testing.T) {
	text := strings.Repeat(`{"source":"data","ok":true}`, 200)

	srv := httptest.NewServer(httpgzip.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"abc"`)
			_, _ = io.WriteString(w, text)
		case "/download":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.WriteString(w, text)
		case "/partial":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Range", "bytes 0-9/100")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = io.WriteString(w, text[:10])
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: one\n\n")
			_ = http.NewResponseController(w).Flush()
		}
	})))
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}

	get := func(path, accept string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}

		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()

		b, _ := io.ReadAll(resp.Body)

		return resp, string(b)
	}

	resp, body := get("/json", "gzip, br")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" || resp.Header.Get("ETag") != `W/"abc"` {
		t.Fatalf("/json: encoding %q, Vary %q, ETag %q: want gzip, Accept-Encoding and a weak tag",
			resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"), resp.Header.Get("ETag"))
	}

	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}

	if got, _ := io.ReadAll(zr); string(got) != text || len(body) > len(text)/4 {
		t.Fatalf("/json: %d bytes compressed to %d, decompressed equal %v", len(text), len(body), string(got) == text)
	}

	for _, c := range []struct{ path, accept, want string }{
		{"/json", "", text}, {"/json", "gzip;q=0", text}, {"/download", "gzip", text},
		{"/partial", "gzip", text[:10]}, {"/events", "gzip", "data: one\n\n"},
	} {
		resp, body := get(c.path, c.accept)
		if resp.Header.Get("Content-Encoding") != "" || body != c.want {
			t.Errorf("%s (Accept-Encoding %q): encoding %q, body %.40q: want it sent as is", c.path, c.accept, resp.Header.Get("Content-Encoding"), body)
		}
	}
}
