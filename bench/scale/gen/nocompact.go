//go:build !compact

package main

import (
	"context"
	"time"

	"lifeboat/internal/repo"
)

// compactDay is set in a build with -tags compact, once the binlog package
// has compaction; without it the generator writes the uncompacted archive.
var compactDay func(ctx context.Context, r *repo.Repository, source string, now time.Time, after time.Duration) (string, error)
