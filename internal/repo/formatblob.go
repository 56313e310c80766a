package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/kopia/kopia/repo/format"
)

// FormatWrittenAt is when the repository's format blob (kopia.repository,
// which holds the format key wrapped by the password) was last written, as
// the storage tells it. It needs no password: a recovery kit whose sealed
// password no longer opens the repository is told from a kit older than
// this (the password changed after the kit was made). Any change of the
// format rewrites the blob, so it is the latest such change, not
// necessarily the password's.
func FormatWrittenAt(ctx context.Context, where Storage) (time.Time, error) {
	st, err := where.blob(ctx, false)
	if err != nil {
		return time.Time{}, fmt.Errorf("repository %s: %w", where.String(), err)
	}
	defer st.Close(ctx)

	md, err := st.GetMetadata(ctx, format.KopiaRepositoryBlobID)
	if err != nil {
		return time.Time{}, fmt.Errorf("repository %s: read its format blob: %w", where.String(), where.explain(err))
	}

	return md.Timestamp, nil
}
