package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/kopia/kopia/repo/blob"

	"lifeboat/internal/testenv"
)

// TestConcurrentPlans: restores and a verification running at once on one
// open S3 repository (as the daemon's verify and restore-test jobs do) each
// read through their own read plan: every restore comes back byte for byte,
// the verification finds nothing, and no plan's buffers are reused or
// unmapped under another's reads.
func TestConcurrentPlans(t *testing.T) {
	ctx := context.Background()
	where := newS3Repo(t, nil)

	r, err := OpenAt(ctx, where, testPW, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)

	// Small files in many directories (small spans, on the heap) and large
	// files (spans in mapped buffers).
	src := filepath.Join(t.TempDir(), "tree")
	want := map[string][]byte{}

	for d := range 12 {
		for f := range 15 {
			b := make([]byte, 1024+(d*15+f)*1500)
			rand.Read(b)
			want[fmt.Sprintf("d%02d/f%02d", d, f)] = b
		}
	}

	for i := range 3 {
		b := make([]byte, 9<<20+i*12345)
		rand.Read(b)
		want[fmt.Sprintf("big/b%d", i)] = b
	}

	for rel, b := range want {
		os.MkdirAll(filepath.Dir(filepath.Join(src, rel)), 0o755)

		if err := os.WriteFile(filepath.Join(src, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	snap, err := r.BackupTree(ctx, TreeSpec{Source: "s", Kind: "files", Type: TypeFull, Roots: []string{src}})
	if err != nil {
		t.Fatal(err)
	}

	// Restores and verifications start and end at different moments, so
	// each operation's plan starts and stops while the others read.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		targets []string
		errs    []error
	)

	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}

	for w := range 2 {
		wg.Go(func() {
			for range 3 {
				target := t.TempDir()
				if _, err := r.Restore(ctx, snap.ID, target, RestoreOptions{}); err != nil {
					fail(fmt.Errorf("restore %d: %w", w, err))
					return
				}

				mu.Lock()
				targets = append(targets, target)
				mu.Unlock()
			}
		})
	}

	wg.Go(func() {
		for range 6 {
			res, err := r.Verify(ctx, []*Snapshot{snap}, nil)
			if err == nil && !res.OK() {
				err = fmt.Errorf("%v", res.Problems)
			}

			if err != nil {
				fail(fmt.Errorf("verify: %w", err))
				return
			}
		}
	})

	wg.Wait()

	for _, err := range errs {
		t.Error(err)
	}

	if len(targets) != 6 {
		t.Fatalf("%d of 6 restores finished", len(targets))
	}

	for _, target := range targets {
		for rel, b := range want {
			got, err := os.ReadFile(filepath.Join(target, restoredPath(t, target, src), rel))
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("%s restored wrong into %s (%v)", rel, target, err)
			}
		}
	}
}

// newS3Repo creates a repository in a bucket of a fresh SeaweedFS; set
// changes its S3 settings first.
func newS3Repo(t *testing.T, set func(*S3)) Storage {
	t.Helper()

	srv := testenv.StartS3(t)
	srv.MakeBucket(t, "repo")

	where := Storage{S3: &S3{Bucket: "repo", Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, NoTLS: true}}
	if set != nil {
		set(where.S3)
	}

	if err := CreateAt(context.Background(), where, testPW); err != nil {
		t.Fatal(err)
	}

	return where
}

// restoredPath finds where under target the tree src came back.
func restoredPath(t *testing.T, target, src string) string {
	t.Helper()

	for _, rel := range []string{"", filepath.Base(src), src} {
		if _, err := os.Stat(filepath.Join(target, rel, "big")); err == nil {
			return rel
		}
	}

	t.Fatalf("the tree is not under %s", target)

	return ""
}

// memStorage serves GetBlob (length -1: the whole blob) from memory;
// nothing else is called on it.
type memStorage struct {
	blob.Storage
	data map[blob.ID][]byte
}

func (m memStorage) GetBlob(_ context.Context, id blob.ID, offset, length int64, out blob.OutputBuffer) error {
	b := m.data[id][offset:]
	if length >= 0 {
		b = b[:length]
	}

	out.Reset()
	_, err := out.Write(b)

	return err //nolint:wrapcheck
}

// TestPlansServeTheirOwnReads: with two plans started on one repository, a
// read is served by the plan of the operation making it (its context), and
// stopping one plan leaves the other serving.
func TestPlansServeTheirOwnReads(t *testing.T) {
	const n, size = 8, 64 << 10

	pack := make([]byte, n*size)
	rand.Read(pack)

	ra := &readahead{Storage: memStorage{data: map[blob.ID][]byte{"pA": pack}}}

	plan := func() *readPlan {
		p := &readPlan{dirs: map[string][]*span{}, byContent: map[contentKey][]*span{}, budget: 4 << 20}
		p.cond = sync.NewCond(&p.mu)
		s := &span{pack: "pA", start: 0, end: n * size, need: map[int64]int{}, done: make(chan struct{})}

		for i := range n {
			s.need[int64(i*size)]++
			s.reads++
			p.byContent[contentKey{"pA", int64(i * size)}] = []*span{s}
		}

		p.dirs["d"] = []*span{s}

		return p
	}

	a, b := plan(), plan()
	ctxA, stopA := ra.start(t.Context(), a)
	_, stopB := ra.start(t.Context(), b)

	a.listed("d")
	b.listed("d")

	read := func(ctx context.Context, i int) {
		t.Helper()

		var out bytes.Buffer
		if err := ra.GetBlob(ctx, "pA", int64(i*size), size, &outputBuffer{&out}); err != nil || !bytes.Equal(out.Bytes(), pack[i*size:(i+1)*size]) {
			t.Fatalf("read %d: wrong bytes (%v)", i, err)
		}
	}

	read(ctxA, 0)

	// The other operation ends while this one still reads.
	if st := stopB(); st.Served != 0 {
		t.Fatalf("plan B served %d reads it was not asked for", st.Served)
	}

	for i := 1; i < n; i++ {
		read(ctxA, i)
	}

	// A read outside any operation goes to storage.
	read(t.Context(), 0)

	if st := stopA(); st.Served != n || st.Requests != 1 {
		t.Fatalf("plan A: %+v, want its %d reads served from one request", st, n)
	}
}

// slowStorage is memStorage whose reads of one blob wait for a signal.
type slowStorage struct {
	memStorage
	slow    blob.ID
	release chan struct{}
}

func (s slowStorage) GetBlob(ctx context.Context, id blob.ID, offset, length int64, out blob.OutputBuffer) error {
	if id == s.slow {
		<-s.release
	}

	return s.memStorage.GetBlob(ctx, id, offset, length, out)
}

// TestMetadataCacheBudget: metadata packs fetched at once, one slowly,
// while newer ones push older ones out: what the cache counts is what it
// holds, never more than its budget plus the newest pack, and every read
// gets its bytes.
func TestMetadataCacheBudget(t *testing.T) {
	packs := map[blob.ID][]byte{}

	for i, n := range []int{30 << 10, 60 << 10, 10 << 10, 50 << 10} {
		b := make([]byte, n)
		rand.Read(b)
		packs[blob.ID(fmt.Sprintf("q%d", i))] = b
	}

	st := slowStorage{memStorage{data: packs}, "q0", make(chan struct{})}
	ra := &readahead{Storage: st, metaBudget: 64 << 10}

	read := func(id blob.ID) {
		var out bytes.Buffer
		if err := ra.GetBlob(t.Context(), id, 100, 1000, &outputBuffer{&out}); err != nil || !bytes.Equal(out.Bytes(), packs[id][100:1100]) {
			t.Errorf("read of %s: wrong bytes (%v)", id, err)
		}
	}

	var wg sync.WaitGroup

	wg.Go(func() { read("q0") }) // fetched first, arrives last
	wait := func(id blob.ID) {
		for {
			ra.mu.Lock()
			_, ok := ra.packs[id]
			ra.mu.Unlock()

			if ok {
				return
			}

			runtime.Gosched()
		}
	}
	wait("q0")

	read("q1")
	read("q2")
	read("q3")
	close(st.release)
	wg.Wait()

	ra.mu.Lock()
	defer ra.mu.Unlock()

	var held int64
	for _, id := range ra.order {
		held += int64(cap(ra.packs[id].data))
	}

	if held != ra.held || len(ra.order) != len(ra.packs) {
		t.Fatalf("the cache counts %d bytes in %d packs, holds %d in %v (%d in the map)", ra.held, len(ra.order), held, ra.order, len(ra.packs))
	}

	if last := int64(cap(ra.packs[ra.order[len(ra.order)-1]].data)); ra.held > ra.metaBudget+last {
		t.Fatalf("the cache holds %d bytes, over its budget %d", ra.held, ra.metaBudget)
	}
}
