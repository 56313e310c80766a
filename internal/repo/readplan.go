package repo

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/content"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
)

// A readPlan knows, for every directory of a restore, which stretches of
// which packs its files read ("spans"). kopia's restore lists a directory and
// then queues its files; the restore tells the plan when it lists one, and
// the plan queues that directory's spans for the fetchers. Spans are per
// directory because a backup writes a directory's files next to each other,
// while the restore visits directories in its own, parallel order: a span is
// then read soon after it is fetched and its memory goes back to the budget.

// contentKey is where a content lies: kopia reads a content as one request
// for exactly its bytes.
type contentKey struct {
	pack   blob.ID
	offset int64
}

// span is one request's worth of a pack: contents one directory's files read,
// close enough together to fetch at once.
type span struct {
	pack       blob.ID
	start, end int64
	// need counts the planned reads of each content of the span; reads is
	// their sum. users are readers copying from data now. Memory is released
	// when both reads and users are zero.
	need         map[int64]int
	reads, users int
	state        spanState
	done         chan struct{}
	data         []byte
	err          error
}

type spanState int

const (
	spanPending spanState = iota
	spanQueued
	spanFetching
	spanReleased
)

func (s *span) size() int64 { return s.end - s.start }

type readPlan struct {
	mu   sync.Mutex
	cond *sync.Cond

	dirs      map[string][]*span
	byContent map[contentKey][]*span
	queue     []*span
	held      int64
	budget    int64
	fetch     func(ctx context.Context, id blob.ID, offset, length int64, output blob.OutputBuffer) error
	counted   ReadaheadStats
	free      [][]byte // large buffers to reuse, freeBytes in all
	freeBytes int64
	mapped    map[*byte][]byte // every large buffer outside the heap
}

// planBuilder collects the directories of a restore during the walk that
// checks it.
type planBuilder struct {
	cr   contentReader
	dirs map[string]fs.Directory
	file object.ID // the root, when the snapshot is of a single file
}

// contentReader adds to content.Reader what kopia's object layer asks of it;
// planning never prefetches.
type contentReader struct{ content.Reader }

func (contentReader) PrefetchContents(context.Context, []content.ID, string) []content.ID { return nil }

func newPlanBuilder(cr content.Reader) *planBuilder {
	return &planBuilder{cr: contentReader{cr}, dirs: map[string]fs.Directory{}}
}

// entry records one entry of the walk (rel is slash-separated from the root,
// "" for the root itself).
func (b *planBuilder) entry(rel string, e fs.Entry) {
	switch e := e.(type) {
	case fs.Directory:
		b.dirs[rel] = e
	case fs.File:
		if h, ok := e.(snapshot.HasDirEntry); ok && rel == "" {
			b.file = h.DirEntry().ObjectID
		}
	}
}

// files lists a directory's files in stored order, which is the order
// kopia's restore takes them in (not name order).
func (b *planBuilder) files(ctx context.Context, rel string) ([]object.ID, error) {
	if rel == "" && b.file != (object.ID{}) {
		return []object.ID{b.file}, nil
	}

	entries, err := fs.GetAllEntries(ctx, b.dirs[rel])
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", "/"+rel, err)
	}

	var files []object.ID

	for _, e := range entries {
		if h, ok := e.(snapshot.HasDirEntry); ok && h.DirEntry().Type == snapshot.EntryTypeFile {
			files = append(files, h.DirEntry().ObjectID)
		}
	}

	return files, nil
}

// build finds where every file's contents lie and groups them into spans.
// An error abandons the plan: the restore then meets the same problem itself
// and reports (or heals) it the usual way.
func (b *planBuilder) build(ctx context.Context, budget int64) (*readPlan, error) {
	if b == nil {
		return nil, nil //nolint:nilnil // no plan: storage reads are cheap
	}

	p := newReadPlan(budget)

	if b.file != (object.ID{}) {
		b.dirs[""] = nil
	}

	for dir := range b.dirs {
		files, err := b.files(ctx, dir)
		if err != nil {
			return nil, err
		}

		spans, err := b.dirSpans(ctx, files, budget, restoreParallel)
		if err != nil {
			return nil, err
		}

		p.add(dir, spans)
	}

	return p, nil
}

func newReadPlan(budget int64) *readPlan {
	p := &readPlan{dirs: map[string][]*span{}, byContent: map[contentKey][]*span{}, budget: budget}
	p.cond = sync.NewCond(&p.mu)

	return p
}

// add records a directory's spans.
func (p *readPlan) add(dir string, spans []*span) {
	p.dirs[dir] = spans

	for _, s := range spans {
		for off := range s.need {
			k := contentKey{s.pack, off}
			p.byContent[k] = append(p.byContent[k], s)
		}
	}
}

// planObjects plans reading whole objects, in order, by so many workers
// taking them in turn: a verification reading every file back.
func planObjects(ctx context.Context, cr content.Reader, oids []object.ID, budget int64, workers int) (*readPlan, error) {
	b := newPlanBuilder(cr)

	spans, err := b.dirSpans(ctx, oids, budget, workers)
	if err != nil {
		return nil, err
	}

	p := newReadPlan(budget)
	p.add("", spans)
	p.listed("")

	return p, nil
}

// dirSpans groups the contents of one directory's files by pack and position,
// ordered by when the restore will want them.
func (b *planBuilder) dirSpans(ctx context.Context, files []object.ID, budget int64, workers int) ([]*span, error) {
	type ref struct {
		info  content.Info
		reads int
		due   int64
	}

	refs := map[content.ID]*ref{}

	// The workers take the files in order, each reading one start to end:
	// simulate that, in bytes, to know when each content is due.
	free := make([]int64, workers)

	for _, oid := range files {
		w := 0
		for i := range free {
			if free[i] < free[w] {
				w = i
			}
		}

		start := free[w]

		size, err := b.contents(ctx, oid, 0, func(id content.ID, at int64) error {
			if r, ok := refs[id]; ok {
				r.reads++
				r.due = min(r.due, start+at)

				return nil
			}

			info, err := b.cr.ContentInfo(ctx, id)
			if err != nil {
				return err
			}

			refs[id] = &ref{info: info, reads: 1, due: start + at}

			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("plan reads of %v: %w", oid, err)
		}

		free[w] = start + size
	}

	// A span holds contents due at about the same time, so that its memory
	// is freed soon after it is fetched: a backup interleaves the chunks of
	// the large files it reads at once, and the restore may want them at
	// quite different times.
	type group struct {
		pack blob.ID
		when int64
	}

	groups := map[group][]*ref{}

	for _, r := range refs {
		// Metadata packs (q) are fetched whole by kopia's metadata cache.
		if strings.HasPrefix(string(r.info.PackBlobID), string(content.PackBlobIDPrefixRegular)) {
			g := group{r.info.PackBlobID, r.due / readaheadSpan}
			groups[g] = append(groups[g], r)
		}
	}

	type ranked struct {
		s   *span
		due int64
	}

	var all []*ranked

	for g, rs := range groups {
		sort.Slice(rs, func(i, j int) bool { return rs[i].info.PackOffset < rs[j].info.PackOffset })

		var cur *ranked

		for _, r := range rs {
			start := int64(r.info.PackOffset)
			end := start + int64(r.info.PackedLength)

			if cur == nil || start-cur.s.end > readaheadGap || end-cur.s.start > min(budget, readaheadSpan) {
				cur = &ranked{s: &span{pack: g.pack, start: start, end: end, need: map[int64]int{}, done: make(chan struct{})}, due: r.due}
				all = append(all, cur)
			}

			cur.s.end = max(cur.s.end, end)
			cur.s.need[start] += r.reads
			cur.s.reads += r.reads
			cur.due = min(cur.due, r.due)
		}
	}

	sort.Slice(all, func(i, j int) bool { return all[i].due < all[j].due })

	spans := make([]*span, len(all))
	for i, r := range all {
		spans[i] = r.s
	}

	return spans, nil
}

// contents calls fn with every content of an object and its offset in it,
// in order, and returns the object's length.
func (b *planBuilder) contents(ctx context.Context, oid object.ID, base int64, fn func(content.ID, int64) error) (int64, error) {
	if index, ok := oid.IndexObjectID(); ok {
		entries, err := object.LoadIndexObject(ctx, b.cr, index)
		if err != nil {
			return 0, err //nolint:wrapcheck
		}

		var end int64

		for _, e := range entries {
			if _, err := b.contents(ctx, e.Object, base+e.Start, fn); err != nil {
				return 0, err
			}

			end = max(end, e.Start+e.Length)
		}

		return end, nil
	}

	id, _, ok := oid.ContentID()
	if !ok {
		return 0, fmt.Errorf("unrecognized object %v", oid)
	}

	info, err := b.cr.ContentInfo(ctx, id)
	if err != nil {
		return 0, err //nolint:wrapcheck
	}

	return int64(info.OriginalLength), fn(id, base)
}

// listed queues the spans of a directory the restore is about to write.
func (p *readPlan) listed(dir string) {
	p.mu.Lock()
	defer p.mu.Unlock()

	for _, s := range p.dirs[dir] {
		if s.state == spanPending {
			s.state = spanQueued
			p.queue = append(p.queue, s)
		}
	}

	delete(p.dirs, dir)
	p.cond.Broadcast()
}

// serve answers a read from a fetched span; false sends it to storage.
func (p *readPlan) serve(ctx context.Context, id blob.ID, offset, length int64, output blob.OutputBuffer) bool {
	p.mu.Lock()

	spans := p.byContent[contentKey{id, offset}]

	// Count the read against the first span still expecting it.
	var owner *span

	for _, s := range spans {
		if s.need[offset] > 0 {
			owner = s
			s.need[offset]--
			s.reads--

			break
		}
	}

	// Serve it from any span holding it: the owner, or another directory's.
	var from *span

	for _, s := range append([]*span{owner}, spans...) {
		if s != nil && s.state == spanFetching && offset+length <= s.end {
			from = s
			break
		}
	}

	load := false

	if owner != nil && from == nil && owner.state < spanFetching {
		if owner.reads > 0 && p.held+cost(owner) <= 2*p.budget {
			// The restore got here before the fetchers: fetch the span
			// now, for this read and the ones after it, even past the
			// fetchers' budget (up to twice that).
			owner.state = spanFetching
			p.held += cost(owner)
			from, load = owner, true
		} else if owner.reads <= 0 {
			owner.state = spanReleased // the last read: no need to fetch it
		}
	}

	if from == nil {
		p.counted.Passthrough++
		p.mu.Unlock()

		return false
	}

	from.users++
	p.mu.Unlock()

	if load {
		p.load(ctx, from)
	}

	ok := false

	select {
	case <-from.done:
		if from.err == nil {
			output.Reset()
			_, err := output.Write(from.data[offset-from.start : offset-from.start+length])
			ok = err == nil
		}
	case <-ctx.Done():
	}

	p.mu.Lock()
	from.users--

	if ok {
		p.counted.Served++
	} else {
		p.counted.Passthrough++
	}

	p.releaseIfDone(from)

	if owner != nil && owner != from {
		p.releaseIfDone(owner)
	}

	p.mu.Unlock()

	return ok
}

// releaseIfDone frees a fetched span no read still needs. Called locked.
func (p *readPlan) releaseIfDone(s *span) {
	if s.state != spanFetching || s.reads > 0 || s.users > 0 {
		return
	}

	select {
	case <-s.done:
	default:
		return // the fetcher releases it when the fetch ends
	}

	p.release(s)
}

// Span buffers are reused, and the large ones live outside the collected
// heap: a restore fetches gigabytes through a budget of megabytes, and the
// collector sizes the heap at twice what is live, so buffers it sees would
// count double. Called locked.
func (p *readPlan) buffer(size int64) []byte {
	n := bufferSize(size)
	if n < mappedMin {
		return make([]byte, 0, n)
	}

	for i, b := range p.free {
		if int64(cap(b)) == n {
			p.free = append(p.free[:i], p.free[i+1:]...)
			p.freeBytes -= n

			return b[:0]
		}
	}

	b, mapped := mapBuffer(int(n))
	if mapped {
		if p.mapped == nil {
			p.mapped = map[*byte][]byte{}
		}

		p.mapped[&b[0]] = b
	}

	return b[:0]
}

const (
	// mappedMin is the smallest buffer mapped outside the heap.
	mappedMin = 2 << 20
	// bigBuffer holds a span of readaheadSpan and the content that ends it.
	bigBuffer = readaheadSpan + 2<<20
)

// bufferSize is the capacity of a span's buffer: room for
// bytes.Buffer.ReadFrom's last read (without it the buffer doubles as it
// fills), and large ones in a few sizes (2, 4, 8 MiB, bigBuffer), so that
// released buffers are reused, not unmapped and mapped again.
func bufferSize(size int64) int64 {
	n := size + bytes.MinRead
	if n < mappedMin {
		return n
	}

	for c := int64(mappedMin); c < bigBuffer; c *= 2 {
		if n <= c {
			return c
		}
	}

	return max(n, bigBuffer)
}

// cost is the memory a span's buffer takes: what the budget counts.
func cost(s *span) int64 { return bufferSize(s.size()) }

// unmap returns the large buffers; nothing may use them after.
func (p *readPlan) unmap() {
	p.mu.Lock()
	defer p.mu.Unlock()

	for _, b := range p.mapped {
		unmapBuffer(b)
	}

	p.mapped, p.free, p.freeBytes = nil, nil, 0
}

// release gives a span's memory back. A large buffer is kept for reuse
// while the buffers kept stay within the budget, and unmapped otherwise.
// Called locked, when no reader uses the span's bytes.
func (p *readPlan) release(s *span) {
	if b := s.data[:cap(s.data)]; cap(b) >= mappedMin {
		switch m, ok := p.mapped[&b[0]]; {
		case p.freeBytes+int64(cap(b)) <= p.budget:
			p.free = append(p.free, b)
			p.freeBytes += int64(cap(b))
		case ok:
			unmapBuffer(m)
			delete(p.mapped, &b[0])
		}
	}

	s.state, s.data = spanReleased, nil
	p.held -= cost(s)
	p.cond.Broadcast()
}

// run starts the fetchers; the returned func waits for them to stop.
func (p *readPlan) run(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup

	// Wake fetchers waiting for work or memory when the restore ends.
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})

	for range readaheadFetchers {
		wg.Go(func() { p.fetcher(ctx) })
	}

	return func() {
		wg.Wait()
		stop()
	}
}

func (p *readPlan) fetcher(ctx context.Context) {
	for {
		s := p.claim(ctx)
		if s == nil {
			return
		}

		p.load(ctx, s)
	}
}

// load fetches a span the caller marked spanFetching.
func (p *readPlan) load(ctx context.Context, s *span) {
	p.mu.Lock()
	buf := bytes.NewBuffer(p.buffer(s.size()))
	p.mu.Unlock()

	err := p.fetch(ctx, s.pack, s.start, s.size(), &outputBuffer{buf})
	if err == nil && int64(buf.Len()) != s.size() {
		err = fmt.Errorf("short read of pack %s: %d of %d bytes", s.pack, buf.Len(), s.size())
	}

	p.mu.Lock()
	defer p.mu.Unlock()

	s.data, s.err = buf.Bytes(), err
	close(s.done)

	if err != nil {
		// Readers go to storage themselves, which retries and reports
		// the error with its context.
		p.release(s)
		return
	}

	p.counted.Requests++
	p.counted.Bytes += s.size()
	p.releaseIfDone(s)
}

// claim takes the next queued span to fetch, waiting for one and for memory;
// nil when ctx ended.
func (p *readPlan) claim(ctx context.Context) *span {
	p.mu.Lock()
	defer p.mu.Unlock()

	for {
		if ctx.Err() != nil {
			return nil
		}

		// Skip spans taken or given up, and spans whose every read was
		// served from another directory's span (shared contents).
		for len(p.queue) > 0 && (p.queue[0].state != spanQueued || p.queue[0].reads <= 0) {
			if p.queue[0].state == spanQueued {
				p.queue[0].state = spanReleased
			}

			p.queue = p.queue[1:]
		}

		if len(p.queue) > 0 {
			s := p.queue[0]
			if p.held == 0 || p.held+cost(s) <= p.budget {
				p.queue = p.queue[1:]
				s.state = spanFetching
				p.held += cost(s)

				return s
			}
		}

		p.cond.Wait()
	}
}

func (p *readPlan) stats() ReadaheadStats {
	p.mu.Lock()
	defer p.mu.Unlock()

	return p.counted
}

// outputBuffer adapts bytes.Buffer to kopia's blob.OutputBuffer.
type outputBuffer struct{ *bytes.Buffer }

func (b *outputBuffer) Length() int { return b.Len() }
