package api

import (
	"context"
	"sync"
	"time"
)

// How long a read is reused. Computing the health of a hundred sources with
// a long binlog archive reads every manifest of the repository (over half a
// second of CPU), so each request doing it cannot keep up with a few
// dashboards polling on two cores: requests pile up and each holds its own
// copy of the manifests. Instead one computation serves every request that
// arrives while it runs and, for readFresh, after; until readStale a request
// is answered from the last one while a new one runs in the background.
// What the API itself changes (a finished job, a pin) drops them at once.
//
// A read that says what it was computed from (its version: the
// repository's revision, the audit trail's size) stays fresh while that
// has not moved, up to readStale, and is answered while a new computation
// runs behind it after: a repository nobody writes to is not read again
// every readFresh, each time a burst of CPU that fifty waiting clients
// feel in their slowest answers.
//
// The answers built from them (status, sources: the health, the overview
// and the RPO at the answer's time, encoded) are shared too, for
// answerFresh: encoding a hundred sources' answer for every request of
// fifty clients took more CPU than anything else the daemon did. The
// requests that come while the next one is built get the last one, up to
// answerStale old, rather than wait: on busy cores the building takes tens
// of milliseconds, every second, which the slowest answers would show. An
// answer says when it was made (its now), and is never older than the
// last change made through the API.
const (
	readFresh      = 5 * time.Second
	readStale      = 30 * time.Second
	answerFresh    = time.Second
	answerStale    = 2 * time.Second
	computeTimeout = 2 * time.Minute
)

// readCache shares expensive reads between requests, by key.
type readCache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry
	// gen counts invalidations: a computation begun before one is not
	// kept.
	gen uint64
	// runs counts the computations begun, by key.
	runs map[string]int
}

type cacheEntry struct {
	val     any
	at      time.Time // when the computation that gave val began
	version string    // what it was computed from ("": not said)
	has     bool
	running *cacheRun
}

// cacheRun is one computation; done is closed when val and err are set.
type cacheRun struct {
	done chan struct{}
	val  any
	err  error
}

// reuse is how long a value is answered: without a new computation while
// younger than fresh, or younger than stale at the same version (a
// non-empty one); while a new one runs behind it when younger than stale,
// or at any age at the same version. Otherwise a read waits for a new one.
type reuse struct {
	fresh, stale time.Duration
	version      string
}

// get returns key's value, from a computation begun within readFresh of
// now, or within readStale while a new one runs, or else from a new one
// (joining one that runs). compute runs detached from ctx, so a client
// that leaves does not fail the others waiting on it.
func (c *readCache) get(ctx context.Context, key string, now time.Time, compute func(context.Context) (any, error)) (any, error) {
	return c.within(ctx, key, now, reuse{fresh: readFresh, stale: readStale}, compute)
}

// getAt is get for a value computed from version: kept while it holds.
func (c *readCache) getAt(ctx context.Context, key string, now time.Time, version string, compute func(context.Context) (any, error)) (any, error) {
	return c.within(ctx, key, now, reuse{fresh: readFresh, stale: readStale, version: version}, compute)
}

// within is get with its own reuse.
func (c *readCache) within(ctx context.Context, key string, now time.Time, p reuse, compute func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()

	if c.entries == nil {
		c.entries = map[string]*cacheEntry{}
	}

	e := c.entries[key]
	if e == nil {
		e = &cacheEntry{}
		c.entries[key] = e
	}

	age := now.Sub(e.at)
	same := p.version != "" && e.version == p.version

	if e.has && age >= 0 && (age < max(p.fresh, p.stale) || same) {
		fresh := age < p.fresh || same && age < p.stale
		if !fresh && e.running == nil {
			c.start(ctx, key, e, now, p.version, compute)
		}

		v := e.val
		c.mu.Unlock()

		return v, nil
	}

	run := e.running
	if run == nil {
		run = c.start(ctx, key, e, now, p.version, compute)
	}
	c.mu.Unlock()

	select {
	case <-run.done:
		return run.val, run.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start begins a computation of e's value; the caller holds c.mu.
func (c *readCache) start(ctx context.Context, key string, e *cacheEntry, now time.Time, version string, compute func(context.Context) (any, error)) *cacheRun {
	run := &cacheRun{done: make(chan struct{})}
	e.running = run
	gen := c.gen

	if c.runs == nil {
		c.runs = map[string]int{}
	}
	c.runs[key]++

	go func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), computeTimeout)
		defer cancel()

		run.val, run.err = compute(cctx)

		c.mu.Lock()
		if run.err == nil && gen == c.gen {
			e.val, e.at, e.version, e.has = run.val, now, version, true
		}

		if e.running == run {
			e.running = nil
		}
		c.mu.Unlock()

		close(run.done)
	}()

	return run
}

// invalidate drops every value: the next read computes anew, without
// joining a computation begun before.
func (c *readCache) invalidate() {
	c.mu.Lock()
	c.entries = nil
	c.gen++
	c.mu.Unlock()
}

// computed is how many computations of key were begun.
func (c *readCache) computed(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.runs[key]
}
