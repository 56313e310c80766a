//go:build compact

package main

import (
	"context"
	"fmt"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
)

// compactDay compacts the archive as the daemon's job would at now.
var compactDay = func(ctx context.Context, r *repo.Repository, source string, now time.Time, after time.Duration) (string, error) {
	res, err := binlog.Compact(ctx, r, source, binlog.CompactOptions{Now: now, After: after})
	if err != nil {
		return "", err
	}

	return fmt.Sprintf("%d segments before, %d after, %d pieces written, %d deleted, %d bytes", res.Before, res.After, res.Pieces, res.Deleted, res.Bytes), nil
}
