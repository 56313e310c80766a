package records

import "time"

// KindKit holds the newest recovery kit's record, under KeyKitLast: what
// the kit was made for. It is a kind of its own, not KindKey, so a rekey
// carries it into the new repository, where it is older than the rekey.
const (
	KindKit    = "kit"
	KeyKitLast = "last"
)

// Kit is what a recovery kit was made for. Nothing in it opens anything:
// the kit's ID, when it was made, the repository's ID then, and the
// locations it names (the repository and the copies, no credential).
type Kit struct {
	At           time.Time `record:"at"`
	ID           string    `record:"id"`
	RepositoryID string    `record:"repository_id"`
	Places       string    `record:"places"`
}
