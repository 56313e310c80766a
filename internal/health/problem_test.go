package health

import (
	"errors"
	"testing"
	"time"

	"lifeboat/internal/records"
)

// TestProblemOrder pins the order in which a source's one problem is
// chosen, which `lifeboat status` and the dashboard's alerts share.
func TestProblemOrder(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	fresh := Source{Name: "db", Tier: "critical", Objective: 15 * time.Minute, Restorable: at, RPO: 5 * time.Minute}
	late := fresh
	late.RPO = 3*time.Hour + 20*time.Minute

	badVerify := late
	badVerify.Verify = &records.VerifyRun{At: at, OK: false}
	badVerify.RestoreTest = &records.RestoreTest{At: at, OK: false}

	badTest := late
	badTest.RestoreTest = &records.RestoreTest{At: at, OK: false}

	unknown := Source{Name: "db", Tier: "critical", Objective: 15 * time.Minute, RestorableErr: errors.New("binlog archive unreadable")}
	unknown.Verify = &records.VerifyRun{At: at, OK: true}

	for _, c := range []struct {
		name      string
		s         Source
		want      string
		withFault bool
	}{
		{"within the objective", fresh, "", false},
		{"above the objective", late, "RPO 3h20m is above the critical tier's objective of 15m00s", false},
		{"a failed verification first", badVerify, "the last verification found problems: run `lifeboat verify db`", true},
		{"a failed restore test before the RPO", badTest, "the last restore test failed: run `lifeboat verify db --restore-test`", true},
		{"no backup", Source{Name: "db"}, "no backup yet: run `lifeboat backup db`", false},
		{"an unknown instant", unknown, "binlog archive unreadable", true},
	} {
		if got := c.s.Problem(); got != c.want {
			t.Errorf("%s: Problem() = %q, want %q", c.name, got, c.want)
		}

		if got := c.s.Fault() != ""; got != c.withFault {
			t.Errorf("%s: Fault() = %q, want a fault: %v", c.name, c.s.Fault(), c.withFault)
		}
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		4200 * time.Millisecond: "4.2s", 13*time.Minute + 5*time.Second: "13m05s",
		5*time.Hour + 10*time.Minute: "5h10m", 76 * time.Hour: "3d4h",
	} {
		if got := Human(d); got != want {
			t.Errorf("Human(%v) = %q, want %q", d, got, want)
		}
	}
}
