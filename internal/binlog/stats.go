package binlog

import (
	"context"
	"strconv"

	"lifeboat/internal/repo"
)

// Stats is how big a source's binlog archive is.
type Stats struct {
	// Bytes of binlog archived.
	Bytes int64 `json:"bytes"`
	// Segments counts the segments as the streamer and backups stored them;
	// a merged piece counts as the segments it holds.
	Segments int `json:"segments"`
	// Stored counts the pieces the repository holds (one manifest each).
	Stored int `json:"stored_segments"`
}

// mergedLabel is on a piece that holds several original segments: how many.
const mergedLabel = "merged"

// Stats sums the archive's segments (gaps are not segments).
func (a *Archive) Stats() Stats {
	var st Stats

	for _, s := range a.Segments {
		st.add(s.Labels, s.BinlogBytes)
	}

	return st
}

func (st *Stats) add(labels map[string]string, bytes int64) {
	n, err := strconv.Atoi(labels[mergedLabel])
	if err != nil || n < 1 {
		n = 1
	}

	st.Segments += n
	st.Stored++
	st.Bytes += bytes
}

// LoadStats sums the archive of source from the segments' labels alone.
func LoadStats(ctx context.Context, r *repo.Repository, source string) (Stats, error) {
	segs, err := r.Segments(ctx, source)
	if err != nil {
		return Stats{}, err
	}

	var st Stats

	for _, s := range segs {
		if s.Labels["kind"] == "gap" {
			continue
		}

		n, _ := strconv.ParseInt(s.Labels["binlog_bytes"], 10, 64)
		st.add(s.Labels, n)
	}

	return st, nil
}
