package repo

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/kopia/kopia/repo"
)

// ErrSamePassword is a new password equal to the current one.
var ErrSamePassword = errors.New("the new password is the current one")

// ChangePassword re-wraps the repository's format key with a key derived
// from the new password: kopia rewrites its two small format blobs
// (kopia.repository, kopia.blobcfg) and nothing else. The master key, and
// every key derived from it (the data's, the audit trail's), stays: data
// written before opens with the new password, and an old copy of the
// format blob still opens everything with the old one. The repository is
// then opened afresh with each password, to prove the new one works and the
// old one no longer does.
func (r *Repository) ChangePassword(ctx context.Context, old, pw Password) error {
	if pw.Value == "" {
		return fmt.Errorf("change password: %w for the new password", ErrNoPassword)
	}

	if pw.Value == old.Value {
		return fmt.Errorf("change password: %w", ErrSamePassword)
	}

	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return errors.New("change password: not a direct repository")
	}

	if err := dr.FormatManager().ChangePassword(ctx, pw.Value); err != nil {
		return fmt.Errorf("change password of %s: %w", r.path, r.where.explain(err))
	}

	nr, err := OpenAt(ctx, r.where, pw, nil)
	if err != nil {
		return fmt.Errorf("change password of %s: the new password does not open it: %w", r.path, err)
	}

	nr.Close(ctx)

	or, err := OpenAt(ctx, r.where, old, nil)
	if err == nil {
		or.Close(ctx)
		return fmt.Errorf("change password of %s: the old password still opens it", r.path)
	}

	if !errors.Is(err, ErrWrongPassword) {
		return fmt.Errorf("change password of %s: check that the old password is refused: %w", r.path, err)
	}

	return nil
}

// ID is the repository's unique ID (hex): kopia derives every key from it
// with the master key, and a copy has the same.
func (r *Repository) ID() string {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return ""
	}

	return hex.EncodeToString(dr.UniqueID())
}
