// Command smlgen creates, fills and exercises a Smart Library database:
//
//	smlgen -socket /run/mysqld/mysqld.sock schema
//	smlgen -socket ... -bookings 1000000 generate
//	smlgen -socket ... -workers 4 -duration 60s workload
//	smlgen -socket ... -rate 300 -duration 60s -commits commits.txt workload
//	smlgen -socket ... -transactions 100000 workload
//	smlgen -socket ... check
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"lifeboat/examples/sml-library/smlgen"
	"lifeboat/internal/clock"
)

// commands are the ones main's switch runs.
var commands = map[string]bool{"schema": true, "generate": true, "workload": true, "check": true}

func main() {
	var (
		socket   = flag.String("socket", "", "server socket (else -host/-port)")
		host     = flag.String("host", "127.0.0.1", "server host")
		port     = flag.Int("port", 3306, "server port")
		user     = flag.String("user", "root", "user (password from $MYSQL_PWD)")
		dbname   = flag.String("db", "sml_library", "database")
		bookings = flag.Int("bookings", 10000, "bookings to generate (10k to 10M); users and rooms scale with it")
		workers  = flag.Int("workers", 4, "workload connections")
		duration = flag.Duration("duration", 30*time.Second, "workload duration")
		rate     = flag.Int("rate", 0, "workload: transactions per second across all workers (0: as fast as they go)")
		txLimit  = flag.Int64("transactions", 0, "workload: stop after this many transactions (0: run for -duration)")
		commits  = flag.String("commits", "", "workload: write each commit's time (Unix nanoseconds) to this file, one per line")
	)

	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: smlgen [flags] schema|generate|workload|check")
		flag.PrintDefaults()
	}
	flag.Parse()

	// The command is checked here, before anything is deferred, so the usage
	// exit never skips a cleanup.
	if flag.NArg() != 1 || !commands[flag.Arg(0)] {
		flag.Usage()
		os.Exit(2)
	}

	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = *user, os.Getenv("MYSQL_PWD")
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(*host, strconv.Itoa(*port))

	if *socket != "" {
		cfg.Net, cfg.Addr = "unix", *socket
	}

	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		fail(err)
	}

	db := sql.OpenDB(conn)
	defer db.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	sc := smlgen.ScaleFor(*bookings)
	start := clock.Real{}.Now()

	switch flag.Arg(0) {
	case "schema":
		err = smlgen.CreateSchema(ctx, db, *dbname)
	case "generate":
		if err = smlgen.CreateSchema(ctx, db, *dbname); err == nil {
			err = smlgen.Generate(ctx, db, *dbname, sc)
		}

		fmt.Printf("generated %d users, %d rooms, %d bookings in %s in %.1fs\n", sc.Users, sc.Rooms, sc.Bookings, *dbname, clock.Since(clock.Real{}, start).Seconds())
	case "workload":
		wctx, cancel := context.WithTimeout(ctx, *duration)
		if *txLimit > 0 {
			cancel()
			wctx, cancel = context.WithCancel(ctx)
		}
		defer cancel()

		var st *smlgen.Stats
		if *rate > 0 || *txLimit > 0 || *commits != "" {
			st, err = paced(wctx, cancel, db, *dbname, *workers, sc, *rate, *txLimit, *commits)
		} else {
			st, err = smlgen.Workload(wctx, db, *dbname, *workers, sc)
		}

		if st != nil {
			n := st.Booked.Load() + st.Cancelled.Load() + st.Waitlisted.Load()
			fmt.Printf("workload: %d booked, %d cancelled, %d waitlisted in %.1fs (%.0f per second)\n", st.Booked.Load(), st.Cancelled.Load(), st.Waitlisted.Load(), clock.Since(clock.Real{}, start).Seconds(), float64(n)/clock.Since(clock.Real{}, start).Seconds())
		}
	case "check":
		if err = smlgen.CheckInvariants(ctx, db, *dbname); err == nil {
			fmt.Printf("%s: invariants hold (no double booking; counters equal bookings)\n", *dbname)
		}
	}

	if err != nil {
		fail(err)
	}
}

// paced runs the workload at rate transactions per second (0: unpaced),
// stops after limit transactions (0: when ctx ends), and writes each commit's
// time to the commits file when one is named.
func paced(ctx context.Context, cancel func(), db *sql.DB, name string, workers int, sc smlgen.Scale, rate int, limit int64, commits string) (*smlgen.Stats, error) {
	st := &smlgen.Stats{}

	var (
		mu    sync.Mutex
		times []int64
		first error
		done  atomic.Int64
		wg    sync.WaitGroup
	)

	tokens := make(chan struct{}, workers)

	if rate > 0 {
		go func() {
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()

			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					select {
					case tokens <- struct{}{}:
					default: // the workers are behind: the rate is not reached
					}
				}
			}
		}()
	}

	for w := 0; w < workers; w++ {
		wg.Add(1)

		go func(w int) {
			defer wg.Done()

			rng := rand.New(rand.NewPCG(uint64(w), uint64(clock.Real{}.Now().UnixNano())))

			for ctx.Err() == nil {
				if rate > 0 {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}

				own := &smlgen.Stats{}
				committed, err := smlgen.Step(ctx, db, name, rng, sc, own)
				at := clock.Real{}.Now().UnixNano()

				st.Booked.Add(own.Booked.Load())
				st.Cancelled.Add(own.Cancelled.Load())
				st.Waitlisted.Add(own.Waitlisted.Load())

				if err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						first = err
						mu.Unlock()
						cancel()
					}

					return
				}

				if !committed {
					continue // nothing to cancel, or a deadlock rolled it back
				}

				if commits != "" {
					mu.Lock()
					times = append(times, at)
					mu.Unlock()
				}

				if n := done.Add(1); limit > 0 && n >= limit {
					cancel()
				}
			}
		}(w)
	}

	wg.Wait()

	if commits != "" {
		var b strings.Builder
		for _, t := range times {
			fmt.Fprintln(&b, t)
		}

		if err := os.WriteFile(commits, []byte(b.String()), 0o644); err != nil {
			return st, err
		}
	}

	return st, first
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "smlgen:", err)
	os.Exit(1)
}
