package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// encoded is an answer shared between requests (readCache), encoded once:
// its JSON, and the same compressed for the clients that accept gzip (Go's
// HTTP client and every browser ask for it). A status of a hundred sources
// with their 30-day history is 220 KB of JSON and 5 KB compressed: the
// daemon encrypts and sends a fortieth of it, once compressed for every
// request of the second. These answers hold no secret and nothing a
// request put in them, so compressing them under TLS gives nothing away.
type encoded struct {
	plain, gzipped []byte
}

func encode(v any) (*encoded, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}

	b = append(b, '\n')

	var z bytes.Buffer

	zw, err := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}

	if _, err := zw.Write(b); err != nil {
		return nil, err
	}

	if err := zw.Close(); err != nil {
		return nil, err
	}

	return &encoded{plain: b, gzipped: z.Bytes()}, nil
}

// write answers e, compressed when r accepts gzip, with its length.
func (e *encoded) write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Add("Vary", "Accept-Encoding")

	b := e.plain
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")

		b = e.gzipped
	}

	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// acceptsGzip says whether an Accept-Encoding header names gzip with a
// weight above zero.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}

		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(p, "=")
			if strings.TrimSpace(k) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || q <= 0 {
					return false
				}
			}
		}

		return true
	}

	return false
}
