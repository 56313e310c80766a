// Package smlgen builds and exercises the Smart Library database: the schema,
// a data generator with a scale, and a workload that books and cancels rooms
// continuously while keeping two invariants (no room double-booked; every
// user's active_bookings equals their active bookings), so backups taken
// under load can be checked for consistency.
package smlgen

import (
	"bufio"
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"lifeboat/internal/clock"
)

//go:embed schema.sql
var schema string

// Statements splits a script with DELIMITER lines (as the stock client reads
// it) into single statements.
func Statements(script string) []string {
	var (
		out   []string
		cur   strings.Builder
		delim = ";"
	)

	sc := bufio.NewScanner(strings.NewReader(script))
	sc.Buffer(make([]byte, 1<<20), 1<<20)

	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)

		if strings.HasPrefix(strings.ToUpper(trimmed), "DELIMITER ") {
			delim = strings.TrimSpace(trimmed[len("DELIMITER "):])
			continue
		}

		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "--")) {
			continue
		}

		cur.WriteString(line)
		cur.WriteByte('\n')

		if strings.HasSuffix(trimmed, delim) {
			stmt := strings.TrimSpace(cur.String())
			out = append(out, strings.TrimSpace(strings.TrimSuffix(stmt, delim)))
			cur.Reset()
		}
	}

	return out
}

// CreateSchema creates the database and its tables, view, trigger and procedure.
func CreateSchema(ctx context.Context, db *sql.DB, name string) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	for _, s := range []string{
		"CREATE DATABASE IF NOT EXISTS `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
		"USE `" + name + "`",
	} {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return err
		}
	}

	for _, s := range Statements(schema) {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}

	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Scale sizes a generated database.
type Scale struct {
	Users    int
	Rooms    int
	Bookings int
	Seed     uint64
}

// ScaleFor returns a realistic shape for a number of bookings (10k to 10M).
func ScaleFor(bookings int) Scale {
	return Scale{Users: max(100, bookings/20), Rooms: max(20, min(2000, bookings/500)), Bookings: bookings, Seed: 1}
}

const slotsPerDay = 12 // 08:00 to 19:00

var firstDay = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Generate fills a fresh database (CreateSchema first) with users, rooms and
// bookings. About 10% of bookings are cancelled; counters are consistent.
func Generate(ctx context.Context, db *sql.DB, name string, sc Scale) error {
	rng := rand.New(rand.NewPCG(sc.Seed, 42))
	features := []string{"", "projector", "whiteboard", "quiet", "accessible", "projector,whiteboard", "quiet,accessible"}

	insert := func(table, cols string, rows int, row func(i int) string) error {
		const batch = 2000

		var b strings.Builder

		for start := 0; start < rows; start += batch {
			b.Reset()
			fmt.Fprintf(&b, "INSERT INTO `%s`.`%s` (%s) VALUES ", name, table, cols)

			for i := start; i < min(rows, start+batch); i++ {
				if i > start {
					b.WriteByte(',')
				}

				b.WriteString(row(i))
			}

			if _, err := db.ExecContext(ctx, b.String()); err != nil {
				return fmt.Errorf("generate %s: %w", table, err)
			}
		}

		return nil
	}

	err := insert("rooms", "name, floor, seats, features, photo, hourly_fee", sc.Rooms, func(i int) string {
		photo := "NULL"
		if i%10 == 0 {
			b := make([]byte, 512+rng.IntN(2048))
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}

			photo = fmt.Sprintf("0x%x", b)
		}

		return fmt.Sprintf("('Room %d-%03d', %d, %d, '%s', %s, %d.%02d)", i/50, i%50, i/50, 2+rng.IntN(30), features[rng.IntN(len(features))], photo, rng.IntN(20), rng.IntN(100))
	})
	if err != nil {
		return err
	}

	roles := []string{"student", "student", "student", "staff", "admin"}

	err = insert("users", "email, name, role, preferences", sc.Users, func(i int) string {
		prefs := "NULL"
		if i%3 == 0 {
			prefs = fmt.Sprintf(`'{"floor": %d, "notify": %t, "lang": "%s"}'`, rng.IntN(5), i%2 == 0, []string{"en", "sv", "de", "fr"}[i%4])
		}

		return fmt.Sprintf("('user%07d@library.example.org', 'Reader %d Ünïcödé', '%s', %s)", i+1, i+1, roles[rng.IntN(len(roles))], prefs)
	})
	if err != nil {
		return err
	}

	notes := []string{"NULL", "'group study'", "'thesis defence rehearsal — bring adapter'", "'needs wheelchair access'", "''"}

	err = insert("bookings", "user_id, room_id, slot_date, slot_hour, status, notes", sc.Bookings, func(i int) string {
		room := i%sc.Rooms + 1
		slot := i / sc.Rooms
		day := firstDay.AddDate(0, 0, slot/slotsPerDay)
		status := "active"

		if rng.IntN(10) == 0 {
			status = "cancelled"
		}

		return fmt.Sprintf("(%d, %d, '%s', %d, '%s', %s)", 1+rng.IntN(sc.Users), room, day.Format(time.DateOnly), 8+slot%slotsPerDay, status, notes[rng.IntN(len(notes))])
	})
	if err != nil {
		return err
	}

	_, err = db.ExecContext(ctx, fmt.Sprintf("UPDATE `%[1]s`.users u JOIN (SELECT user_id, COUNT(*) n FROM `%[1]s`.bookings WHERE status = 'active' GROUP BY user_id) b ON b.user_id = u.id SET u.active_bookings = b.n", name))

	return err
}

// Stats counts what a workload did.
type Stats struct {
	Booked     atomic.Int64
	Cancelled  atomic.Int64
	Waitlisted atomic.Int64
}

// Workload books and cancels with workers connections until ctx ends. Every
// change keeps the invariants inside one transaction.
func Workload(ctx context.Context, db *sql.DB, name string, workers int, sc Scale) (*Stats, error) {
	st := &Stats{}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)

	for w := 0; w < workers; w++ {
		wg.Add(1)

		go func(w int) {
			defer wg.Done()

			rng := rand.New(rand.NewPCG(uint64(w), uint64(clock.Real{}.Now().UnixNano())))

			for ctx.Err() == nil {
				_, err := Step(ctx, db, name, rng, sc, st)
				if err != nil && ctx.Err() == nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()

					return
				}
			}
		}(w)
	}

	wg.Wait()

	return st, first
}

// Step runs one transaction of the workload: a booking (or a waitlist entry
// when the slot is taken) or, one time in three, a cancellation, and reports
// whether it committed anything. Deadlocks and lock waits are not errors: the
// transaction rolled back whole.
func Step(ctx context.Context, db *sql.DB, name string, rng *rand.Rand, sc Scale, st *Stats) (bool, error) {
	before := st.Booked.Load() + st.Cancelled.Load() + st.Waitlisted.Load()

	var err error
	if rng.IntN(3) == 0 {
		err = cancelOne(ctx, db, name, rng, st)
	} else {
		err = bookOne(ctx, db, name, rng, sc, st)
	}

	if retryable(err) {
		return false, nil
	}

	// Stats only grow after a commit; another worker's commit can make this
	// true too, which only matters to callers that time commits, and they
	// give each worker its own Stats.
	return st.Booked.Load()+st.Cancelled.Load()+st.Waitlisted.Load() > before, err
}

func retryable(err error) bool {
	var me *mysql.MySQLError
	// Deadlocks and lock waits are normal under contention: the transaction
	// rolled back whole, so the invariants still hold.
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

func bookOne(ctx context.Context, db *sql.DB, name string, rng *rand.Rand, sc Scale, st *Stats) error {
	user := 1 + rng.IntN(sc.Users)
	room := 1 + rng.IntN(sc.Rooms)
	day := firstDay.AddDate(0, 0, rng.IntN(60))
	hour := 8 + rng.IntN(slotsPerDay)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck

	_, err = tx.ExecContext(ctx, "INSERT INTO `"+name+"`.bookings (user_id, room_id, slot_date, slot_hour, notes) VALUES (?, ?, ?, ?, 'workload')",
		user, room, day.Format(time.DateOnly), hour)

	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 {
		// The slot is taken: join its waitlist instead.
		if _, err := tx.ExecContext(ctx, "INSERT INTO `"+name+"`.waitlist (user_id, room_id, slot_date, slot_hour) VALUES (?, ?, ?, ?)",
			user, room, day.Format(time.DateOnly), hour); err != nil {
			return err
		}

		st.Waitlisted.Add(1)

		return tx.Commit()
	}

	if err != nil {
		return err
	}

	if _, err := tx.ExecContext(ctx, "UPDATE `"+name+"`.users SET active_bookings = active_bookings + 1 WHERE id = ?", user); err != nil {
		return err
	}

	if err := tx.Commit(); err != nil {
		return err
	}

	st.Booked.Add(1)

	return nil
}

func cancelOne(ctx context.Context, db *sql.DB, name string, rng *rand.Rand, st *Stats) error {
	var maxID int64
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM `"+name+"`.bookings").Scan(&maxID); err != nil || maxID == 0 {
		return err
	}

	var id int64

	err := db.QueryRowContext(ctx, "SELECT id FROM `"+name+"`.bookings WHERE id >= ? AND status = 'active' ORDER BY id LIMIT 1", 1+rng.Int64N(maxID)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}

	if err != nil {
		return err
	}

	if _, err := db.ExecContext(ctx, "CALL `"+name+"`.cancel_booking(?)", id); err != nil {
		return err
	}

	st.Cancelled.Add(1)

	return nil
}

// CheckInvariants returns an error describing the first broken invariant.
func CheckInvariants(ctx context.Context, db *sql.DB, name string) error {
	var n int

	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM `"+name+"`.bookings WHERE status = 'active' GROUP BY room_id, slot_date, slot_hour HAVING COUNT(*) > 1) d").Scan(&n)
	if err != nil {
		return err
	}

	if n > 0 {
		return fmt.Errorf("%s: %d slots are double-booked", name, n)
	}

	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+name+"`.users u LEFT JOIN (SELECT user_id, COUNT(*) c FROM `"+name+"`.bookings WHERE status = 'active' GROUP BY user_id) b ON b.user_id = u.id WHERE u.active_bookings <> COALESCE(b.c, 0)").Scan(&n)
	if err != nil {
		return err
	}

	if n > 0 {
		return fmt.Errorf("%s: %d users' active_bookings differ from their active bookings", name, n)
	}

	return nil
}
