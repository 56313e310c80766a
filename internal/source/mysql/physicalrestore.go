package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"lifeboat/internal/childenv"
	"lifeboat/internal/clock"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// PhysicalRestore says what a physical restore did.
type PhysicalRestore struct {
	Datadir string
	// Chain are the snapshots extracted and prepared, the full first.
	Chain   []string
	Bytes   int64
	Extract time.Duration
	Prepare time.Duration
}

// ErrNoSpace means the target's file system cannot hold the restore.
var ErrNoSpace = errors.New("not enough free space")

// restorePhysical extracts snap's chain (the full, then each incremental)
// from the repository and prepares it in datadir, which must be empty or
// missing: the result is a data directory a server starts on. Whatever it
// wrote is removed when it fails; nothing outside datadir (and a scratch
// folder beside it) is touched.
func (s *Source) restorePhysical(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, datadir string) (*PhysicalRestore, error) {
	phys, ok := LoadPhysical(snap)
	if !ok {
		return nil, fmt.Errorf("snapshot %s is not a physical backup", snap.ID)
	}

	if datadir == "" {
		return nil, fmt.Errorf("snapshot %s is a physical backup: restore it into an empty data directory with --target-datadir DIR, then start a server on it", shortID(snap.ID))
	}

	datadir, err := filepath.Abs(datadir)
	if err != nil {
		return nil, err
	}

	empty, err := source.IsEmptyDir(datadir)
	if err != nil {
		return nil, err
	}

	if !empty {
		return nil, fmt.Errorf("%w: %s holds files; a physical restore writes a whole data directory and needs an empty or new one: choose another folder, or move the old data directory aside first (it is then your copy of what the restore replaces)", source.ErrTargetNotEmpty, datadir)
	}

	chain := make([]*repo.Snapshot, 0, len(phys.Chain)+1)
	for _, id := range phys.Chain {
		c, err := r.Find(ctx, s.cfg.Name, id)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s builds on %s, which cannot be read: %w", shortID(snap.ID), shortID(id), err)
		}

		chain = append(chain, c)
	}

	chain = append(chain, snap)

	rep := &PhysicalRestore{Datadir: datadir}
	for _, c := range chain {
		rep.Chain = append(rep.Chain, c.ID)
		rep.Bytes += c.Bytes
	}

	created := false
	if _, err := os.Stat(datadir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(datadir, 0o750); err != nil {
			return nil, fmt.Errorf("create %s: %w", datadir, err)
		}

		created = true
	}

	if err := checkSpace(datadir, rep.Bytes); err != nil {
		if created {
			os.Remove(datadir)
		}

		return nil, err
	}

	if err := s.extractAndPrepare(ctx, r, chain, datadir, rep); err != nil {
		clearDir(datadir, created)

		return nil, err
	}

	s.measured(ctx, r, rep.Bytes, rep.Extract+rep.Prepare, func(sp *restoreSpeeds, v float64) { sp.PhysicalCopy = v })

	return rep, nil
}

func (s *Source) extractAndPrepare(ctx context.Context, r *repo.Repository, chain []*repo.Snapshot, datadir string, rep *PhysicalRestore) error {
	clk := s.clock(r)
	tool, err := backupTool()
	if err != nil {
		return err
	}

	start := clk.Now()
	if err := extract(ctx, r, chain[0], datadir); err != nil {
		return err
	}

	rep.Extract += clock.Since(clk, start)
	start = clk.Now()

	if err := runTool(ctx, tool, "--prepare", "--target-dir="+datadir); err != nil {
		return fmt.Errorf("prepare the full backup %s: %w", shortID(chain[0].ID), err)
	}

	rep.Prepare += clock.Since(clk, start)

	for _, inc := range chain[1:] {
		// Beside the target, on the same file system, and removed at once.
		dir, err := os.MkdirTemp(filepath.Dir(datadir), ".lifeboat-incremental-")
		if err != nil {
			return err
		}

		start = clk.Now()
		err = extract(ctx, r, inc, dir)
		rep.Extract += clock.Since(clk, start)
		start = clk.Now()

		if err == nil {
			if err = runTool(ctx, tool, "--prepare", "--target-dir="+datadir, "--incremental-dir="+dir); err != nil {
				err = fmt.Errorf("apply the incremental %s: %w", shortID(inc.ID), err)
			}
		}

		rep.Prepare += clock.Since(clk, start)
		os.RemoveAll(dir)

		if err != nil {
			return err
		}
	}

	return matchOwner(datadir)
}

// extract unpacks snap's mbstream into dir with mbstream -x, read straight
// from the repository.
func extract(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, dir string) error {
	mb, err := exec.LookPath("mbstream")
	if err != nil {
		return errors.New("a physical restore unpacks the backup with mbstream: install mariadb-backup (Debian: apt-get install mariadb-backup)")
	}

	in, err := r.OpenFile(ctx, snap.ID, streamFile)
	if err != nil {
		return err
	}
	defer in.Close()

	cmd := exec.CommandContext(ctx, mb, "-x", "-C", dir)
	cmd.Env = childenv.Env(nil)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stdin, cmd.Stderr = in, stderr

	runErr := cmd.Run()
	// What the repository failed to give back is the cause, if anything.
	_, drainErr := io.Copy(io.Discard, in)

	if runErr != nil {
		if full(dir) || strings.Contains(stderr.lastLines(4), "No space left") {
			return fmt.Errorf("%w in %s: the disk filled while unpacking backup %s; nothing is left there: free space (about %s) or choose a larger disk, then restore again", ErrNoSpace, dir, shortID(snap.ID), progress.Bytes(snap.Bytes))
		}

		return fmt.Errorf("unpack backup %s with mbstream: %v: %s", shortID(snap.ID), runErr, stderr.lastLines(4))
	}

	if drainErr != nil {
		return fmt.Errorf("read backup %s from the repository: %w", shortID(snap.ID), drainErr)
	}

	return nil
}

// runTool runs mariadb-backup with args (no option files: the backup
// carries its own settings in backup-my.cnf).
func runTool(ctx context.Context, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, tool, append([]string{"--no-defaults"}, args...)...)
	cmd.Env = childenv.Env(nil)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out := &tailBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = out, out

	if err := cmd.Run(); err != nil {
		if strings.Contains(out.lastLines(10), "No space left") || strings.Contains(out.lastLines(10), "errno 28") {
			return fmt.Errorf("%w: %s", ErrNoSpace, out.lastLines(3))
		}

		return fmt.Errorf("%v: %s", err, out.lastLines(4))
	}

	return nil
}

// checkSpace refuses a restore the target's file system visibly cannot
// hold, before anything is written.
func checkSpace(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil //nolint:nilerr // unknown: the unpack finds out
	}

	free := int64(st.Bavail) * st.Bsize //nolint:unconvert
	if free < need {
		return fmt.Errorf("%w in %s: the backup needs about %s and %s is free: free space or choose a larger disk; nothing was written", ErrNoSpace, dir, progress.Bytes(need), progress.Bytes(free))
	}

	return nil
}

// full reports whether dir's file system has no room left.
func full(dir string) bool {
	var st syscall.Statfs_t

	return syscall.Statfs(dir, &st) == nil && st.Bavail == 0
}

// clearDir removes what a failed restore wrote into dir (which was empty),
// and dir itself when the restore created it.
func clearDir(dir string, created bool) {
	if created {
		os.RemoveAll(dir)
		return
	}

	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// matchOwner gives the restored files the data directory's owner, so the
// server account that owns it (mysql, say) can start on them.
func matchOwner(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}

	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == os.Geteuid() {
		return nil
	}

	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}

		return os.Lchown(p, int(st.Uid), int(st.Gid))
	})
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}

// restorePhysicalReport is a physical restore told as a database restore.
func (s *Source) restorePhysicalReport(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, opt RestoreOptions) (*RestoreReport, error) {
	if opt.Tables != nil || opt.Database != "" {
		return nil, fmt.Errorf("snapshot %s is a physical backup of the whole server: --tables and --target-database do not apply; restore it with --target-datadir DIR", shortID(snap.ID))
	}

	pr, err := s.restorePhysical(ctx, r, snap, opt.Datadir)
	if err != nil {
		return nil, err
	}

	rep := &RestoreReport{Datadir: pr.Datadir, Physical: describePhysical(pr)}

	// The restored data directory is whole and prepared; a difference from
	// the snapshot's record fails the restore but leaves it for a look.
	if opt.Scratch {
		return rep, nil // a drill's copy is checked where it is served
	}

	rep.Checked, err = s.checkRestoredDatadir(ctx, r, snap, pr.Datadir)
	if rep.Checked > 0 && err == nil {
		rep.Physical += fmt.Sprintf("; %d tables' row counts and checksums equal to the record of the first restore test of this snapshot", rep.Checked)
	}

	return rep, err
}

func describePhysical(pr *PhysicalRestore) string {
	return fmt.Sprintf("physical restore into %s: %d backup(s) (the full and %d incremental(s), %s) unpacked in %s and prepared in %s; start a server with --datadir=%s",
		pr.Datadir, len(pr.Chain), len(pr.Chain)-1, progress.Bytes(pr.Bytes), pr.Extract.Round(time.Millisecond), pr.Prepare.Round(time.Millisecond), pr.Datadir)
}
