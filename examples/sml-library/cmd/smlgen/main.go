// Command smlgen creates, fills and exercises a Smart Library database:
//
//	smlgen -socket /run/mysqld/mysqld.sock schema
//	smlgen -socket ... -bookings 1000000 generate
//	smlgen -socket ... -workers 4 -duration 60s workload
//	smlgen -socket ... check
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"lifeboat/examples/sml-library/smlgen"
)

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
	)

	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: smlgen [flags] schema|generate|workload|check")
		flag.PrintDefaults()
	}
	flag.Parse()

	if flag.NArg() != 1 {
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
	start := time.Now()

	switch flag.Arg(0) {
	case "schema":
		err = smlgen.CreateSchema(ctx, db, *dbname)
	case "generate":
		if err = smlgen.CreateSchema(ctx, db, *dbname); err == nil {
			err = smlgen.Generate(ctx, db, *dbname, sc)
		}

		fmt.Printf("generated %d users, %d rooms, %d bookings in %s in %.1fs\n", sc.Users, sc.Rooms, sc.Bookings, *dbname, time.Since(start).Seconds())
	case "workload":
		wctx, cancel := context.WithTimeout(ctx, *duration)
		defer cancel()

		var st *smlgen.Stats
		if st, err = smlgen.Workload(wctx, db, *dbname, *workers, sc); st != nil {
			fmt.Printf("workload: %d booked, %d cancelled, %d waitlisted in %.1fs\n", st.Booked.Load(), st.Cancelled.Load(), st.Waitlisted.Load(), time.Since(start).Seconds())
		}
	case "check":
		if err = smlgen.CheckInvariants(ctx, db, *dbname); err == nil {
			fmt.Printf("%s: invariants hold (no double booking; counters equal bookings)\n", *dbname)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}

	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "smlgen:", err)
	os.Exit(1)
}
