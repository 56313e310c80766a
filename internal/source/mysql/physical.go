package mysql

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"lifeboat/internal/childenv"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// physicalLabel marks a physical backup and records what its next
// incremental and its restore need.
const physicalLabel = "physical"

// streamFile is the one file of a physical snapshot: mariadb-backup's
// mbstream, stored as it came.
const streamFile = "backup.mbstream"

// Physical is what a physical snapshot records.
type Physical struct {
	// Checkpoints is mariadb-backup's xtrabackup_checkpoints: the LSNs the
	// next incremental starts from.
	Checkpoints string `json:"checkpoints"`
	FromLSN     uint64 `json:"from_lsn"`
	ToLSN       uint64 `json:"to_lsn"`
	// Chain lists the snapshots a restore extracts and prepares, the full
	// first and this one last.
	Chain []string `json:"chain"`
}

// LoadPhysical reads a physical snapshot's record; ok is false for a
// logical or binlog snapshot.
func LoadPhysical(snap *repo.Snapshot) (*Physical, bool) {
	raw, ok := snap.Extra[physicalLabel]
	if !ok {
		return nil, false
	}

	var p Physical
	if json.Unmarshal([]byte(raw), &p) != nil {
		return nil, false
	}

	return &p, true
}

// physicalMode reports whether the source takes physical backups.
func (s *Source) physicalMode() bool { return s.cfg.MySQL.Mode == config.ModePhysical }

// physicalFor reports whether this backup is physical: the run's mode,
// else the source's.
func (s *Source) physicalFor(opt source.BackupOptions) bool {
	if opt.Mode != "" {
		return opt.Mode == config.ModePhysical
	}

	return s.physicalMode()
}

// physicalBase is what a physical incremental builds on: the newest
// physical backup (a differential: the newest physical full), whatever
// logical backups came between; nil when there is none.
func (s *Source) physicalBase(ctx context.Context, r *repo.Repository, typ string) (*repo.Snapshot, error) {
	snaps, err := r.Snapshots(ctx, s.cfg.Name)
	if err != nil {
		return nil, err
	}

	var base *repo.Snapshot

	for _, snap := range snaps {
		if _, ok := LoadPhysical(snap); !ok || snap.Role != repo.RoleBackup || (typ == repo.TypeDifferential && snap.Type != repo.TypeFull) {
			continue
		}

		if base == nil || snap.Time.After(base.Time) {
			base = snap
		}
	}

	return base, nil
}

// backupTool finds mariadb-backup (or its older name).
func backupTool() (string, error) {
	for _, n := range []string{"mariadb-backup", "mariabackup"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}

	return "", errors.New("mode: physical backs up with mariadb-backup: install it (Debian: apt-get install mariadb-backup)")
}

// backupPhysical streams mariadb-backup's hot copy into the repository: a
// full, or an incremental (pages changed since base's LSN) when base is a
// physical backup.
func (s *Source) backupPhysical(ctx context.Context, r *repo.Repository, typ string, base *repo.Snapshot, opt source.BackupOptions) (*repo.Snapshot, error) {
	name := s.cfg.Name

	var basePhys *Physical

	if typ != repo.TypeFull {
		p, ok := (*Physical)(nil), base != nil
		if ok {
			p, ok = LoadPhysical(base)
		}

		if !ok {
			if opt.Log != nil {
				opt.Log.Warn("no earlier physical backup to build on: taking a physical full instead", "source", name, "requested", typ)
			}

			typ = repo.TypeFull
		} else {
			basePhys = p
		}
	}

	work, err := os.MkdirTemp("", "lifeboat-physical-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	run, err := s.startBackupTool(ctx, work, basePhys)
	if err != nil {
		return nil, err
	}

	spec := repo.StreamSpec{
		Source: name, Kind: config.KindMySQL, Type: typ, Version: opt.Version, Progress: opt.Progress, Extra: opt.Extra,
		Paths: []string{"mysql-physical:" + s.where()},
		Finish: func(ctx context.Context) (map[string]string, error) {
			return s.finishPhysical(ctx, run, basePhys, base)
		},
	}

	if basePhys != nil {
		spec.Base = base.ID
	}

	snap, err := r.BackupStreams(ctx, spec, []repo.Stream{{Path: streamFile, Open: run.open}})

	run.stop()

	if err != nil {
		var se *repo.StreamError
		if errors.As(err, &se) || run.failed() != nil {
			return nil, fmt.Errorf("source %s: the physical backup failed, nothing was saved: %s", name, run.explain())
		}

		return nil, err
	}

	return snap, nil
}

func (s *Source) where() string {
	if s.cfg.MySQL.Socket != "" {
		return s.cfg.MySQL.Socket
	}

	return fmt.Sprintf("%s:%d", s.cfg.MySQL.Host, s.cfg.MySQL.Port)
}

// toolRun is one mariadb-backup --backup in progress.
type toolRun struct {
	cmd     *exec.Cmd
	lsnDir  string
	stderr  *tailBuffer
	out     io.ReadCloser
	once    sync.Once
	done    chan struct{}
	waitErr error
	pw      string
}

// startBackupTool writes the login into a private option file and starts
// mariadb-backup streaming to its stdout; base, for an incremental, is
// the previous backup's checkpoints, written where --incremental-basedir
// reads them.
func (s *Source) startBackupTool(ctx context.Context, work string, base *Physical) (*toolRun, error) {
	tool, err := backupTool()
	if err != nil {
		return nil, err
	}

	my := s.cfg.MySQL

	pw, err := password(s.cfg.Name, my, s.getenv)
	if err != nil {
		return nil, err
	}

	text, err := optionFile(s.cfg.Name, my.User, pw, my.Socket, my.Host, my.Port, my.TLS, my.TLSCA)
	if err != nil {
		return nil, err
	}

	cnf := filepath.Join(work, "login.cnf")
	if err := os.WriteFile(cnf, []byte(text), 0o600); err != nil {
		return nil, err
	}

	lsnDir := filepath.Join(work, "lsn")
	if err := os.Mkdir(lsnDir, 0o700); err != nil {
		return nil, err
	}

	// The option file comes first, as the tool requires; it names no
	// secret on the command line.
	args := []string{"--defaults-extra-file=" + cnf, "--backup", "--stream=mbstream", "--target-dir=" + lsnDir,
		"--extra-lsndir=" + lsnDir, "--parallel=" + strconv.Itoa(max(1, my.Workers))}

	if base != nil {
		baseDir := filepath.Join(work, "base")
		if err := os.Mkdir(baseDir, 0o700); err != nil {
			return nil, err
		}

		if err := os.WriteFile(filepath.Join(baseDir, "xtrabackup_checkpoints"), []byte(base.Checkpoints), 0o600); err != nil {
			return nil, err
		}

		args = append(args, "--incremental-basedir="+baseDir)
	}

	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = childenv.Env(s.cfg.SecretEnv())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	run := &toolRun{cmd: cmd, lsnDir: lsnDir, stderr: &tailBuffer{max: 64 << 10}, done: make(chan struct{}), pw: pw}
	cmd.Stderr = run.stderr

	if run.out, err = cmd.StdoutPipe(); err != nil {
		return nil, err
	}

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", tool, err)
	}

	go func() {
		run.waitErr = cmd.Wait()
		close(run.done)
	}()

	return run, nil
}

// open hands the uploader the tool's output; its end is an error unless
// the tool finished well.
func (t *toolRun) open(context.Context) (io.ReadCloser, error) {
	return &toolStream{t: t}, nil
}

type toolStream struct{ t *toolRun }

func (ts *toolStream) Read(p []byte) (int, error) {
	n, err := ts.t.out.Read(p)
	if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
		<-ts.t.done

		if ts.t.waitErr != nil {
			return n, fmt.Errorf("mariadb-backup: %w", ts.t.waitErr)
		}

		return n, io.EOF
	}

	return n, err
}

func (ts *toolStream) Close() error { return nil }

// stop ends the tool if it still runs (a failed upload) and waits for it.
func (t *toolRun) stop() {
	t.once.Do(func() {
		select {
		case <-t.done:
		default:
			_ = t.cmd.Process.Kill()
			<-t.done
		}
	})
}

func (t *toolRun) failed() error {
	select {
	case <-t.done:
		return t.waitErr
	default:
		return nil
	}
}

// explain is the tool's last words, the password masked.
func (t *toolRun) explain() string {
	out := t.stderr.lastLines(6)
	if t.pw != "" {
		out = strings.ReplaceAll(out, t.pw, "***")
	}

	if t.waitErr != nil {
		out = t.waitErr.Error() + ": " + out
	}

	return out
}

// finishPhysical reads what mariadb-backup recorded of the copy it
// streamed: the LSNs and the binlog position and GTID of its consistent
// point.
func (s *Source) finishPhysical(ctx context.Context, run *toolRun, basePhys *Physical, base *repo.Snapshot) (map[string]string, error) {
	<-run.done

	if run.waitErr != nil {
		return nil, fmt.Errorf("mariadb-backup: %w", run.waitErr)
	}

	cp, err := os.ReadFile(filepath.Join(run.lsnDir, "xtrabackup_checkpoints"))
	if err != nil {
		return nil, fmt.Errorf("mariadb-backup left no checkpoints: %w", err)
	}

	info, err := os.ReadFile(filepath.Join(run.lsnDir, "xtrabackup_info"))
	if err != nil {
		return nil, fmt.Errorf("mariadb-backup left no backup information: %w", err)
	}

	kv := parseKV(string(cp))
	phys := &Physical{Checkpoints: string(cp)}
	phys.FromLSN, _ = strconv.ParseUint(kv["from_lsn"], 10, 64)
	phys.ToLSN, _ = strconv.ParseUint(kv["to_lsn"], 10, 64)

	if basePhys != nil {
		phys.Chain = append(append([]string(nil), basePhys.Chain...), base.ID)
	}

	meta := &Meta{}
	infoKV := parseKV(string(info))
	meta.ServerVersion = infoKV["server_version"]
	meta.BinlogFile, meta.BinlogPos, meta.GTID = parseBinlogPos(infoKV["binlog_pos"])

	// The copy is consistent at a moment during the run: the server's time
	// once it is done is at or after it, so a recovery to an earlier
	// instant never starts from this backup.
	pool, err := connect(ctx, s.cfg.Name, s.cfg.MySQL, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	if err := pool.QueryRowContext(ctx, "SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')").Scan(&meta.ConsistentAt); err != nil {
		return nil, explain(s.cfg.Name, s.cfg.MySQL, err)
	}

	pj, _ := json.Marshal(phys)
	mj, _ := json.Marshal(meta)

	return map[string]string{physicalLabel: string(pj), metaLabel: string(mj)}, nil
}

// parseKV reads "key = value" lines.
func parseKV(text string) map[string]string {
	out := map[string]string{}

	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}

	return out
}

var binlogPosRE = regexp.MustCompile(`filename '([^']*)', position '(\d+)'(?:, GTID of the last change '([^']*)')?`)

// parseBinlogPos reads xtrabackup_info's binlog_pos line.
func parseBinlogPos(v string) (string, uint64, string) {
	m := binlogPosRE.FindStringSubmatch(v)
	if m == nil {
		return "", 0, ""
	}

	pos, _ := strconv.ParseUint(m[2], 10, 64)

	return m[1], pos, m[3]
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()

	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}

	return len(p), nil
}

func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()

	lines := strings.Split(strings.TrimSpace(string(t.b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}

	return strings.Join(lines, " | ")
}
