package daemon

import (
	"context"
	"time"

	"lifeboat/internal/repo"
)

// keepIndexSmall gives an older repository the index epochs Lifeboat sets
// for frequent small writes, then runs kopia's quick maintenance now and every
// repo.QuickMaintenanceInterval until ctx ends, so the index blobs every
// write and every open lists stay those of the last hour, whatever the
// archive's age. Failures are logged and retried at the next interval.
func (d *Daemon) keepIndexSmall(ctx context.Context) {
	before, err := d.Repo.TuneIndexEpochs(ctx)

	switch {
	case err != nil:
		d.Log.Warn("index epochs left as they are", "err", err)
	case !before.Tuned:
		d.Log.Info("repository index epochs set for frequent small writes (done once)",
			"min_epoch_was", before.MinDuration.String(), "refresh_was", before.Refresh.String())
	}

	for {
		if err := d.Repo.QuickMaintain(ctx); err != nil && ctx.Err() == nil {
			d.Log.Warn("quick index maintenance", "err", err)
		}

		select {
		case <-ctx.Done():
			return
		case <-time.After(repo.QuickMaintenanceInterval):
		}
	}
}
