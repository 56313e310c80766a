//go:build linux || darwin || freebsd || openbsd || netbsd

package repo

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

const (
	flockSupported = true
	noFollow       = syscall.O_NOFOLLOW
)

var errLocked = errors.New("locked")

func lockFile(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}

	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}

	return err
}

func unlockFile(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// checkLockDir refuses a lock folder another user could swap files in.
func checkLockDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}

	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("the lock folder %s is not a folder of this user that only it can write: remove it, or set LIFEBOAT_LOCK_DIR", dir)
	}

	return nil
}
