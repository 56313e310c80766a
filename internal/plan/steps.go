package plan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"lifeboat/internal/childenv"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// execution is the state of one run: where each source was restored to.
type execution struct {
	rn  *Runner
	run *Run
	opt Options
	// dbs maps a database source to the database its checks use; dirs maps
	// files and git sources to where they were restored.
	dbs  map[string]string
	dirs map[string]string
	// scratch is what a drill created and removes at the end.
	scratchDBs  map[string][]string
	scratchDirs []string
	isolation   []string
	// servedDatadir is, per source, the scratch data directory a drill's
	// copy was restored into (served by a private server).
	servedDatadir map[string]string
}

func (x *execution) drill() bool { return x.run.Mode == ModeDrill }

func (x *execution) remember(st StepResult) {
	if strings.HasPrefix(st.Target, "database ") {
		first, _, _ := strings.Cut(strings.TrimPrefix(st.Target, "database "), ",")
		x.dbs[st.Source] = first
	} else {
		x.dirs[st.Source] = st.Target
	}
}

func (x *execution) step(ctx context.Context, st *config.Step, res *StepResult) error {
	if st.Timeout > 0 {
		var cancel context.CancelFunc

		ctx, cancel = context.WithTimeout(ctx, st.Timeout)
		defer cancel()
	}

	var err error

	switch st.Kind {
	case config.StepStop, config.StepStart:
		err = x.service(ctx, st, res)
	case config.StepRestore:
		err = x.restore(ctx, st, res)
	case config.StepRun:
		err = x.command(ctx, st, res)
	case config.StepCheck:
		if st.URL != "" {
			err = x.checkURL(ctx, st, res)
		} else {
			err = x.checkSQL(ctx, st, res)
		}
	case config.StepNotify:
		err = x.notify(ctx, st, res)
	default:
		err = fmt.Errorf("unknown step kind %q", st.Kind)
	}

	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s (the step's timeout; raise it with timeout: in the plan): %w", st.Timeout, err)
	}

	return err
}

func (x *execution) skip(res *StepResult, why string) error {
	res.Status, res.Note = StatusSkipped, why
	x.isolation = append(x.isolation, res.Title+": "+why)

	return nil
}

func (x *execution) service(ctx context.Context, st *config.Step, res *StepResult) error {
	if x.drill() {
		switch st.Drill {
		case "", "skip":
			return x.skip(res, "a drill leaves services alone")
		default:
			x.isolation = append(x.isolation, res.Title+": ran the drill's stand-in command instead")
			res.Note = "ran the drill's stand-in: " + st.Drill

			return x.shell(ctx, st.Drill, "", res)
		}
	}

	if st.Service != "" {
		return x.exec(ctx, "", res, "systemctl", st.Kind, st.Service)
	}

	return x.shell(ctx, st.Command, "", res)
}

func (x *execution) command(ctx context.Context, st *config.Step, res *StepResult) error {
	if x.drill() {
		switch st.Drill {
		case "":
			return x.skip(res, "commands do not run in a drill unless the step gives a drill: command")
		case "skip":
			return x.skip(res, "the plan skips it in drills")
		default:
			x.isolation = append(x.isolation, res.Title+": ran the drill's command instead")
			res.Note = "ran the drill's command: " + st.Drill

			return x.shell(ctx, st.Drill, "", res)
		}
	}

	return x.shell(ctx, st.Command, st.Dir, res)
}

func (x *execution) shell(ctx context.Context, command, dir string, res *StepResult) error {
	return x.exec(ctx, dir, res, "sh", "-c", command)
}

// exec runs a command with the restored locations in its environment
// (LIFEBOAT_RESTORED_<SOURCE>), so a drill's commands can work on the copies,
// and otherwise only the variables every child gets: never a password or key.
func (x *execution) exec(ctx context.Context, dir string, res *StepResult, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir

	var restored []string

	for src, d := range x.dirs {
		restored = append(restored, "LIFEBOAT_RESTORED_"+envName(src)+"="+d)
	}

	for src, db := range x.dbs {
		restored = append(restored, "LIFEBOAT_RESTORED_"+envName(src)+"="+db)
	}

	cmd.Env = childenv.Env(x.rn.Cfg.SecretEnv(), restored...)

	cmd.WaitDelay = 5 * time.Second

	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := strings.TrimSpace(string(out))
		if len(tail) > 800 {
			tail = "..." + tail[len(tail)-800:]
		}

		if tail != "" {
			return fmt.Errorf("%s: %w: %s", strings.Join(append([]string{name}, args...), " "), err, tail)
		}

		return fmt.Errorf("%s: %w", strings.Join(append([]string{name}, args...), " "), err)
	}

	return nil
}

func envName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}

		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}

		return '_'
	}, s)
}

func (x *execution) restore(ctx context.Context, st *config.Step, res *StepResult) error {
	res.Source = st.Source

	src, err := x.rn.Source(st.Source)
	if err != nil {
		return err
	}

	snapID := st.Snapshot
	if p := x.opt.Point; p != nil {
		id, ok := p.Snapshots[st.Source]
		if !ok {
			return fmt.Errorf("recovery point %s holds no snapshot of %s", p.ID, st.Source)
		}

		snapID = id
	}

	if rcv, ok := src.(source.Recoverer); ok {
		return x.restoreDatabase(ctx, rcv, st, snapID, res)
	}

	if snapID == "" {
		snapID = "latest"
	}

	snap, err := x.rn.Repo.Find(ctx, st.Source, snapID)
	if err != nil {
		return err
	}

	target := st.Target
	overwrite := true

	switch {
	case x.drill():
		dir, err := os.MkdirTemp("", "lifeboat-drill-"+st.Source+"-")
		if err != nil {
			return err
		}

		x.scratchDirs = append(x.scratchDirs, dir)
		target, overwrite = dir, false
		x.isolation = append(x.isolation, fmt.Sprintf("%s: restored into the temporary folder %s", res.Title, dir))
	case target == "":
		target = originalTarget(x.rn.Cfg.Sources[st.Source], snap)
	}

	rr, err := src.Restore(ctx, x.rn.Repo, snap, target, source.RestoreOptions{Overwrite: overwrite, Version: x.rn.Version, Log: x.rn.Log})
	if rr != nil && rr.Safety != nil {
		res.Safety = rr.Safety.ID
	}

	if err != nil {
		return err
	}

	// A recovery gives back the snapshot exactly: what was there and is not
	// in it (saved in the safety snapshot) goes.
	sc := x.rn.Cfg.Sources[st.Source]
	selective := len(sc.Include) > 0 || len(sc.Exclude) > 0 || sc.IgnoreUnreadable

	if overwrite && sc.Type == config.KindFiles && !selective {
		removed, err := x.rn.Repo.RemoveExtra(ctx, snap.ID, target, restoredRoots(target, snap))
		if err != nil {
			return err
		}

		if len(removed) > 0 {
			defer func() { res.Note += fmt.Sprintf("; removed %d entries the snapshot does not hold", len(removed)) }()
		}
	} else if overwrite && sc.Type == config.KindFiles {
		defer func() {
			res.Note += "; entries the snapshot lacks were left in place (the source's include/exclude rules leave things out on purpose)"
		}()
	}

	if st.Owner != "" || st.Mode != "" {
		if err := applyOwnership(target, snap, st.Owner, st.Mode, x.drill()); err != nil {
			return err
		}
	}

	res.Target, res.Snapshot, res.DataTime = target, snap.ID, snap.Time
	res.RPOSeconds = max(0, x.run.Started.Sub(snap.Time).Seconds())
	res.Note = fmt.Sprintf("snapshot %s from %s, %d files into %s", short(snap.ID), snap.Time.Local().Format(time.DateTime), rr.Stats.Files, target)

	if res.Safety != "" {
		res.Note += "; what it replaced is safety snapshot " + short(res.Safety)
	}

	x.dirs[st.Source] = target

	return nil
}

// originalTarget is where a files or git snapshot came from: its folder, or
// / for a snapshot of several absolute paths.
func originalTarget(sc *config.Source, snap *repo.Snapshot) string {
	if sc.Type == config.KindGit {
		return sc.Path
	}

	if snap.Layout == repo.LayoutDir && len(snap.Paths) == 1 {
		return snap.Paths[0]
	}

	return "/"
}

func (x *execution) restoreDatabase(ctx context.Context, rcv source.Recoverer, st *config.Step, snapID string, res *StepResult) error {
	opt := source.DatabaseRestoreOptions{Overwrite: true, Version: x.rn.Version}

	at := x.opt.ToTime
	if at.IsZero() && st.ToTime != "" && snapID == "" {
		t, err := ParseTime(st.ToTime)
		if err != nil {
			return err
		}

		at = t
	}

	switch {
	case x.drill():
		done, err := x.drillCopy(ctx, rcv, st, &opt, res)
		if err != nil {
			return err
		}

		defer done()
	case st.Mode == config.RestorePhysical && st.Target == "":
		return fmt.Errorf("the step restores %s with mode: physical, which restores into a data directory: give it as target: (an empty or new folder for the server to start on)", st.Source)
	case st.Mode == config.RestorePhysical:
		opt.Datadir = st.Target
	case st.Target != "":
		opt.Database = st.Target
	}

	rec, err := rcv.Recover(ctx, x.rn.Repo, snapID, at, opt)
	if rec != nil && rec.Safety != nil {
		res.Safety = rec.Safety.ID
	}

	if err != nil {
		return err
	}

	if rec.Choice != "" {
		defer func() { res.Note = strings.TrimPrefix(rec.Choice, "restore: ") + "; " + res.Note }()
	}

	if rec.Datadir != "" {
		return x.recoveredDatadir(st, rec, res)
	}

	res.Target = "database " + strings.Join(rec.Databases, ",")
	res.Snapshot, res.DataTime = rec.Snapshot.ID, rec.DataTime
	res.RPOSeconds = max(0, x.run.Started.Sub(rec.DataTime).Seconds())
	res.Note = fmt.Sprintf("full %s plus %d binlog transactions into %s: %d tables, %d rows, checksums match; data as of %s",
		short(rec.Snapshot.ID), rec.Transactions, strings.Join(rec.Databases, ", "), rec.Tables, rec.Rows, rec.DataTime.Local().Format("2006-01-02 15:04:05.000"))

	if res.Safety != "" {
		res.Note += "; what it replaced is safety snapshot " + short(res.Safety)
	}

	if len(rec.Databases) > 0 {
		x.dbs[st.Source] = rec.Databases[0]
	}

	return nil
}

// applyOwnership sets owner and mode below target, as the guide's chown -R
// and chmod -R do, with one difference: files keep their own execute bits,
// so 0755 does not make every upload executable.
func applyOwnership(target string, snap *repo.Snapshot, owner, mode string, drill bool) error {
	uid, gid := -1, -1

	if owner != "" {
		u, g, _ := strings.Cut(owner, ":")

		uu, err := user.Lookup(u)
		if err != nil {
			return fmt.Errorf("owner %s: %w", owner, err)
		}

		gg, err := user.LookupGroup(g)
		if err != nil {
			return fmt.Errorf("owner %s: %w", owner, err)
		}

		uid, _ = strconv.Atoi(uu.Uid)
		gid, _ = strconv.Atoi(gg.Gid)
	}

	var perm fs.FileMode

	if mode != "" {
		m, _ := strconv.ParseUint(mode, 8, 32)
		perm = fs.FileMode(m)
	}

	for _, root := range restoredRoots(target, snap) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}

			if d.Type()&fs.ModeSymlink != 0 {
				return nil
			}

			if uid >= 0 && (os.Geteuid() == 0 || !drill) {
				if err := os.Lchown(p, uid, gid); err != nil {
					return fmt.Errorf("chown %s %s: %w", owner, p, err)
				}
			}

			if perm != 0 {
				m := perm
				if !d.IsDir() {
					fi, err := d.Info()
					if err != nil {
						return err
					}

					m = perm&^0o111 | fi.Mode().Perm()&0o111&perm
				}

				if err := os.Chmod(p, m); err != nil {
					return fmt.Errorf("chmod %s: %w", p, err)
				}
			}

			return nil
		})
		if err != nil {
			return err
		}
	}

	return nil
}

func (x *execution) checkURL(ctx context.Context, st *config.Step, res *StepResult) error {
	u := st.URL
	if x.drill() && st.DrillURL != "" {
		u = st.DrillURL
	}

	// What the notes, records and messages show: no password in the URL.
	shown := u
	if pu, err := url.Parse(u); err == nil {
		shown = pu.Redacted()
	}

	if x.drill() && st.DrillURL == "" {
		x.isolation = append(x.isolation, res.Title+": checked the URL as configured (no drill_url)")
	}

	client := &http.Client{Timeout: 5 * time.Second}

	var last string

	// A service just started may need a moment: try until the timeout.
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}

		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()

			if resp.StatusCode/100 == 2 {
				res.Note = fmt.Sprintf("%s answered %d", shown, resp.StatusCode)
				return nil
			}

			last = fmt.Sprintf("it answered %s", resp.Status)
		} else if ctx.Err() == nil {
			last = err.Error()
		}

		select {
		case <-ctx.Done():
			if last == "" {
				last = "no answer"
			}

			return fmt.Errorf("check %s: no 2xx answer within the step's timeout of %s (last: %s)", shown, st.Timeout, strings.ReplaceAll(last, u, shown))
		case <-time.After(time.Second):
		}
	}
}

func (x *execution) checkSQL(ctx context.Context, st *config.Step, res *StepResult) error {
	src, err := x.rn.Source(st.Source)
	if err != nil {
		return err
	}

	my, ok := src.(source.SQLChecker)
	if !ok {
		return fmt.Errorf("source %s is not a database", st.Source)
	}

	db, ok := x.dbs[st.Source]
	if !ok {
		if x.drill() {
			return fmt.Errorf("the drill restored no copy of %s to check: put a restore of %s before this check", st.Source, st.Source)
		}

		dbs := my.Databases()
		if len(dbs) == 0 {
			return fmt.Errorf("source %s names no database to check: set databases: in its configuration, or restore it earlier in the plan", st.Source)
		}

		db = dbs[0]
	}

	probs, err := my.Assert(ctx, db, []string{st.SQL}, x.drill())
	if err != nil {
		return err
	}

	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}

	res.Note = "true in " + db

	return nil
}

func (x *execution) notify(ctx context.Context, st *config.Step, res *StepResult) error {
	msg := st.Message
	if x.drill() {
		msg = "[drill] " + msg
	}

	if x.rn.Notify == nil {
		fmt.Fprintf(x.rn.Out, "\n    notice: %s\n    ", msg)
		res.Note = "no notify channel is configured: printed only"

		return nil
	}

	if err := x.rn.Notify.Send(ctx, "plan "+x.run.Plan, msg); err != nil {
		return fmt.Errorf("notify: %w", err)
	}

	res.Note = "sent"

	return nil
}

// cleanup removes a drill's scratch copies.
func (x *execution) cleanup() {
	if x.rn.Keep {
		return
	}

	for _, d := range x.scratchDirs {
		os.RemoveAll(d)
	}

	for name, dbs := range x.scratchDBs {
		src, err := x.rn.Source(name)
		if err != nil {
			continue
		}

		if my, ok := src.(source.ScratchDatabases); ok {
			for _, db := range dbs {
				if err := my.DropDatabase(context.Background(), db); err != nil && x.rn.Log != nil {
					x.rn.Log.Warn("drop a drill's scratch database", "database", db, "err", err)
				}
			}
		}
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}

// ParseTime reads an instant: RFC 3339, or a local date and time.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}

	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}

	return time.Time{}, fmt.Errorf("time %q: expected a time such as '2026-11-25 14:03:27' (local time), '2026-11-25 14:03:27.250' or RFC 3339 '2026-11-25T14:03:27Z'", s)
}

// restoredRoots are the folders a files snapshot restored into target.
func restoredRoots(target string, snap *repo.Snapshot) []string {
	if snap.Layout == repo.LayoutDir {
		return []string{target}
	}

	roots := make([]string, 0, len(snap.Paths))
	for _, p := range snap.Paths {
		roots = append(roots, filepath.Join(target, p))
	}

	return roots
}

// recoveredDatadir records a database restored into a data directory: a
// drill's copy (served by a private server the source keeps under the
// scratch name, its tables checked) or a recovery's new data directory.
func (x *execution) recoveredDatadir(st *config.Step, rec *source.Recovered, res *StepResult) error {
	res.Snapshot, res.DataTime = rec.Snapshot.ID, rec.DataTime
	res.RPOSeconds = max(0, x.run.Started.Sub(rec.DataTime).Seconds())

	compared := ""
	if rec.Compared > 0 {
		compared = fmt.Sprintf(", %d tables' row counts and checksums equal to the snapshot's record", rec.Compared)
	}

	if !x.drill() {
		res.Target = rec.Datadir
		res.Note = fmt.Sprintf("full %s plus %d binlog transactions into the data directory %s; start the server on it; data as of %s",
			short(rec.Snapshot.ID), rec.Transactions, rec.Datadir, rec.DataTime.Local().Format("2006-01-02 15:04:05.000"))

		return nil
	}

	if x.servedDatadir == nil {
		x.servedDatadir = map[string]string{}
	}

	x.servedDatadir[st.Source] = rec.Datadir
	res.Target = "database " + rec.Databases[0]
	x.dbs[st.Source] = rec.Databases[0]
	res.Note = fmt.Sprintf("full %s plus %d binlog transactions into the scratch data directory %s, served by a private server: %d tables, %d rows, CHECK TABLE ok%s; data as of %s",
		short(rec.Snapshot.ID), rec.Transactions, rec.Datadir, rec.Tables, rec.Rows, compared, rec.DataTime.Local().Format("2006-01-02 15:04:05.000"))

	return nil
}

// drillCopy sets opt to restore a drill's copy of st's source: a scratch
// database, or (unless the step says logical, or the copy is masked) a
// scratch data directory served by a private server, whichever the
// source estimates faster. done records where the copy went.
func (x *execution) drillCopy(ctx context.Context, rcv source.Recoverer, st *config.Step, opt *source.DatabaseRestoreOptions, res *StepResult) (done func(), err error) {
	scratch, ok := rcv.(source.ScratchDatabases)
	if !ok {
		return nil, fmt.Errorf("source %s has no scratch database for a drill to restore into", st.Source)
	}

	// A drill restores a masked copy when the plan's step or the source
	// asks: the scratch database then holds no personal data. A physical
	// copy is the server's files as they were, never masked.
	opt.Masked = st.Masked
	if x.rn.Cfg != nil && x.rn.Cfg.Sources[st.Source] != nil && x.rn.Cfg.Sources[st.Source].Verify.Masked {
		opt.Masked = true
	}

	if opt.Masked && st.Mode == config.RestorePhysical {
		return nil, fmt.Errorf("a masked drill restores a logical backup: a physical copy cannot be masked; drop mode: physical or masked")
	}

	db, err := scratch.OneDatabase(ctx, x.rn.Repo)
	if err != nil && (st.Mode == config.RestoreLogical || opt.Masked) {
		return nil, err
	}

	b := make([]byte, 4)
	rand.Read(b) //nolint:errcheck

	opt.Database, opt.Overwrite = "lifeboat_drill_"+hex.EncodeToString(b), false

	if st.Mode != config.RestoreLogical && !opt.Masked {
		dir, err := os.MkdirTemp("", "lifeboat-drill-"+st.Source+"-")
		if err != nil {
			return nil, err
		}

		x.scratchDirs = append(x.scratchDirs, dir)
		opt.Datadir, opt.Scratch = filepath.Join(dir, "datadir"), true

		if db == "" || st.Mode == config.RestorePhysical {
			db, opt.Database = "the server's databases", ""
		}
	}

	if x.scratchDBs == nil {
		x.scratchDBs = map[string][]string{}
	}

	// Dropped at the end even when the restore fails midway.
	if opt.Database != "" {
		x.scratchDBs[st.Source] = append(x.scratchDBs[st.Source], opt.Database)
	}

	return func() {
		if res.Target == "" {
			return
		}

		name := strings.TrimPrefix(res.Target, "database ")
		if name != opt.Database {
			x.scratchDBs[st.Source] = append(x.scratchDBs[st.Source], name)
		}

		where := "the scratch database " + name
		if d := x.servedDatadir[st.Source]; d != "" {
			where = "a private server on the scratch data directory " + d
		}

		x.isolation = append(x.isolation, fmt.Sprintf("%s: restored %s into %s", res.Title, db, where))
	}, nil
}
