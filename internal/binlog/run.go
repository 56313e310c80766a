package binlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/repo"
)

// Stream archives the binlog continuously until ctx ends. It resumes where the
// archive ends, rides through restarts and dropped connections with backoff,
// and when the server no longer has what the archive needs it records the gap
// and takes a full backup, so a new restorable chain starts at once.
func (a *Archiver) Stream(ctx context.Context) error {
	a.By = "stream"
	backoff := time.Second

	for {
		started := a.clk().Now()
		err := a.streamOnce(ctx)

		if ctx.Err() != nil {
			return nil
		}

		var ce *ConfigError
		if errors.As(err, &ce) {
			return err
		}

		var ge *GapError
		if errors.As(err, &ge) {
			if gerr := a.gap(ctx, ge.At, ge.Reason); errors.As(gerr, &ce) {
				return gerr
			} else if gerr != nil {
				a.log().Error("could not start a new chain after the gap", "source", a.Source, "err", gerr)
			} else {
				backoff = time.Second
				continue
			}
		} else if err != nil {
			a.log().Warn("binlog stream interrupted; reconnecting", "source", a.Source, "err", err, "retry_in", backoff)
		}

		if clock.Since(a.clk(), started) > time.Minute {
			backoff = time.Second
		}

		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff): // a real pause before the server is tried again
		}

		backoff = min(backoff*2, 30*time.Second)
	}
}

func (a *Archiver) streamOnce(ctx context.Context) error {
	if a.Reopen != nil {
		r, err := a.Reopen(ctx)
		if err != nil {
			return err
		}

		a.Repo = r
	}

	if err := a.Repo.Refresh(ctx); err != nil {
		return err
	}

	info, err := a.CheckServer(ctx)
	if err != nil {
		return err
	}

	arch, err := Load(ctx, a.Repo, a.Source)
	if err != nil {
		return err
	}

	from, last, ok := arch.End()
	if !ok {
		from, err = a.firstStart(ctx, info)
		if err != nil {
			return err
		}
	} else if why := info.cannotResume(from, last); why != "" {
		return &GapError{At: from, Reason: why}
	}

	a.log().Info("archiving binlog", "source", a.Source, "from", from.String(), "chain", from.Epoch)

	return a.fetch(ctx, from, nil, info.MariaDB)
}

// firstStart chooses where a new archive begins: at the newest full if the
// server still has its binlog, else at a full taken now.
func (a *Archiver) firstStart(ctx context.Context, info *serverInfo) (Coord, error) {
	fulls, err := a.Fulls(ctx)
	if err != nil {
		return Coord{}, err
	}

	// Only the newest full is a candidate. Binlogs are purged oldest first, so
	// when its file is gone an older full's file is gone too, and an older
	// file name the server does have belongs to a later history (after a
	// RESET MASTER reused the names), not to that full.
	if len(fulls) > 0 {
		f := fulls[len(fulls)-1]
		if size, on := info.Logs[f.Coord.File]; on && uint64(f.Coord.Pos) <= size {
			c := f.Coord
			c.Epoch = newEpoch(f.At)

			return c, nil
		}
	}

	_, c, at, err := a.Full(ctx, "the binlog archive starts with a full backup")
	c.Epoch = newEpoch(at)

	return c, err
}

// gap records that the chain broke at c and starts a new one from a full.
func (a *Archiver) gap(ctx context.Context, c Coord, reason string) error {
	a.log().Error("BINLOG GAP: the archive cannot continue; recording the gap and taking a full backup to start a new chain", "source", a.Source, "at", c.String(), "reason", reason)

	arch, err := Load(ctx, a.Repo, a.Source)
	if err != nil {
		return err
	}

	from := arch.Covered
	if _, last, ok := arch.End(); ok && last.Last.After(from) {
		from = last.Last
	}

	epoch := newEpoch(a.clk().Now())
	labels := map[string]string{
		"kind": "gap", "epoch": epoch, "prev_epoch": c.Epoch, "reason": reason,
		"from": from.UTC().Format(time.RFC3339Nano), "at": a.clk().Now().UTC().Format(time.RFC3339Nano),
		"file": c.File, "pos": fmt.Sprint(c.Pos),
	}

	if _, err := a.Repo.PutSegment(ctx, a.Source, labels, emptyReader{}); err != nil {
		return fmt.Errorf("record binlog gap: %w", err)
	}

	_, start, _, err := a.Full(ctx, "binlog gap: "+reason)
	if err != nil {
		return err
	}

	// Mark where the new chain begins, so the next start resumes there.
	seg := &pending{file: start.File, start: start.Pos, end: start.Pos}
	_, err = a.store(ctx, epoch, seg)

	return err
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

// Full is a full backup's place in the binlog.
type Full struct {
	Snap  *repo.Snapshot
	Coord Coord
	At    time.Time
	GTID  string
}

// CatchUp archives from c up to the server's position now and returns where
// it ended and when the server stood there: an incremental or differential.
func (a *Archiver) CatchUp(ctx context.Context, c Coord) (Coord, time.Time, error) {
	info, err := a.CheckServer(ctx)
	if err != nil {
		return c, time.Time{}, err
	}

	at := info.At

	if why := info.cannotResume(c, nil); why != "" {
		return c, at, &GapError{At: c, Reason: why}
	}

	until := info.Current
	until.Epoch = c.Epoch

	if !c.Before(until) {
		return c, at, nil
	}

	if err := a.fetch(ctx, c, &until, info.MariaDB); err != nil {
		return c, at, err
	}

	return until, at, nil
}

// RecordGap is gap for callers outside the streamer (an incremental backup).
func (a *Archiver) RecordGap(ctx context.Context, c Coord, reason string) error {
	return a.gap(ctx, c, reason)
}
