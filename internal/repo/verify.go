package repo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot"
)

// VerifyResult is the outcome of an integrity check.
type VerifyResult struct {
	Snapshots int
	Files     int64
	// BytesRead counts distinct file content read back and authenticated.
	BytesRead int64
	Problems  []string
	// Failed holds the IDs of snapshots with a problem.
	Failed map[string]bool
	// Fraction is the share of file content read (1 = all of it).
	Fraction float64
}

// OK reports whether nothing was wrong.
func (v *VerifyResult) OK() bool { return len(v.Problems) == 0 }

// Verify reads back every stored byte of the given snapshots: each content is
// decrypted and authenticated by its hash, and each tree's digest, file count
// and size are recomputed and compared with the labels written at backup time.
// Content shared between snapshots is read once.
func (r *Repository) Verify(ctx context.Context, snaps []*Snapshot, progress Progress) (*VerifyResult, error) {
	return r.VerifySample(ctx, snaps, 1, progress)
}

// VerifySample is Verify reading only about fraction (0 < fraction <= 1) of
// the files' content, chosen at random on each run, so successive runs cover
// different files. Every tree is still walked and its digest recomputed.
func (r *Repository) VerifySample(ctx context.Context, snaps []*Snapshot, fraction float64, progress Progress) (*VerifyResult, error) {
	res := &VerifyResult{Failed: map[string]bool{}, Fraction: fraction}
	seen := map[string]bool{}

	if progress != nil {
		var total int64
		for _, s := range snaps {
			total += s.Bytes
		}

		progress.SetTotal(total)
	}

	for _, s := range snaps {
		if err := ctx.Err(); err != nil {
			return res, err
		}

		res.Snapshots++

		before := len(res.Problems)

		r.verifyOne(ctx, s, res, seen, fraction, progress)

		if len(res.Problems) > before {
			res.Failed[s.ID] = true
		}
	}

	return res, nil
}

// verifyReaders is how many files a verification reads back at once.
const verifyReaders = 4

// verifyItem is a file to read back.
type verifyItem struct {
	rel  string
	f    fs.File
	size int64
	oid  object.ID
}

func (r *Repository) verifyOne(ctx context.Context, s *Snapshot, res *VerifyResult, seen map[string]bool, fraction float64, progress Progress) {
	m, err := r.loadManifest(ctx, s.ID)
	if err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s (%s): %v", s.ID, s.Source, err))
		return
	}

	// Walk first, then read: the reads can then be planned (and, on
	// object storage, fetched ahead) and done in parallel.
	d := newDigester()

	var todo []verifyItem

	walkErr := walkTree(ctx, r.rep, m.RootEntry, func(_ context.Context, rel string, e fs.Entry, de *snapshot.DirEntry) error {
		d.add(rel, de)

		f, ok := e.(fs.File)
		if !ok || de == nil {
			return nil
		}

		res.Files++
		oid := de.ObjectID.String()

		if seen[oid] || (fraction < 1 && rand.Float64() >= fraction) {
			if progress != nil {
				progress.Add(de.FileSize)
			}

			return nil
		}

		seen[oid] = true
		todo = append(todo, verifyItem{rel: rel, f: f, size: de.FileSize, oid: de.ObjectID})

		return nil
	})

	r.readBack(ctx, s, todo, res, progress)

	if walkErr != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s (%s): walk tree: %v", s.ID, s.Source, walkErr))
		return
	}

	if got := d.sum(); got != s.Digest {
		res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s (%s): tree digest %s, recorded %s", s.ID, s.Source, got, s.Digest))
	}

	if d.files != s.Files || d.bytes != s.Bytes {
		res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s (%s): %d files / %d bytes, recorded %d / %d", s.ID, s.Source, d.files, d.bytes, s.Files, s.Bytes))
	}
}

// readBack reads every file of todo to its end, so that each content is
// decrypted and authenticated, and records what failed in walk order.
func (r *Repository) readBack(ctx context.Context, s *Snapshot, todo []verifyItem, res *VerifyResult, progress Progress) {
	if len(todo) == 0 {
		return
	}

	defer relaxGC()()

	if dr, ok := r.rep.(repo.DirectRepository); ok && r.readahead != nil {
		oids := make([]object.ID, len(todo))
		for i, it := range todo {
			oids[i] = it.oid
		}

		// A plan that cannot be made leaves each read to meet (and
		// report) the problem itself.
		if p, err := planObjects(ctx, dr.ContentReader(), oids, readaheadBudget, verifyReaders); err == nil {
			var stop func() ReadaheadStats

			ctx, stop = r.readahead.start(ctx, p)
			defer func() {
				st := stop()
				r.log.Info("verify readahead", "requests", st.Requests, "bytes", st.Bytes, "served", st.Served, "passthrough", st.Passthrough)
			}()
		}
	}

	var (
		next atomic.Int64
		wg   sync.WaitGroup
		ns   = make([]int64, len(todo))
		errs = make([]error, len(todo))
	)

	for range verifyReaders {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(todo) && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				ns[i], errs[i] = readAll(ctx, todo[i].f, progress)
			}
		})
	}

	wg.Wait()

	for i, it := range todo {
		switch {
		case errs[i] != nil:
			res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s (%s): file %s: %v", s.ID, s.Source, it.rel, errs[i]))
		case ns[i] != it.size:
			res.Problems = append(res.Problems, fmt.Sprintf("snapshot %s (%s): file %s: read %d bytes, recorded %d", s.ID, s.Source, it.rel, ns[i], it.size))
		default:
			res.BytesRead += ns[i]
		}
	}
}

func readAll(ctx context.Context, f fs.File, progress Progress) (int64, error) {
	rd, err := f.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer rd.Close()

	w := io.Discard
	if progress != nil {
		w = progressWriter{progress}
	}

	return io.Copy(w, rd)
}

type progressWriter struct{ p Progress }

func (w progressWriter) Write(b []byte) (int, error) {
	w.p.Add(int64(len(b)))
	return len(b), nil
}
