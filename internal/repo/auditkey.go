package repo

import (
	"errors"
	"fmt"

	"github.com/kopia/kopia/repo"
)

// auditKeyPurpose names the audit trail's key among the keys kopia derives
// from the master key; changing it orphans every keyed record.
const auditKeyPurpose = "lifeboat audit trail v1"

// AuditKey is the key that authenticates the audit trail. It is derived from
// the repository's master key, which is stored only encrypted with the
// password: every machine that can open the repository (or one of its copies,
// which share the master key) gets the same key, a password change keeps it,
// and nothing on the local disk alone yields it.
func (r *Repository) AuditKey() ([]byte, error) {
	dr, ok := r.rep.(repo.DirectRepository)
	if !ok {
		return nil, errors.New("audit key: not a direct repository")
	}

	k, err := dr.DeriveKey(auditKeyPurpose, 32)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}

	return k, nil
}
