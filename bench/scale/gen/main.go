// Command gen writes a long binlog archive into a repository for the scale
// benchmark (bench/scale/run.sh): N segments, one every -every, ending where
// the source's newest full backup begins, as a streamer would have left them
// after running that long on a quiet server.
//
// The segments continue the full's own chain: the same epoch, binlog files
// rotated every -per-file segments and numbered up to the full's file,
// contiguous positions, GTIDs of the full's domain and server rising to the
// full's GTID, arrival times to the millisecond and the server's real format
// description. Their binlog bytes are synthetic (distinct per segment, about
// as compressible as a binlog): the commands measured read labels, never
// these bytes.
//
// Each simulated day is written in one write session; with -compact (a
// build with -tags compact) the archive is compacted after each day, as the
// daemon would.
//
//	LIFEBOAT_PASSWORD=... gen -repo DIR -source db -segments 100000 -binlog-dir SERVER/binlog
package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
	mysqlsrc "lifeboat/internal/source/mysql"
)

type options struct {
	repo, source, binlogDir string
	segments, perFile       int
	every, compactAfter     time.Duration
	bytes, tx               int
	compact                 bool
}

func main() {
	var o options

	flag.StringVar(&o.repo, "repo", "", "the repository folder (password in LIFEBOAT_PASSWORD)")
	flag.StringVar(&o.source, "source", "db", "the database source whose archive is written")
	flag.StringVar(&o.binlogDir, "binlog-dir", "", "the server's binlog folder: the format description is read from the full's file")
	flag.IntVar(&o.segments, "segments", 1000, "segments to write")
	flag.DurationVar(&o.every, "every", 30*time.Second, "simulated time between segments")
	flag.IntVar(&o.perFile, "per-file", 2880, "segments per binlog file (2880 at one every 30 s: a file a day)")
	flag.IntVar(&o.bytes, "bytes", 1024, "binlog bytes per segment")
	flag.IntVar(&o.tx, "tx", 4, "transactions per segment")
	flag.BoolVar(&o.compact, "compact", false, "compact the archive after each simulated day (needs a build with -tags compact)")
	flag.DurationVar(&o.compactAfter, "compact-after", time.Hour, "with -compact: segments older than this are compacted")
	flag.Parse()

	start := time.Now()

	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}

	fmt.Fprintf(os.Stderr, "gen: wrote %d segments in %.1fs\n", o.segments, time.Since(start).Seconds())
}

// repoDir is the repository's directory.
var repoDir string

// seen is every file ageFiles has dated, or found there before the history.
var seen map[string]bool

// ageFiles dates the files written since its last call at the simulated
// instant at. kopia ends an index epoch only once the timestamps of its
// index blobs (the files' times here) span the epoch's minimum duration, and
// its maintenance compacts only ended epochs: a year written in two hours
// would otherwise stay in a dozen epochs, unlike a year lived, where an
// epoch ends every quarter of an hour. The first call only notes what is
// there (the full backup, written now).
func ageFiles(at time.Time) error {
	first := seen == nil
	if first {
		seen = map[string]bool{}
	}

	return filepath.WalkDir(repoDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || seen[p] {
			return err
		}

		seen[p] = true

		if first {
			return nil
		}

		return os.Chtimes(p, at, at)
	})
}

func run(ctx context.Context, o options) error {
	pw := os.Getenv("LIFEBOAT_PASSWORD")
	if o.repo == "" || o.binlogDir == "" || pw == "" {
		return errors.New("give -repo, -binlog-dir and the password in LIFEBOAT_PASSWORD")
	}

	if o.segments < 2 || o.perFile < 1 || o.bytes < 1 || o.tx < 1 || o.every <= 0 {
		return errors.New("-segments must be at least 2; -per-file, -bytes, -tx and -every positive")
	}

	if o.compact && compactDay == nil {
		return errors.New("-compact needs compaction: build with -tags compact")
	}

	repoDir = o.repo

	r, err := repo.Open(ctx, o.repo, repo.Password{Value: pw, Origin: "LIFEBOAT_PASSWORD"}, nil)
	if err != nil {
		return err
	}
	defer r.Close(ctx)

	l, err := newLayout(ctx, r, o)
	if err != nil {
		return err
	}

	perDay := int(24 * time.Hour / o.every)

	if o.compact {
		if err := ageFiles(time.Time{}); err != nil {
			return err
		}
	}

	began := time.Now()

	for from := 0; from < o.segments; from += perDay {
		to := min(from+perDay, o.segments)
		puts := make([]repo.SegmentPut, 0, to-from)

		for i := from; i < to; i++ {
			puts = append(puts, l.segment(i))
		}

		if _, err := r.PutSegments(ctx, o.source, puts); err != nil {
			return err
		}

		if o.compact {
			res, err := compactDay(ctx, r, o.source, l.stored(to-1), o.compactAfter)
			if err != nil {
				return fmt.Errorf("compact after day %d: %w", from/perDay+1, err)
			}

			if day := from/perDay + 1; day%10 == 0 || to == o.segments {
				fmt.Fprintf(os.Stderr, "gen: day %d: compaction %s\n", day, res)
			}
		}

		if day := from/perDay + 1; day%10 == 0 || to == o.segments {
			fmt.Fprintf(os.Stderr, "gen: %d of %d segments (simulated day %d) in %.0fs\n", to, o.segments, day, time.Since(began).Seconds())
		}
	}

	return nil
}

// layout places segment i of the simulated history.
type layout struct {
	o       options
	epoch   string
	end     time.Time // the full's instant: the history ends just before it
	fullEnd uint32    // the full's position in its file
	file    func(n int) string
	lastNo  int // the full's file number
	files   int // files before the full's
	fde     string
	domain  string
	gtidEnd uint64 // the full's GTID sequence
}

func newLayout(ctx context.Context, r *repo.Repository, o options) (*layout, error) {
	snaps, err := r.Snapshots(ctx, o.source)
	if err != nil {
		return nil, err
	}

	var full *binlog.Full

	for _, s := range snaps {
		if f, ok := mysqlsrc.FullOf(s); ok {
			full = &f
		}
	}

	if full == nil {
		return nil, fmt.Errorf("source %s has no full backup with binlog coordinates: run `lifeboat backup %s` first", o.source, o.source)
	}

	l := &layout{o: o, end: full.At, fullEnd: full.Coord.Pos}

	i := strings.LastIndexByte(full.Coord.File, '.')
	digits := len(full.Coord.File) - i - 1
	base := full.Coord.File[:i]

	l.lastNo, err = strconv.Atoi(full.Coord.File[i+1:])
	if err != nil {
		return nil, fmt.Errorf("full backup's binlog file %q has no number", full.Coord.File)
	}

	l.file = func(n int) string { return fmt.Sprintf("%s.%0*d", base, digits, n) }

	// Every segment but the last fills the files before the full's; the
	// last is the start of the full's file, up to the full's position.
	l.files = (o.segments - 1 + o.perFile - 1) / o.perFile
	if l.lastNo-l.files < 1 {
		return nil, fmt.Errorf("the full is in binlog file %s, too early for %d files of history before it: run FLUSH BINARY LOGS at least %d times on the server before the full backup", full.Coord.File, l.files, l.files)
	}

	if l.fullEnd <= 4 {
		return nil, fmt.Errorf("the full is at the start of %s: write something to the server before the full backup", full.Coord.File)
	}

	g, err := binlog.ParseGTID(full.GTID)
	if err != nil {
		return nil, fmt.Errorf("the full backup's GTID %q: %w", full.GTID, err)
	}

	l.domain, l.gtidEnd = fmt.Sprintf("%d-%d-", g.Domain, g.Server), g.Seq
	if need := uint64(o.segments*o.tx) + 1; l.gtidEnd <= need {
		return nil, fmt.Errorf("the server's GTID sequence is %d, below the %d transactions of history: run SET gtid_seq_no = %d and a transaction on the server before the full backup", l.gtidEnd, need, need+1)
	}

	l.fde, err = readFDE(filepath.Join(o.binlogDir, full.Coord.File))
	if err != nil {
		return nil, err
	}

	// The chain began with a full backup at the start of the history.
	l.epoch = l.first(0).Add(-time.Second).UTC().Format("20060102T150405.000000000Z")

	return l, nil
}

// readFDE reads the format description event that opens a binlog file.
func readFDE(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read the format description: %w", err)
	}
	defer f.Close()

	head := make([]byte, 4+19)
	if _, err := f.ReadAt(head, 0); err != nil {
		return "", fmt.Errorf("read the format description of %s: %w", path, err)
	}

	size := binary.LittleEndian.Uint32(head[4+9:])
	if string(head[1:4]) != "bin" || head[4+4] != 15 || size > 1024 {
		return "", fmt.Errorf("%s does not start with a format description event", path)
	}

	fde := make([]byte, size)
	if _, err := f.ReadAt(fde, 4); err != nil {
		return "", fmt.Errorf("read the format description of %s: %w", path, err)
	}

	return hex.EncodeToString(fde), nil
}

// first is when segment i's first event arrived: the last ends a moment
// before the full.
func (l *layout) first(i int) time.Time {
	return l.end.Add(-time.Duration(l.o.segments-i) * l.o.every).Truncate(time.Millisecond)
}

// stored is when segment i became durable.
func (l *layout) stored(i int) time.Time {
	return l.first(i).Add(420 * time.Millisecond)
}

func (l *layout) segment(i int) repo.SegmentPut {
	o := l.o
	file, start, end, next := "", uint32(0), uint32(0), ""

	if i == o.segments-1 {
		file, start, end = l.file(l.lastNo), 4, l.fullEnd
	} else {
		n, j := i/o.perFile, i%o.perFile
		file = l.file(l.lastNo - l.files + n)
		start = uint32(4 + j*o.bytes)
		end = start + uint32(o.bytes)

		if j == o.perFile-1 || i == o.segments-2 {
			next = l.file(l.lastNo - l.files + n + 1)
		}
	}

	first := l.first(i)
	last := first.Add(time.Duration(300+i%200) * time.Millisecond)
	gLast := l.gtidEnd - uint64((o.segments-1-i)*o.tx)
	gFirst := gLast - uint64(o.tx) + 1

	data := binlogBytes(i, int(end-start))

	// The arrival index the streamer appends: one line per transaction.
	var index strings.Builder

	step := max((end-start)/uint32(o.tx), 1)
	for k := 0; k < o.tx; k++ {
		fmt.Fprintf(&index, "%d %d\n", start+uint32(k)*step, first.Add(time.Duration(k)*time.Millisecond).UnixMilli())
	}

	labels := map[string]string{
		"kind":         "segment",
		"epoch":        l.epoch,
		"file":         file,
		"start":        strconv.FormatUint(uint64(start), 10),
		"end":          strconv.FormatUint(uint64(end), 10),
		"next":         next,
		"t_first":      strconv.FormatInt(first.Unix(), 10),
		"t_last":       strconv.FormatInt(last.Unix(), 10),
		"gtid_first":   l.domain + strconv.FormatUint(gFirst, 10),
		"gtid_last":    l.domain + strconv.FormatUint(gLast, 10),
		"fde":          l.fde,
		"binlog_bytes": strconv.Itoa(len(data)),
		"events":       strconv.Itoa(5 * o.tx),
		"by":           "stream",
		"a_first":      strconv.FormatInt(first.UnixMilli(), 10),
		"a_last":       strconv.FormatInt(last.UnixMilli(), 10),
	}

	return repo.SegmentPut{Labels: labels, Data: append(data, index.String()...), Stored: l.stored(i)}
}

// binlogBytes is n synthetic bytes for segment i: distinct per segment (no
// two deduplicate) and about as compressible as a row-based binlog.
func binlogBytes(i, n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), 0x6c6966))
	b := make([]byte, 0, n+64)

	for len(b) < n {
		b = fmt.Appendf(b, "INSERT INTO bookings VALUES (%d, %d, 'member-%d');", rng.IntN(1<<20), i, rng.IntN(10000))
		for k := 0; k < 16; k++ {
			b = append(b, byte(rng.Uint32()))
		}
	}

	return b[:n]
}
