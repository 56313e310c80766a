package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/blob/s3"
	"github.com/kopia/kopia/repo/blob/throttling"
	"github.com/kopia/kopia/repo/content"
)

// On object storage every read kopia makes is one request, and kopia reads one
// content at a time: a small file, or one ~1 MiB chunk of a large one. A
// restore of 20,000 files from S3 on loopback spent two thirds of its time
// waiting on round trips. Restic reads each pack once, spanning every blob it
// needs from it. readahead does the same under kopia: a restore gives it a
// plan (readplan.go) of the contents each directory's files read; fetchers
// bring each stretch of a pack in one request, ahead of the restore and within
// a memory budget, and kopia's reads are served from memory. Metadata packs
// (directory listings, index objects) are kept whole, so walking a tree costs
// one request per pack rather than one per directory.

// readaheadType names the storage kopia's configuration records for S3
// repositories, so that the storage kopia opens is the wrapped one.
const readaheadType = "lifeboat-s3"

const (
	// metadataBudget bounds the metadata packs kept in memory.
	metadataBudget = 64 << 20
	// readaheadBudget bounds the bytes of packs held in memory at once.
	readaheadBudget = 32 << 20
	// readaheadSpan bounds one request, so that the restore's parallel
	// workers, each on its own large file, all find their next bytes fetched.
	readaheadSpan = 8 << 20
	// readaheadFetchers is how many spans are fetched at once.
	readaheadFetchers = 4
	// readaheadGap: contents of a pack further apart than this are fetched
	// in separate requests rather than downloading what lies between.
	readaheadGap = 256 << 10
)

// readaheadConfig is all kopia's connection file holds for an S3
// repository: no endpoint options and above all no keys, which would sit in
// plaintext on disk for the life of the process. The storage itself, built
// from the configuration in memory, waits in readaheads for kopia to ask.
type readaheadConfig struct {
	// Limits is where kopia reads and records the upload bandwidth cap.
	throttling.Limits

	// Session finds the storage OpenAt built for this connection.
	Session string `json:"lifeboatSession"`
}

// readaheads holds, by session, the storages OpenAt built until kopia opens
// the connection (a connection file names one, in this process only).
var readaheads sync.Map //nolint:gochecknoglobals

func init() { //nolint:gochecknoinits
	blob.AddSupportedStorage(readaheadType, readaheadConfig{}, func(_ context.Context, o *readaheadConfig, _ bool) (blob.Storage, error) {
		v, ok := readaheads.LoadAndDelete(o.Session)
		if !ok {
			return nil, fmt.Errorf("S3 connection %q belongs to another process (Lifeboat keeps the keys in memory only): open the repository again", o.Session)
		}

		return v.(*readahead), nil //nolint:forcetypeassert
	})
}

// newReadahead wraps S3 storage for a new connection and keeps it for kopia
// to open; forgetReadahead drops it when kopia never does.
func newReadahead(st blob.Storage, o *s3.Options) (*readahead, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("session id: %w", err)
	}

	ra := &readahead{Storage: st, cfg: readaheadConfig{Limits: o.Limits, Session: hex.EncodeToString(b)}}
	readaheads.Store(ra.cfg.Session, ra)

	return ra, nil
}

// forgetReadahead drops a connection's storage kopia did not open.
func forgetReadahead(session string) { readaheads.Delete(session) }

type readahead struct {
	blob.Storage

	cfg readaheadConfig

	mu sync.Mutex

	// metadata packs; order holds the fetched ones, oldest first, and held
	// their bytes
	packs map[blob.ID]*metaPack
	order []blob.ID
	held  int64
	// metaBudget replaces metadataBudget (tests).
	metaBudget int64
}

// planKey carries a plan in the context of the operation it is for: two
// operations on one repository (the daemon's verification and restore test)
// each read through their own plan, never through the other's.
type planKey struct{}

func (r *readahead) ConnectionInfo() blob.ConnectionInfo {
	return blob.ConnectionInfo{Type: readaheadType, Config: &r.cfg}
}

func (r *readahead) GetBlob(ctx context.Context, id blob.ID, offset, length int64, output blob.OutputBuffer) error {
	p, _ := ctx.Value(planKey{}).(*readPlan)

	if length > 0 && strings.HasPrefix(string(id), string(content.PackBlobIDPrefixSpecial)) {
		return r.metadata(ctx, id, offset, length, output)
	}

	if p != nil && length > 0 && p.serve(ctx, id, offset, length, output) {
		return nil
	}

	return r.Storage.GetBlob(ctx, id, offset, length, output)
}

// metadata serves a read of a metadata pack (directory listings, index
// objects, manifests) from the whole pack, fetched once: walking a tree reads
// every directory, and a round trip for each is most of what listing or
// checking a snapshot costs on object storage.
func (r *readahead) metadata(ctx context.Context, id blob.ID, offset, length int64, output blob.OutputBuffer) error {
	r.mu.Lock()

	if r.packs == nil {
		r.packs = map[blob.ID]*metaPack{}
	}

	mp := r.packs[id]
	if mp == nil {
		mp = &metaPack{done: make(chan struct{})}
		r.packs[id] = mp

		go r.fetchMetadata(ctx, id, mp)
	}

	r.mu.Unlock()

	select {
	case <-mp.done:
	case <-ctx.Done():
		return ctx.Err() //nolint:wrapcheck
	}

	if mp.err != nil || offset+length > int64(len(mp.data)) {
		return r.Storage.GetBlob(ctx, id, offset, length, output)
	}

	output.Reset()

	_, err := output.Write(mp.data[offset : offset+length])

	return err //nolint:wrapcheck
}

func (r *readahead) fetchMetadata(ctx context.Context, id blob.ID, mp *metaPack) {
	var buf bytes.Buffer

	// Not the reader's context: other readers wait on this fetch too.
	err := r.Storage.GetBlob(context.WithoutCancel(ctx), id, 0, -1, &outputBuffer{&buf})

	r.mu.Lock()
	defer r.mu.Unlock()

	mp.data, mp.err = buf.Bytes(), err
	close(mp.done)

	if err != nil {
		delete(r.packs, id)
		return
	}

	// Packs never change; keep the newest within the budget. Only fetched
	// packs are counted and evicted: one being fetched has no bytes yet.
	r.order = append(r.order, id)
	r.held += int64(cap(mp.data))

	budget := r.metaBudget
	if budget == 0 {
		budget = metadataBudget
	}

	for r.held > budget && len(r.order) > 1 {
		old := r.order[0]
		r.order = r.order[1:]
		r.held -= int64(cap(r.packs[old].data))
		delete(r.packs, old)
	}
}

// metaPack is a metadata pack, whole.
type metaPack struct {
	done chan struct{}
	data []byte
	err  error
}

// start makes the plan serve the reads made with the returned context and
// fetches ahead until ctx ends or stop is called. stop may only be called
// once nothing reads with that context any more: it unmaps the buffers.
func (r *readahead) start(ctx context.Context, p *readPlan) (context.Context, func() ReadaheadStats) {
	fetchCtx, cancel := context.WithCancel(ctx)

	p.fetch = r.Storage.GetBlob
	done := p.run(fetchCtx)

	return context.WithValue(ctx, planKey{}, p), func() ReadaheadStats {
		cancel()
		done()

		st := p.stats()
		p.unmap()

		return st
	}
}

// ReadaheadStats says how a plan's reads were served.
type ReadaheadStats struct {
	Requests    int64 // spans fetched
	Bytes       int64 // bytes fetched in them
	Served      int64 // reads answered from memory
	Passthrough int64 // planned reads that went to storage themselves
}
