// Command gen writes a year of history into a repository for the dashboard
// benchmark (bench/dashboard/run.sh): every configured files source backed
// up through the operations core (internal/ops, as the daemon backs up),
// on a simulated clock that ends now. What a retention of 30 daily and 52
// weekly backups leaves after a year: one backup a day for the last -daily
// days, one every -older-every days (a week) before that, back -days days.
// Now and then a source's day is skipped (an overdue gap on the overview's
// strip) or its backup fails (its folder is missing for the run: a failed
// backup in the audit trail, as the daemon records one).
//
//	LIFEBOAT_PASSWORD=... LIFEBOAT_LOCK_DIR=... gen -config lifeboat.yaml -days 365 -daily 30
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"lifeboat/internal/audit"
	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
)

type options struct {
	config         string
	days, daily    int
	olderEvery     int
	workers        int
	skipEvery      int
	failEvery      int
	hoursBeforeNow time.Duration
}

func main() {
	var o options

	flag.StringVar(&o.config, "config", "lifeboat.yaml", "the configuration (its files sources are backed up)")
	flag.IntVar(&o.days, "days", 365, "days of history")
	flag.IntVar(&o.daily, "daily", 30, "the last days with a backup every day")
	flag.IntVar(&o.olderEvery, "older-every", 7, "days between two backups before the daily ones (7: weekly)")
	flag.IntVar(&o.workers, "workers", 4, "backups run at once")
	flag.IntVar(&o.skipEvery, "skip-every", 23, "a source skips one daily backup in this many (0: none)")
	flag.IntVar(&o.failEvery, "fail-every", 37, "a source's daily backup fails one in this many (0: none)")
	flag.DurationVar(&o.hoursBeforeNow, "last", 2*time.Hour, "how long before now the newest backups ran")
	flag.Parse()

	start := time.Now() //nolint:forbidigo // the generator's own run time, not the simulated clock

	n, failed, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}

	fmt.Fprintf(os.Stderr, "gen: %d backups (%d failed on purpose) over %d days in %.1fs\n", n, failed, o.days, time.Since(start).Seconds()) //nolint:forbidigo // as above
}

func run(ctx context.Context, o options) (int64, int64, error) {
	cfg, err := config.Load(o.config)
	if err != nil {
		return 0, 0, err
	}

	pw := repo.Password{Value: os.Getenv("LIFEBOAT_PASSWORD"), Origin: "LIFEBOAT_PASSWORD"}
	now := clock.Real{}.Now().Add(-o.hoursBeforeNow)
	first := now.AddDate(0, 0, -(o.days - 1))
	fake := clock.NewFake(first)

	r, err := repo.OpenAt(ctx, repo.Storage{Path: cfg.Repository.Path, Clock: fake}, pw, nil)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close(ctx)

	key, err := r.AuditKey()
	if err != nil {
		return 0, 0, err
	}

	srcs := map[string]source.Source{}
	var names []string

	for _, name := range cfg.SourceNames {
		var ok bool
		if srcs[name], ok = sources.New(cfg.Sources[name], os.Getenv); !ok {
			return 0, 0, fmt.Errorf("source %s: type %s unknown", name, cfg.Sources[name].Type)
		}

		if cfg.Sources[name].Type == "files" {
			names = append(names, name)
		}
	}

	e := &ops.Executor{Cfg: cfg, Repo: r, Sources: srcs, Clock: fake, Version: "bench", Who: "lifeboat daemon",
		Audit: &audit.Log{Path: cfg.Audit.Path, Key: key, Clock: fake}}

	var done, failed atomic.Int64

	for d := 0; d < o.days; d++ {
		day := first.AddDate(0, 0, d)
		if left := o.days - 1 - d; left >= o.daily && (left-o.daily)%max(o.olderEvery, 1) != 0 {
			continue
		}

		fake.Advance(day.Sub(fake.Now()))

		if err := backupDay(ctx, e, o, d, names, &done, &failed); err != nil {
			return done.Load(), failed.Load(), err
		}

		// The daemon's quick maintenance after the day's backups: without
		// it every backup reads the indexes of all the earlier ones.
		if err := r.QuickMaintain(ctx); err != nil {
			return done.Load(), failed.Load(), fmt.Errorf("quick maintenance: %w", err)
		}
	}

	return done.Load(), failed.Load(), nil
}

// backupDay backs up every source once at the clock's time, o.workers at
// a time; some skip the day or fail on purpose.
func backupDay(ctx context.Context, e *ops.Executor, o options, day int, names []string, done, failed *atomic.Int64) error {
	work := make(chan int)
	errs := make(chan error, len(names))

	var wg sync.WaitGroup

	for w := 0; w < o.workers; w++ {
		wg.Add(1)

		go func() {
			defer wg.Done()

			for i := range work {
				if err := backupOne(ctx, e, o, day, i, names[i], done, failed); err != nil {
					errs <- err
				}
			}
		}()
	}

	for i := range names {
		if o.skipEvery > 0 && (day+i*7)%o.skipEvery == 0 && day > 0 {
			continue
		}

		work <- i
	}

	close(work)
	wg.Wait()
	close(errs)

	return <-errs
}

func backupOne(ctx context.Context, e *ops.Executor, o options, day, i int, name string, done, failed *atomic.Int64) error {
	paths := e.Cfg.Sources[name].Paths
	if len(paths) == 0 {
		return fmt.Errorf("source %s has no paths", name)
	}

	dir := paths[0]
	// A day's change, so each backup holds something new.
	if err := os.WriteFile(filepath.Join(dir, "changed"), fmt.Appendf(nil, "day %d\n", day), 0o644); err != nil {
		return err
	}

	if o.failEvery > 0 && (day*3+i)%o.failEvery == 0 && day > 0 {
		// The folder is missing for this run: the backup fails and the
		// audit trail records it.
		if err := os.Rename(dir, dir+".away"); err != nil {
			return err
		}

		_, berr := e.Backup(ctx, ops.Backup{Source: name, Type: "full"}, nil)

		if err := os.Rename(dir+".away", dir); err != nil {
			return err
		}

		if berr == nil {
			return fmt.Errorf("backup of %s without its folder did not fail", name)
		}

		failed.Add(1)

		return nil
	}

	if _, err := e.Backup(ctx, ops.Backup{Source: name, Type: "full"}, nil); err != nil {
		return fmt.Errorf("day %d: %w", day, err)
	}

	done.Add(1)

	return nil
}
