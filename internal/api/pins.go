package api

import (
	"net/http"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/records"
)

// PinInfo is why a snapshot is kept whatever the retention rules say.
type PinInfo struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// pins is GET /api/v1/pins: every pinned snapshot's pin, by snapshot ID,
// so a page shows which snapshots prune keeps and offers to unpin them.
// It is read afresh (a pin from the page shows at once).
func pins(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	all, err := records.All[records.Pin](r.Context(), s.Repo, records.KindPin)
	if err != nil {
		return err
	}

	out := make(map[string]PinInfo, len(all))
	for id, p := range all {
		out[id] = PinInfo{Reason: p.Reason, By: p.By, At: p.At}
	}

	return writeJSON(w, http.StatusOK, out)
}
