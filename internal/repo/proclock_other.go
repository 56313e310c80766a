//go:build !(linux || darwin || freebsd || openbsd || netbsd)

package repo

import (
	"errors"
	"os"
)

// Without flock, runs are not guarded against each other.
const (
	flockSupported = false
	noFollow       = 0
)

var errLocked = errors.New("locked")

func lockFile(*os.File, bool) error { return nil }

func unlockFile(*os.File) {}

func processAlive(int) bool { return false }

func checkLockDir(string) error { return nil }
