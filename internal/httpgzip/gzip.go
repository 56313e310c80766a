// Package httpgzip compresses HTTP answers for clients that accept gzip:
// the dashboard's pages and assets, and the API's JSON. Only text that
// compresses well is compressed (never downloads of backed-up files, which
// are often compressed already, never partial answers, never event
// streams, whose events must reach the client as they are written).
package httpgzip

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"sync"
)

// compressible are the media types worth compressing.
var compressible = []string{"application/json", "text/html", "text/css", "text/javascript", "application/javascript", "text/markdown", "image/svg+xml"}

// Accepts says whether the request accepts a gzip-encoded answer.
func Accepts(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}

	return false
}

// Compress is body compressed at the best ratio, for content compressed
// once and served many times (embedded assets).
func Compress(body []byte) []byte {
	var buf bytes.Buffer

	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(body)
	_ = w.Close()

	return buf.Bytes()
}

var writers = sync.Pool{New: func() any {
	// The fastest level: the API compresses on every request, and JSON
	// shrinks well even so.
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// Handler compresses next's compressible answers when the client accepts
// gzip, and says in Vary that the answer depends on Accept-Encoding.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")

		if !Accepts(r) || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}

		gw := &writer{ResponseWriter: w}
		defer gw.close()

		next.ServeHTTP(gw, r)
	})
}

// writer decides at the answer's header whether to compress its body.
type writer struct {
	http.ResponseWriter
	gz      *gzip.Writer
	decided bool
}

func (w *writer) WriteHeader(status int) {
	if !w.decided {
		w.decided = true

		if w.worthIt(status) {
			h := w.Header()
			h.Del("Content-Length")
			h.Set("Content-Encoding", "gzip")

			if etag := h.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
				// The compressed bytes differ from the ones the tag names.
				h.Set("ETag", "W/"+etag)
			}

			w.gz, _ = writers.Get().(*gzip.Writer)
			w.gz.Reset(w.ResponseWriter)
		}
	}

	w.ResponseWriter.WriteHeader(status)
}

func (w *writer) worthIt(status int) bool {
	h := w.Header()
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified || status == http.StatusPartialContent ||
		h.Get("Content-Encoding") != "" || h.Get("Content-Range") != "" {
		return false
	}

	ct := h.Get("Content-Type")
	for _, c := range compressible {
		if strings.HasPrefix(ct, c) {
			return true
		}
	}

	return false
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.decided {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", http.DetectContentType(b))
		}

		w.WriteHeader(http.StatusOK)
	}

	if w.gz != nil {
		return w.gz.Write(b)
	}

	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far, compressed or not.
func (w *writer) Flush() {
	if w.gz != nil {
		_ = w.gz.Flush()
	}

	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer (the
// API lifts the write deadline of long answers).
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *writer) close() {
	if w.gz == nil {
		return
	}

	_ = w.gz.Close()
	w.gz.Reset(io.Discard)
	writers.Put(w.gz)
	w.gz = nil
}
