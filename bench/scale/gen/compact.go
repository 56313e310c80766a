//go:build compact

package main

import (
	"context"
	"fmt"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
)

// fullEvery is how many simulated days pass between two full maintenance
// runs (a weekly prune job).
const fullEvery = 7

var days int

// compactDay does what a day of the daemon does to the archive at now: its
// compaction job and its quick index maintenance, and once a week the prune
// job's full maintenance. The day is simulated in seconds, so full
// maintenance reclaims at once what the compaction replaced, as the real one
// does once its safety margin (wall-clock hours) has passed.
var compactDay = func(ctx context.Context, r *repo.Repository, source string, now time.Time, after time.Duration) (string, error) {
	if err := ageFiles(now); err != nil {
		return "", fmt.Errorf("date the day's files: %w", err)
	}

	res, err := binlog.Compact(ctx, r, source, binlog.CompactOptions{Now: now, After: after})
	if err != nil {
		return "", err
	}

	if err := ageFiles(now); err != nil {
		return "", fmt.Errorf("date the day's files: %w", err)
	}

	// Read the epochs again with the times just given.
	if err := r.Refresh(ctx); err != nil {
		return "", err
	}

	if err := r.QuickMaintain(ctx); err != nil {
		return "", fmt.Errorf("quick maintenance: %w", err)
	}

	if days++; days%fullEvery == 0 {
		if err := r.Maintain(ctx, true); err != nil {
			return "", fmt.Errorf("full maintenance: %w", err)
		}
	}

	if err := ageFiles(now); err != nil {
		return "", fmt.Errorf("date the day's files: %w", err)
	}

	return fmt.Sprintf("%d segments before, %d after, %d pieces written, %d deleted, %d bytes", res.Before, res.After, res.Pieces, res.Deleted, res.Bytes), nil
}
