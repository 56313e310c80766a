package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/repo"
)

func (a *App) verifyCommand() *cobra.Command {
	var (
		snapID      string
		restoreTest bool
		readAll     bool
		read        string
		j           *jsonOut
	)

	cmd := &cobra.Command{
		Use:   "verify [SOURCE] [--snapshot ID] [--restore-test] [--read-all | --read N%]",
		Short: "Read back and authenticate the snapshots' stored bytes; --restore-test restores and compares",
		Args:  cobra.MaximumNArgs(1),
		Example: "  lifeboat verify\n" +
			"  lifeboat verify docs --read 10%\n" +
			"  lifeboat verify shop-db --restore-test",
		RunE: func(cmd *cobra.Command, args []string) error {
			fraction, err := readFraction(read, readAll, cmd.Flags().Changed("read"))
			if err != nil {
				return err
			}

			cfg, r, err := a.openRepo(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close(cmd.Context())

			name := ""
			if len(args) == 1 {
				s, err := a.source(cfg, args[0])
				if err != nil {
					return err
				}

				name = s.Name()
			}

			if snapID != "" && name == "" {
				return usage("--snapshot needs a SOURCE")
			}

			req := ops.Verify{Snapshot: snapID, Fraction: fraction}
			if name != "" {
				req.Sources = []string{name}
			}

			start := a.clock().Now()
			bars := a.oneBar("verify")

			res, err := a.executor(cfg, r, nil, runName(cmd, args)).Verify(cmd.Context(), req, j.observe(bars.observe))
			bars.done()

			if err != nil {
				return err
			}

			for _, p := range res.Problems {
				fmt.Fprintf(a.Stderr, "problem: %s\n", p)
			}

			if err := a.verifyVerdict(cmd, j, cfg, r, res, fraction, start); err != nil || !restoreTest {
				return err
			}

			return a.restoreTests(cmd, j, cfg, r, name, snapID)
		},
	}

	cmd.Flags().StringVar(&snapID, "snapshot", "", "verify only this snapshot of SOURCE")
	cmd.Flags().BoolVar(&restoreTest, "restore-test", false, "also restore each source's newest backup (or --snapshot) into a scratch database or temporary folder and compare it with what was recorded")
	a.ro.mysql.bind(cmd)
	cmd.Flags().BoolVar(&readAll, "read-all", false, "read every stored byte (the default)")
	cmd.Flags().StringVar(&read, "read", "", "read only a random sample of the file content, e.g. 10%")
	j = a.jsonProgressFlags(cmd)

	return cmd
}

// verifyVerdict says what verify found, and fails when a snapshot or the
// audit trail's copy has a problem.
func (a *App) verifyVerdict(cmd *cobra.Command, j *jsonOut, cfg *config.Config, r *repo.Repository, res *ops.VerifyResult, fraction float64, start time.Time) error {
	took := clock.Since(a.clock(), start)
	out := verifyJSON{
		Type: "result", Sources: orEmpty(res.Sources), Snapshots: res.Snapshots, Files: res.Files, BytesRead: res.BytesRead,
		Fraction: fraction, Seconds: took.Seconds(), OK: res.OK(), Problems: orEmpty(res.Problems),
	}

	sample := ""
	if fraction < 1 {
		sample = fmt.Sprintf(" (a %s sample)", strconv.FormatFloat(fraction*100, 'f', -1, 64)+"%")
	}

	if !j.on {
		fmt.Fprintf(a.Stdout, "verified %d snapshots, %d files, %s of distinct content read back%s in %s: ",
			res.Snapshots, res.Files, progress.Bytes(res.BytesRead), sample, seconds(took))
	}

	if !res.OK() {
		if j.on {
			_ = j.emit(out)
		} else {
			fmt.Fprintf(a.Stdout, "%d PROBLEMS\n", len(res.Problems))
		}

		return errors.New("verification failed: the snapshots named above cannot be trusted; restore from another snapshot or copy")
	}

	if !j.on {
		fmt.Fprintln(a.Stdout, "OK")
	}

	// The audit trail's copy is read back and compared too.
	p := a.trailProblem(cmd.Context(), cfg, r, true)
	if j.on {
		out.OK, out.AuditTrailProblem = p == "", p
		if err := j.emit(out); err != nil {
			return err
		}
	}

	if p != "" {
		fmt.Fprintf(a.textOut(), "audit trail: PROBLEM: %s\n", p)
		return errors.New("verification failed: the audit trail has a problem (above)")
	}

	return nil
}

// restoreTests runs the restore test of source name (every source when
// name is empty) and fails when any restored copy differs.
func (a *App) restoreTests(cmd *cobra.Command, j *jsonOut, cfg *config.Config, r *repo.Repository, name, snapID string) error {
	names := cfg.SourceNames
	if name != "" {
		names = []string{name}
	}

	var failed []string

	for _, n := range names {
		if _, ok := cfg.Sources[n]; !ok {
			continue // a source no longer configured
		}

		ok, err := a.restoreTest(cmd, j, cfg, r, n, snapID)
		if err != nil {
			return err
		}

		if !ok {
			failed = append(failed, n)
		}
	}

	if len(failed) > 0 {
		return fmt.Errorf("restore test failed for %s: the restored copy differs from what the backup recorded (problems above)", strings.Join(failed, ", "))
	}

	return nil
}

// restoreTest runs one source's restore test through the operations
// executor and prints it.
func (a *App) restoreTest(cmd *cobra.Command, j *jsonOut, cfg *config.Config, r *repo.Repository, name, snapID string) (bool, error) {
	ex, err := a.allExecutor(cfg, r)
	if err != nil {
		return false, err
	}

	res, err := ex.RestoreTest(cmd.Context(), ops.RestoreTest{Source: name, Snapshot: snapID, Tamper: a.tamper}, j.observe(a.barObserver("restore test "+name)))
	if errors.Is(err, ops.ErrNotTestable) {
		return false, usage("source %s cannot be restore-tested", name)
	}

	rep, snap := res.Report, res.Snapshot
	if rep == nil {
		return false, err
	}

	for _, p := range rep.Problems {
		fmt.Fprintf(a.Stderr, "problem: %s: %s\n", name, p)
	}

	if j.on {
		return rep.OK(), j.emit(restoreTestJSON{
			Type: "restore_test", Source: name, SnapshotID: snap.ID, SnapshotTime: utc(snap.Time), RestoreSeconds: rep.Restore.Seconds(),
			Checked: rep.Checked, What: rep.What, Checks: rep.Checks, Assertions: rep.Assertions, Seconds: rep.Total.Seconds(), OK: rep.OK(), Problems: orEmpty(rep.Problems),
		})
	}

	verdict := "OK"
	if !rep.OK() {
		verdict = fmt.Sprintf("%d PROBLEMS", len(rep.Problems))
	}

	asserts := ""
	if rep.Assertions > 0 {
		asserts = fmt.Sprintf(", %d assertions", rep.Assertions)
	}

	compared := "compared with the backup"
	if rep.Checks != "" {
		compared = "checked (" + rep.Checks + ")"
	}

	fmt.Fprintf(a.Stdout, "restore test of %s snapshot %s (%s): restored in %s, %d %s %s%s in %s: %s\n",
		name, shortID(snap.ID), snap.Time.Local().Format(time.DateTime), seconds(rep.Restore), rep.Checked, rep.What, compared, asserts,
		seconds(rep.Total), verdict)

	return rep.OK(), nil
}

// readFraction parses --read N% (or --read-all).
func readFraction(read string, all, set bool) (float64, error) {
	if !set {
		return 1, nil
	}

	if all {
		return 0, usage("give --read-all or --read N%%, not both")
	}

	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(read), "%"), 64)
	if err != nil || !strings.HasSuffix(read, "%") || v < 0 || v > 100 {
		return 0, usage("--read %q: expected a percentage from 0%% to 100%%, e.g. --read 10%%", read)
	}

	return v / 100, nil
}
