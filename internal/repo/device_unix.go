//go:build unix

package repo

import (
	"io/fs"
	"syscall"
)

// device is the filesystem a file lives on, so a walk can stay on one.
func device(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}

	return uint64(st.Dev), true //nolint:unconvert // Dev is narrower on some platforms
}
