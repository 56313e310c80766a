package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// A files restore notes its target beside the audit log while it runs, so
// `status` can point at a restore that was interrupted (the target's own
// marker, repo.RestoreMarker, says which snapshot it was).

type restoreNote struct {
	Source   string `json:"source"`
	Snapshot string `json:"snapshot"`
	Target   string `json:"target"`
}

func restoreNotes(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.Audit.Path), "restores-under-way")
}

func restoreNotePath(cfg *config.Config, target string) string {
	h := sha256.Sum256([]byte(target))
	return filepath.Join(restoreNotes(cfg), hex.EncodeToString(h[:8])+".json")
}

// noteRestore records that a restore into target is under way; a failure
// to do so only costs the hint in `status`.
func (a *App) noteRestore(cfg *config.Config, n restoreNote) {
	b, _ := json.Marshal(n)

	if err := os.MkdirAll(restoreNotes(cfg), 0o700); err == nil {
		err = os.WriteFile(restoreNotePath(cfg, n.Target), b, 0o600)
		if err != nil {
			a.log.Debug("note the restore under way", "err", err)
		}
	}
}

// forgetRestore removes the note of a restore that completed.
func forgetRestore(cfg *config.Config, target string) {
	os.Remove(restoreNotePath(cfg, target))
}

// warnInterruptedRestores says, for each noted restore whose target still
// holds its marker, that it was interrupted and how to finish it; notes of
// targets without a marker are dropped.
func (a *App) warnInterruptedRestores(cfg *config.Config) {
	files, _ := filepath.Glob(filepath.Join(restoreNotes(cfg), "*.json"))

	for _, f := range files {
		var n restoreNote

		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &n) != nil {
			continue
		}

		inc, err := repo.ReadRestoreMarker(n.Target)
		if err != nil || inc == nil {
			os.Remove(f)
			continue
		}

		fmt.Fprintf(a.Stderr, "warning: the restore into %s is incomplete (%s): finish it with `lifeboat restore %s --snapshot %s --target %s`\n",
			n.Target, inc, n.Source, inc.Snapshot, n.Target)
	}
}
