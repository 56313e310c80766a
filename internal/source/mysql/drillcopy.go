package mysql

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"lifeboat/internal/repo"
	"lifeboat/internal/scratchdb"
)

// servedCopies are the private servers a drill's copies restored into a
// data directory run on, by the name the drill knows the copy by, until
// DropDatabase stops them. A source serves its own drills' copies only.
type servedCopies struct {
	mu   sync.Mutex
	srvs map[string]*servedCopy
}

type servedCopy struct {
	srv *scratchdb.Server
	// db is the database its checks run in.
	db string
}

func (c *servedCopies) put(name string, sc *servedCopy) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.srvs == nil {
		c.srvs = map[string]*servedCopy{}
	}

	c.srvs[name] = sc
}

func (c *servedCopies) get(name string) *servedCopy {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.srvs[name]
}

func (c *servedCopies) take(name string) *servedCopy {
	c.mu.Lock()
	defer c.mu.Unlock()

	sc := c.srvs[name]
	delete(c.srvs, name)

	return sc
}

// serveCopy starts a private server on a drill's copy in datadir, checks
// every table (CHECK TABLE, every row read), compares a copy of a physical
// snapshot with the record of its first restore test, runs the source's
// assertions, and keeps the server for the drill's checks under name.
func (s *Source) serveCopy(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, replayed bool, datadir, name string) (*Recovered, error) {
	srv, err := scratchdb.Start(ctx, datadir, scratchdb.Options{})
	if err != nil {
		return nil, fmt.Errorf("the copy in %s does not start: %w", datadir, err)
	}

	rec, err := s.checkServed(ctx, r, snap, replayed, srv)
	if err != nil {
		srv.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // the copy failed its checks and is removed

		return nil, err
	}

	s.copies.put(name, &servedCopy{srv: srv, db: rec.Databases[0]})
	rec.Databases = []string{name}

	return rec, nil
}

func (s *Source) checkServed(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, replayed bool, srv *scratchdb.Server) (*Recovered, error) {
	tables, err := userTables(ctx, srv.DB(), s.cfg.MySQL.Databases)
	if err != nil {
		return nil, err
	}

	if len(tables) == 0 {
		return nil, fmt.Errorf("the copy holds no table of %s", s.describeDatabases())
	}

	var probs []string

	for _, t := range tables {
		if p := checkTable(ctx, srv.DB(), t); p != "" {
			probs = append(probs, p)
		}
	}

	sums, err := readTableSums(ctx, srv.DB(), tables)
	if err != nil {
		return nil, err
	}

	rec := &Recovered{Tables: len(tables), Databases: []string{firstDatabase(tables)}}
	for _, ts := range sums {
		rec.Rows += ts.Rows
	}

	// The record is of the snapshot as restored: a copy with binlog
	// replayed after it holds more.
	if want, err := recordedSums(ctx, r, snap.ID); err == nil && want != nil && !replayed {
		probs = append(probs, compareSums(want, sums)...)
		rec.Compared = len(want)
	}

	if dbs := s.cfg.MySQL.Databases; len(dbs) > 0 && len(s.cfg.Verify.Assertions) > 0 {
		p, err := assert(ctx, srv.DB(), dbs[0], s.cfg.Verify.Assertions)
		if err != nil {
			return nil, err
		}

		probs = append(probs, p...)
	}

	if len(probs) > 0 {
		return nil, fmt.Errorf("the copy's checks failed: %s", strings.Join(probs, "; "))
	}

	return rec, nil
}

func (s *Source) describeDatabases() string {
	if len(s.cfg.MySQL.Databases) == 0 {
		return "any user database"
	}

	return strings.Join(s.cfg.MySQL.Databases, ", ")
}

// firstDatabase is the database of the first of quoted names `db`.`t`.
func firstDatabase(tables []string) string {
	db, _, _ := strings.Cut(tables[0], "`.`")
	return strings.ReplaceAll(strings.TrimPrefix(db, "`"), "``", "`")
}

// assertServed runs assertions in a served copy; ok is false when name is
// not one.
func (s *Source) assertServed(ctx context.Context, name string, assertions []string) ([]string, bool, error) {
	sc := s.copies.get(name)
	if sc == nil {
		return nil, false, nil
	}

	probs, err := assert(ctx, sc.srv.DB(), sc.db, assertions)

	return probs, true, err
}

// dropServed stops the private server of a served copy; ok is false when
// name is not one. Its data directory is the drill's to remove.
func (s *Source) dropServed(ctx context.Context, name string) (bool, error) {
	sc := s.copies.take(name)
	if sc == nil {
		return false, nil
	}

	return true, sc.srv.Stop(ctx)
}
