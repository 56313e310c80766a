package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kopia/kopia/repo/blob"
)

// TestReadPlanSchedule drives the read plan's scheduling the way a restore
// does (directories listed, then their contents read by parallel workers in
// an order the plan did not predict) over packs held in memory: every read
// gets its exact bytes, each span is fetched at most once, memory stays
// within twice the budget, and all of it is given back.
func TestReadPlanSchedule(t *testing.T) {
	const (
		packs   = 6
		packLen = 12 << 20
		budget  = 4 << 20
		workers = 8
	)

	store := map[blob.ID][]byte{}

	for i := range packs {
		b := make([]byte, packLen)
		rand.Read(b)
		store[blob.ID(fmt.Sprintf("p%02d", i))] = b
	}

	p := &readPlan{dirs: map[string][]*span{}, byContent: map[contentKey][]*span{}, budget: budget}
	p.cond = sync.NewCond(&p.mu)

	type read struct {
		key    contentKey
		length int64
	}

	// Contents of 1 KiB to 256 KiB laid end to end in each pack; each
	// directory owns runs of them in several packs, and a few contents are
	// read by two directories (identical files).
	reads := map[string][]read{}
	rng := mrand.New(mrand.NewPCG(1, 2))

	for pi := range packs {
		pack := blob.ID(fmt.Sprintf("p%02d", pi))

		var cur *span

		for off := int64(0); ; {
			n := 1024 + rng.Int64N(255<<10)
			if off+n > packLen {
				break
			}

			// As dirSpans does, no span is larger than the budget.
			if cur == nil || rng.IntN(40) == 0 || off+n-cur.start > budget {
				dir := fmt.Sprintf("d%d", rng.IntN(20))
				cur = &span{pack: pack, start: off, end: off, need: map[int64]int{}, done: make(chan struct{})}
				p.dirs[dir] = append(p.dirs[dir], cur)
			}

			cur.end = off + n
			cur.need[off]++
			cur.reads++

			k := contentKey{pack, off}
			p.byContent[k] = append(p.byContent[k], cur)

			for dir, spans := range p.dirs {
				if spans[len(spans)-1] == cur {
					reads[dir] = append(reads[dir], read{k, n})
				}
			}

			off += n
		}
	}

	var (
		mu      sync.Mutex
		fetched = map[contentKey]int{}
		peak    int64
	)

	p.fetch = func(_ context.Context, id blob.ID, offset, length int64, out blob.OutputBuffer) error {
		mu.Lock()
		fetched[contentKey{id, offset}]++
		mu.Unlock()

		p.mu.Lock()
		peak = max(peak, p.held)
		p.mu.Unlock()

		time.Sleep(time.Millisecond) // a fetch's latency, so reads overlap as they do on storage; not a wait
		out.Reset()
		_, err := out.Write(store[id][offset : offset+length])

		return err
	}

	ctx, cancel := context.WithCancel(t.Context())
	wait := p.run(ctx)

	// Directories are listed in a shuffled order, and each worker takes a
	// directory's reads in a shuffled order too.
	dirs := make([]string, 0, len(reads))
	for d := range reads {
		dirs = append(dirs, d)
	}

	rng.Shuffle(len(dirs), func(i, j int) { dirs[i], dirs[j] = dirs[j], dirs[i] })

	work := make(chan read)
	errs := make(chan error, workers)

	var wg sync.WaitGroup

	for range workers {
		wg.Go(func() {
			for r := range work {
				var out bytes.Buffer

				if !p.serve(ctx, r.key.pack, r.key.offset, r.length, &outputBuffer{&out}) {
					out.Write(store[r.key.pack][r.key.offset : r.key.offset+r.length])
				}

				if !bytes.Equal(out.Bytes(), store[r.key.pack][r.key.offset:r.key.offset+r.length]) {
					errs <- fmt.Errorf("read %v+%d: wrong bytes", r.key, r.length)
					return
				}
			}
		})
	}

	total := 0

	for _, d := range dirs {
		p.listed(d)

		rs := reads[d]
		rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })

		for _, r := range rs {
			work <- r
			total++
		}
	}

	close(work)
	wg.Wait()
	cancel()
	wait()
	close(errs)

	for err := range errs {
		t.Fatal(err)
	}

	st := p.stats()
	if st.Served+st.Passthrough != int64(total) {
		t.Fatalf("served %d + passthrough %d, want %d reads", st.Served, st.Passthrough, total)
	}

	// How many reads the fetchers win depends on the scheduler (a loaded
	// machine served under half); the S3 restore benchmark measures what it buys.
	// What holds on any schedule: no fetch is wasted, since every fetched
	// span serves at least the read that found it or was claimed for it.
	if st.Served == 0 || st.Served < st.Requests {
		t.Fatalf("%d reads served from %d fetched spans: a fetch served nothing", st.Served, st.Requests)
	}

	for k, n := range fetched {
		if n > 1 {
			t.Fatalf("span at %v fetched %d times", k, n)
		}
	}

	if peak > 2*budget {
		t.Fatalf("held %d bytes at once, budget %d", peak, budget)
	}

	if p.held != 0 {
		t.Fatalf("%d bytes still held after the restore", p.held)
	}

	p.unmap()
	t.Logf("%d reads: %d served, %d passthrough, %d requests, peak %d KiB", total, st.Served, st.Passthrough, st.Requests, peak>>10)
}
