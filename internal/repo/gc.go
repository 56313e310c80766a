package repo

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

// kopia allocates a fresh buffer for every content it reads back, about
// twice the bytes restored, over a small live heap (read-ahead buffers live
// outside it). At the default GOGC the collector then runs every few
// megabytes: 15% of a restore's CPU on the files benchmark. While restores or
// verifications run, the heap may grow to four times what is live, within a
// soft limit that keeps it bounded. Settings the user gives (GOGC,
// GOMEMLIMIT) win.
const (
	readGCPercent = 300
	readGCLimit   = 192 << 20
)

var gcState struct { //nolint:gochecknoglobals
	sync.Mutex
	users                int
	percent, limit       int64
	setPercent, setLimit bool
}

// relaxGC applies the settings until the returned func is called; calls
// may overlap (the daemon restores and verifies concurrently).
func relaxGC() (undo func()) {
	gcState.Lock()
	defer gcState.Unlock()

	if gcState.users++; gcState.users == 1 {
		gcState.setPercent, gcState.setLimit = os.Getenv("GOGC") == "", os.Getenv("GOMEMLIMIT") == ""

		if gcState.setPercent {
			gcState.percent = int64(debug.SetGCPercent(readGCPercent))
		}

		if gcState.setLimit {
			// Never below twice what is live now, so a large
			// plan does not keep the collector running.
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			gcState.limit = debug.SetMemoryLimit(max(readGCLimit, 2*int64(ms.HeapAlloc)))
		}
	}

	return func() {
		gcState.Lock()
		defer gcState.Unlock()

		if gcState.users--; gcState.users > 0 {
			return
		}

		if gcState.setPercent {
			debug.SetGCPercent(int(gcState.percent))
		}

		if gcState.setLimit {
			debug.SetMemoryLimit(gcState.limit)
		}
	}
}
