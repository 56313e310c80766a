package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/binlog"
	"lifeboat/internal/notify"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// compactEvery is how often the daemon compacts the binlog archives: often
// enough that a day of segments every few seconds never piles up, rarely
// enough that each run merges ten minutes' worth at once.
const compactEvery = 10 * time.Minute

// compactedSources are the database sources whose binlog the daemon
// archives, by the streamer or by scheduled incrementals.
func (d *Daemon) compactedSources() []string {
	var out []string

	for _, name := range d.Cfg.SourceNames {
		sc := d.Cfg.Sources[name]

		a, ok := d.Sources[name].(source.Archiving)
		if !ok {
			continue
		}

		if a.Streams() || sc.Schedule["incremental"] != "" || sc.Schedule["differential"] != "" {
			out = append(out, name)
		}
	}

	return out
}

// compactLoop compacts every archived source every compactEvery until ctx
// ends.
func (d *Daemon) compactLoop(ctx context.Context) {
	names := d.compactedSources()
	if len(names) == 0 {
		return
	}

	for {
		select {
		case <-ctx.Done():
			return
		case <-d.Clock.After(compactEvery):
		}

		for _, name := range names {
			if ctx.Err() != nil {
				return
			}

			d.CompactBinlog(ctx, name) //nolint:errcheck // logged, audited and notified there
		}
	}
}

// CompactBinlog merges the old segments of one source's binlog archive, as
// `lifeboat binlog compact` does.
func (d *Daemon) CompactBinlog(ctx context.Context, name string) error {
	res, err := binlog.Compact(ctx, d.Repo, name, binlog.CompactOptions{Now: d.Clock.Now(), After: d.Cfg.Sources[name].MySQL.Binlog.CompactAfter})

	switch {
	case errors.Is(err, repo.ErrBusy):
		// `lifeboat binlog compact` from the command line is doing it.
		d.Log.Info("binlog compaction skipped", "source", name, "reason", err)
		return nil
	case err != nil && ctx.Err() != nil:
		// Stopping: what was written stays complete; the next run goes on.
		return nil
	}

	subject := "binlog compact " + name

	if err != nil {
		d.Log.Error("binlog compaction failed", "source", name, "err", err)
		d.audit(audit.Record{Action: "binlog compact", Source: name, Outcome: audit.Failed, Detail: err.Error()})
		d.Notify.Observe(subject, name, false, notify.Failure, err.Error())

		return err
	}

	d.Notify.Observe(subject, name, true, notify.Failure, "binlog compaction succeeded")

	if res.Pieces+res.Deleted == 0 {
		return nil
	}

	detail := fmt.Sprintf("wrote %d pieces (%d bytes) and deleted %d segments, from %d segments to %d", res.Pieces, res.Bytes, res.Deleted, res.Before, res.After)
	d.Log.Info("binlog compacted", "source", name, "pieces", res.Pieces, "deleted", res.Deleted, "segments", res.After)
	d.audit(audit.Record{Action: "binlog compact", Source: name, Outcome: audit.OK, Detail: detail})

	d.CopyAudit(ctx)

	return nil
}
