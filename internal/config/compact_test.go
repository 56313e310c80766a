package config

import (
	"strings"
	"testing"
	"time"
)

func TestBinlogCompactAfter(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db: {type: mysql}\n  dc:\n    type: mysql\n    binlog: {compact_after: 1h}\n"))
	if err != nil {
		t.Fatal(err)
	}

	if got := cfg.Sources["db"].MySQL.Binlog.CompactAfter; got != 10*time.Minute {
		t.Errorf("default compact_after %s, want 10m", got)
	}

	if got := cfg.Sources["dc"].MySQL.Binlog.CompactAfter; got != time.Hour {
		t.Errorf("compact_after 1h read as %s", got)
	}

	for _, bad := range []string{"soon", "0s", "500ms", "-1h", "[1h]"} {
		_, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db:\n    type: mysql\n    binlog:\n      compact_after: "+bad+"\n"))
		if err == nil || !strings.Contains(err.Error(), "c.yaml:6: sources.db.binlog.compact_after: expected a duration of at least 1s") {
			t.Errorf("compact_after %s: %v", bad, err)
		}
	}
}
