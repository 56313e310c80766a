package daemon

import (
	"context"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/clock"
	"lifeboat/internal/source"
)

// refreshArchive exports the size of a database source's binlog archive;
// a source that neither streams nor has anything archived exports nothing.
func (d *Daemon) refreshArchive(ctx context.Context, name string) {
	arch, ok := d.Sources[name].(source.Archiving)
	if !ok {
		return
	}

	st, err := binlog.LoadStats(ctx, d.Repo, name)
	if err != nil {
		d.Log.Warn("binlog archive size", "source", name, "err", err)
		return
	}

	if st.Stored == 0 && !arch.Streams() {
		return
	}

	d.Metrics.BinlogArchive.WithLabelValues(name).Set(float64(st.Bytes))
	d.Metrics.BinlogSegments.WithLabelValues(name).Set(float64(st.Segments))
	d.Metrics.BinlogStored.WithLabelValues(name).Set(float64(st.Stored))
}

// archived counts a segment the streamer stored, so the archive's size
// follows it between refreshes (which recount it from the repository).
func (d *Daemon) archived(name string, s *binlog.Segment) {
	d.Metrics.BinlogArchive.WithLabelValues(name).Add(float64(s.BinlogBytes))
	d.Metrics.BinlogSegments.WithLabelValues(name).Inc()
	d.Metrics.BinlogStored.WithLabelValues(name).Inc()
}

// sizeEvery is how often the refresh walks the whole repository for its
// size: every blob (a year of packs locally, paged LISTs on S3), too much for
// every 30-second refresh. A job's own refresh walks it again.
const sizeEvery = 5 * time.Minute

// repositorySize is the repository's size, walked again when the last walk
// is older than sizeEvery or a job ran since. The caller holds d.mu.
func (d *Daemon) repositorySize() (int64, error) {
	if !d.sized.IsZero() && clock.Since(clock.Or(d.Clock), d.sized) < sizeEvery {
		return d.size, nil
	}

	size, err := d.Repo.Size()
	if err != nil {
		return 0, err
	}

	d.size, d.sized = size, clock.Or(d.Clock).Now()

	return size, nil
}
