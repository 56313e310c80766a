package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/format"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/kopia/kopia/snapshot/snapshotmaintenance"
)

// Index epochs. kopia writes one index blob per write session (a binlog
// segment, a record) into the current epoch, and every write and every open
// lists all index blobs of the last epochs not yet compacted. An epoch ends
// only when its blobs span MinEpochDuration and maintenance runs: with
// kopia's default of 24 h, and maintenance only at prune, a streaming server
// (a segment every few seconds) makes each write list a day's blobs or more
// (measured: 5 ms a segment at 1,000 blobs, 13 ms after 2,200).
//
// 10 minutes is the shortest epoch kopia accepts. The daemon runs quick
// maintenance (compact the oldest settled epoch, advance the current one)
// every QuickMaintenanceInterval, so an epoch lasts about 15 minutes and the
// uncompacted blobs a write lists are those of the last three epochs: under
// an hour of writes instead of a day's. The refresh frequency must be at most
// a third of the epoch (kopia's rule, which keeps a writer from landing in
// an epoch already compacted); the cleanup margin keeps kopia's 4 h default,
// over three refresh periods as required.
const (
	epochMinDuration   = 10 * time.Minute
	epochRefresh       = epochMinDuration / 3
	epochCleanupMargin = 4 * time.Hour
	// QuickMaintenanceInterval is how often the daemon runs quick
	// maintenance.
	QuickMaintenanceInterval = 15 * time.Minute
)

// tuneEpochs sets the epoch parameters on mp, keeping kopia's defaults for
// the rest (range checkpoints every 7 epochs, advance at 20 blobs or 10 MB).
func tuneEpochs(mp *format.MutableParameters) {
	ep := &mp.EpochParameters
	ep.Enabled = true
	ep.MinEpochDuration = epochMinDuration
	ep.EpochRefreshFrequency = epochRefresh
	ep.CleanupSafetyMargin = max(ep.CleanupSafetyMargin, epochCleanupMargin)

	if ep.FullCheckpointFrequency == 0 {
		ep.FullCheckpointFrequency = 7
	}

	if ep.EpochAdvanceOnCountThreshold == 0 {
		ep.EpochAdvanceOnCountThreshold = 20
	}

	if ep.EpochAdvanceOnTotalSizeBytesThreshold == 0 {
		ep.EpochAdvanceOnTotalSizeBytesThreshold = 10 << 20
	}

	if ep.DeleteParallelism == 0 {
		ep.DeleteParallelism = 4
	}
}

// IndexEpochs is how the repository's index epochs are set.
type IndexEpochs struct {
	MinDuration time.Duration
	Refresh     time.Duration
	// Tuned: they are the ones Lifeboat sets for frequent small writes.
	Tuned bool
}

// IndexEpochs reads the repository's epoch parameters.
func (r *Repository) IndexEpochs(ctx context.Context) (IndexEpochs, error) {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return IndexEpochs{}, errors.New("index epochs need a direct repository connection")
	}

	mp, err := dr.FormatManager().GetMutableParameters(ctx)
	if err != nil {
		return IndexEpochs{}, fmt.Errorf("read the repository's parameters: %w", err)
	}

	ep := mp.EpochParameters

	return IndexEpochs{
		MinDuration: ep.MinEpochDuration, Refresh: ep.EpochRefreshFrequency,
		Tuned: ep.Enabled && ep.MinEpochDuration == epochMinDuration && ep.EpochRefreshFrequency == epochRefresh,
	}, nil
}

// TuneIndexEpochs gives a repository made by an older version the epoch
// parameters new ones get, as `kopia repository set-parameters` would, and
// returns what they were (Tuned: nothing was changed). Processes that have
// the repository open pick them up when they next reread its format; until
// then they keep the old ones, which kopia tolerates (a write that lands in
// an epoch compacted meanwhile fails rather than goes missing).
func (r *Repository) TuneIndexEpochs(ctx context.Context) (IndexEpochs, error) {
	before, err := r.IndexEpochs(ctx)
	if err != nil || before.Tuned {
		return before, err
	}

	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return before, errors.New("index epochs need a direct repository connection")
	}

	release, err := r.guard(ctx)
	if err != nil {
		return before, err
	}
	defer release()

	err = repo.DirectWriteSession(ctx, dr, repo.WriteSessionOptions{Purpose: "lifeboat index epochs"}, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		fm := w.FormatManager()

		mp, err := fm.GetMutableParameters(ctx)
		if err != nil {
			return err
		}

		if !mp.EpochParameters.Enabled {
			return errors.New("the repository's index has no epochs (a kopia format older than Lifeboat's): nothing to tune")
		}

		blobcfg, err := fm.BlobCfgBlob(ctx)
		if err != nil {
			return err
		}

		features, err := fm.RequiredFeatures(ctx)
		if err != nil {
			return err
		}

		tuneEpochs(&mp)

		return fm.SetParameters(ctx, mp, blobcfg, features)
	})
	if err != nil {
		return before, fmt.Errorf("set the repository's index epochs: %w", r.where.explain(err))
	}

	return before, nil
}

// QuickMaintain runs kopia's quick maintenance: with epochs, it compacts the
// oldest settled epoch's index blobs into one and advances the current epoch
// once it is old enough. kopia designed both to run while other processes
// write (a backup, the binlog streamer), so nothing is locked. Full
// maintenance (Maintain, at prune) takes ownership of maintenance; quick
// maintenance only takes it when nobody has it, and otherwise runs anyway
// (epoch compaction gives the same result whoever runs it), so a daemon and
// a prune on another machine never take it from each other.
func (r *Repository) QuickMaintain(ctx context.Context) error {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return errors.New("maintenance needs a direct repository connection")
	}

	r.maintMu.Lock()
	defer r.maintMu.Unlock()

	release, err := r.guard(ctx)
	if err != nil {
		return err
	}
	defer release()

	return repo.DirectWriteSession(ctx, dr, repo.WriteSessionOptions{Purpose: "lifeboat quick maintenance"}, func(ctx context.Context, w repo.DirectRepositoryWriter) error {
		p, err := maintenance.GetParams(ctx, w)
		if err != nil {
			return fmt.Errorf("maintenance settings: %w", err)
		}

		if p.Owner == "" {
			p.Owner = w.ClientOptions().UsernameAtHost()
			if err := maintenance.SetParams(ctx, w, p); err != nil {
				return fmt.Errorf("take maintenance ownership: %w", err)
			}
		}

		if err := snapshotmaintenance.Run(ctx, w, maintenance.ModeQuick, true, maintenance.SafetyFull); err != nil {
			return fmt.Errorf("quick maintenance: %w", err)
		}

		n, err := r.dropEmptyIndexShards(ctx, w)
		if err != nil {
			return fmt.Errorf("quick maintenance: %w", err)
		}

		if n > 0 {
			r.log.Debug("quick maintenance: removed empty index folders", "count", n)
		}

		return nil
	})
}

// LastQuickMaintenance is when quick maintenance last advanced (or checked)
// the index epoch, from kopia's maintenance schedule; zero if never.
func (r *Repository) LastQuickMaintenance(ctx context.Context) (time.Time, error) {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return time.Time{}, errors.New("maintenance needs a direct repository connection")
	}

	s, err := maintenance.GetSchedule(ctx, dr)
	if err != nil {
		return time.Time{}, fmt.Errorf("maintenance schedule: %w", err)
	}

	var last time.Time

	for _, run := range s.Runs[maintenance.TaskEpochAdvance] {
		if run.Success && run.End.After(last) {
			last = run.End
		}
	}

	return last, nil
}

// KeepIndexSmall is what a long-running writer (the daemon, `binlog stream`)
// does for the index: it gives an older repository the epoch parameters new
// ones get, then runs quick maintenance now and every
// QuickMaintenanceInterval until ctx ends, so the index blobs every write
// and every open lists stay those of the last hour, whatever the
// repository's age. Failures are logged and tried again at the next interval.
func (r *Repository) KeepIndexSmall(ctx context.Context, log *slog.Logger) {
	if log == nil {
		log = r.log
	}

	before, err := r.TuneIndexEpochs(ctx)

	switch {
	case err != nil:
		log.Warn("index epochs left as they are", "err", err)
	case !before.Tuned:
		log.Info("repository index epochs set for frequent small writes (done once)",
			"min_epoch_was", before.MinDuration.String(), "refresh_was", before.Refresh.String())
	}

	for {
		if err := r.QuickMaintain(ctx); err != nil && ctx.Err() == nil {
			log.Warn("quick index maintenance", "err", err)
		}

		select {
		case <-ctx.Done():
			return
		case <-time.After(QuickMaintenanceInterval):
		}
	}
}
