package repo

import "github.com/kopia/kopia/repo/content"

// Revision is a number that changes whenever what this process sees of
// the repository may have changed: its own writes, and whatever a refresh
// brought in from other processes. Two reads at the same revision read the
// same manifests, so a reader may keep what it computed from them until the
// revision moves. ok is false when it cannot be told; every read may then
// differ.
func (r *Repository) Revision() (rev int64, ok bool) {
	cm, ok := r.rep.(interface{ ContentManager() *content.WriteManager })
	if !ok {
		return 0, false
	}

	return cm.ContentManager().Revision(), true
}
