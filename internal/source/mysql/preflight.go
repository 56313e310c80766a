package mysql

import (
	"context"

	"lifeboat/internal/repo"
)

// CheckMasked says, before anything is written, whether a masked copy of
// snap would go ahead: the source has masking rules, the masking key is
// there, and in strict mode every column that looks personal is classified.
// It is the check the masked restore and export run first, so a front door
// that answers at once (the HTTP API) gives the same refusal. A snapshot
// without recorded tables (a physical backup) is left to the copy itself.
func (s *Source) CheckMasked(ctx context.Context, r *repo.Repository, snap *repo.Snapshot) error {
	meta, err := LoadMeta(snap)
	if err != nil {
		return nil //nolint:nilerr // the masked copy itself reports a snapshot it cannot mask
	}

	_, err = s.newMasking(ctx, r, meta)

	return err
}
