package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lifeboat/internal/clock"
)

// ErrBusy means another process holds a lock this one needs: a backup of the
// same source, or a run that needs the repository to itself.
var ErrBusy = errors.New("refused: another lifeboat process is running")

// Holder says which process holds a lock.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("pid %d, `%s`, since %s", h.PID, h.Command, h.Since.Local().Format(time.DateTime))
}

// Locks are process locks on one repository, shared by every lifeboat
// process of this machine that opens it: the command line and the daemon
// take the same ones. They are flock(2) locks, so a process that dies, even
// killed, lets go of its locks at once: a lock file left behind never blocks.
type Locks struct {
	clock clock.Clock
	files []*os.File
	// holders are the files naming this process as a shared holder.
	holders []string
}

// Release lets go of every lock.
func (l *Locks) Release() {
	if l == nil {
		return
	}

	for _, f := range l.files {
		unlockFile(f)
		f.Close()
	}

	for _, h := range l.holders {
		os.Remove(h)
	}

	l.files, l.holders = nil, nil
}

// LockSources takes the lock of each named source, for a backup of them,
// and a shared hold on the repository (which keeps a run that needs it to
// itself, such as prune --reclaim-now, from starting meanwhile). what names
// the run for the message another process gets.
func (r *Repository) LockSources(names []string, what string) (*Locks, error) {
	l := &Locks{clock: r.clock}

	if err := l.take(r.lockDir(), "repository", false, what, "the repository"); err != nil {
		return nil, err
	}

	for _, n := range names {
		if err := l.take(r.lockDir(), "source-"+n, true, what, "source "+n); err != nil {
			l.Release()
			return nil, err
		}
	}

	return l, nil
}

// LockRepository takes the repository: exclusive for a run that no other may
// write during (prune --reclaim-now), shared for one that only must not run
// during such a run (the daemon, for as long as it runs).
func (r *Repository) LockRepository(exclusive bool, what string) (*Locks, error) {
	l := &Locks{clock: r.clock}

	if err := l.take(r.lockDir(), "repository", exclusive, what, "the repository"); err != nil {
		return nil, err
	}

	return l, nil
}

func (l *Locks) take(dir, name string, exclusive bool, what, subject string) error {
	if dir == "" {
		// No place to keep locks (a platform without flock): run unguarded.
		return nil
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the lock folder %s: %w", dir, err)
	}

	if err := checkLockDir(dir); err != nil {
		return err
	}

	p := filepath.Join(dir, lockFileName(name))

	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return fmt.Errorf("open lock %s: %w", p, err)
	}

	if err := lockFile(f, exclusive); err != nil {
		f.Close()

		if !errors.Is(err, errLocked) {
			return fmt.Errorf("lock %s: %w", p, err)
		}

		return busyError(p, subject, exclusive)
	}

	l.files = append(l.files, f)

	// Say who holds it, for the message of the next one refused: in the
	// lock file when exclusive, in a file of its own when shared (there may
	// be several holders).
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Command: what, Since: clock.Or(l.clock).Now().UTC()})
	b = append(b, '\n')

	if exclusive {
		if err := f.Truncate(0); err == nil {
			f.WriteAt(b, 0) //nolint:errcheck
		}

		return nil
	}

	h := fmt.Sprintf("%s.%d", p, os.Getpid())
	if os.WriteFile(h, b, 0o600) == nil {
		l.holders = append(l.holders, h)
	}

	return nil
}

// holders reads who holds the lock at p, leaving out processes that ended
// (and removing what those left).
func holders(p string) []Holder {
	var hs []Holder

	files, _ := filepath.Glob(p + ".*")

	for _, f := range append([]string{p}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}

		var h Holder
		if json.Unmarshal(b, &h) != nil || h.PID <= 0 {
			continue
		}

		if !processAlive(h.PID) {
			if f != p {
				os.Remove(f)
			}

			continue
		}

		hs = append(hs, h)
	}

	return hs
}

func busyError(p, subject string, exclusive bool) error {
	who := ""

	if hs := holders(p); len(hs) > 0 {
		names := make([]string, len(hs))
		for i, h := range hs {
			names[i] = h.String()
		}

		who = " (" + strings.Join(names, "; ") + ")"
	}

	if exclusive && subject == "the repository" {
		return fmt.Errorf("%w%s and uses the repository; this run needs it to itself (it deletes data a running backup may not have recorded yet): wait for that one to finish, or stop it (the daemon too), and run this again", ErrBusy, who)
	}

	return fmt.Errorf("%w%s and holds %s: wait for it to finish and run this again", ErrBusy, who, subject)
}

// lockDir is this repository's lock folder: one per repository location, in
// a folder private to the user (the daemon's systemd unit has a private
// /tmp, so root's locks live under /run).
func (r *Repository) lockDir() string {
	base := baseLockDir()
	if base == "" {
		return ""
	}

	// The configured location: a rekey's redirect moves the blobs, and
	// every process of this configuration must still meet at one lock.
	where := r.Configured()

	loc := where.String()
	if where.S3 == nil {
		if abs, err := filepath.Abs(where.Path); err == nil {
			loc = abs
		}
	}

	h := sha256.Sum256([]byte(loc))

	return filepath.Join(base, hex.EncodeToString(h[:8]))
}

func baseLockDir() string {
	if !flockSupported {
		return ""
	}

	if d := os.Getenv("LIFEBOAT_LOCK_DIR"); d != "" {
		return d
	}

	if os.Geteuid() == 0 {
		if fi, err := os.Stat("/run"); err == nil && fi.IsDir() {
			return "/run/lifeboat/locks"
		}
	}

	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "lifeboat", "locks")
	}

	return filepath.Join(os.TempDir(), fmt.Sprintf("lifeboat-%d", os.Geteuid()), "locks")
}

// lockFileName keeps any source name a single, safe file name.
func lockFileName(name string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}

		return '_'
	}, name)
	h := sha256.Sum256([]byte(name))

	if len(safe) > 64 {
		safe = safe[:64]
	}

	return safe + "-" + hex.EncodeToString(h[:4]) + ".lock"
}
