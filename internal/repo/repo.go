// Package repo owns the repository: creating and opening it, writing snapshots
// with their labels, listing, restoring and verifying them. It is the only
// package that imports kopia, so kopia's API churn stays here. It never writes an
// unencrypted byte to storage, never saves a snapshot whose upload failed, and
// never restores an entry outside the restore target.
package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/content"
	"github.com/kopia/kopia/repo/format"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/kopia/kopia/repo/object"
	"github.com/kopia/kopia/snapshot/policy"

	"lifeboat/internal/clock"
)

// Repository parameters: cipher, hash and splitter are fixed at creation, the
// compressor is chosen per upload. Encryption is not a choice: every
// repository is encrypted (AES-256-GCM with keys derived from the password).
const (
	encryptionAlgorithm = "AES256-GCM-HMAC-SHA256"
	// BLAKE3 hashes about twice as fast as kopia's default BLAKE2B here
	// (database backup 12.9 s instead of 15.4 s on the benchmark).
	hashAlgorithm = "BLAKE3-256-128"
	// A 1 MiB content-defined splitter dedups small edits inside large files
	// (database dumps, bundles) about 2.5x better than kopia's 4 MiB default.
	splitterAlgorithm = "DYNAMIC-1M-BUZHASH"
	// zstd at its fastest level: 15% faster backups than the default level
	// for 0.3% more stored bytes on the files benchmark.
	compressorName = "zstd-fastest"
)

// Errors callers map to messages and exit codes.
var (
	ErrNotInitialized     = errors.New("no repository here")
	ErrAlreadyInitialized = errors.New("a repository already exists here")
	ErrWrongPassword      = errors.New("wrong password")
	ErrNoPassword         = errors.New("no password")
	ErrSnapshotNotFound   = errors.New("snapshot not found")
	ErrUnsafePath         = errors.New("unsafe path in snapshot")
)

// Password is the repository key and where it came from; Origin goes into error
// messages, Value never does.
type Password struct {
	Value  string
	Origin string
}

// Repository is an open repository.
type Repository struct {
	path  string
	where Storage
	// configured is where the repository was opened, when a rekey's
	// redirect sent it elsewhere (where).
	configured Storage
	// guardRekey: writes check first that no rekey switched away (GuardRekey).
	guardRekey bool
	rep        repo.Repository
	tempDir    string
	log        *slog.Logger
	clock      clock.Clock
	// readahead is set on object storage, where reads are round trips.
	readahead *readahead
	// stopHours ends followUploadHours.
	stopHours func()
	// maintMu keeps this process's quick and full maintenance apart.
	maintMu sync.Mutex
	// stateWrites counts PutState calls by kind and source.
	stateMu     sync.Mutex
	stateWrites map[string]int
}

// Clock is the time the repository keeps: its records' timestamps, and
// whatever else measures time against it.
func (r *Repository) Clock() clock.Clock { return r.clock }

func (r *Repository) now() time.Time { return r.clock.Now() }

// Create initialises an encrypted repository at path.
func Create(ctx context.Context, path string, pw Password) error {
	return CreateAt(ctx, AtPath(path), pw)
}

// CreateAt initialises an encrypted repository in the storage.
func CreateAt(ctx context.Context, where Storage, pw Password) error {
	path := where.String()

	if pw.Value == "" {
		return fmt.Errorf("create repository %s: %w: set LIFEBOAT_PASSWORD or repository.password_file", path, ErrNoPassword)
	}

	if where.S3 == nil {
		if err := probeWritable(where.Path); err != nil {
			return fmt.Errorf("create repository %s: %w", path, err)
		}
	}

	st, err := where.blob(ctx, true)
	if err != nil {
		return fmt.Errorf("create repository %s: %w", path, err)
	}
	defer st.Close(ctx) //nolint:errcheck

	opts := &repo.NewRepositoryOptions{
		BlockFormat: format.ContentFormat{
			Hash:       hashAlgorithm,
			Encryption: encryptionAlgorithm,
		},
		ObjectFormat: format.ObjectFormat{Splitter: splitterAlgorithm},
	}

	// Object Lock: kopia writes every blob with the retention and its full
	// maintenance extends the locks of blobs still in use.
	if mode, period := where.S3.retention(); period > 0 {
		if err := where.checkObjectLock(ctx); err != nil {
			return fmt.Errorf("create repository %s: %w", path, err)
		}

		opts.RetentionMode, opts.RetentionPeriod = mode, period
	}

	if err := repo.Initialize(ctx, st, opts, pw.Value); err != nil {
		if errors.Is(err, repo.ErrAlreadyInitialized) {
			return fmt.Errorf("create repository %s: %w", path, ErrAlreadyInitialized)
		}

		return fmt.Errorf("create repository %s: %w", path, where.explain(err))
	}

	r, err := OpenAt(ctx, where, pw, nil)
	if err != nil {
		return err
	}
	defer r.Close(ctx)

	// kopia's Initialize always writes its default epochs (a day long).
	if _, err := r.TuneIndexEpochs(ctx); err != nil {
		return fmt.Errorf("create repository %s: %w", path, err)
	}

	// Retention belongs to Lifeboat, not kopia: kopia applies its default
	// retention while checkpointing, so pin a keep-everything global policy.
	zero := policy.OptionalInt(0)
	global := &policy.Policy{
		RetentionPolicy: policy.RetentionPolicy{
			KeepLatest: &zero, KeepHourly: &zero, KeepDaily: &zero,
			KeepWeekly: &zero, KeepMonthly: &zero, KeepAnnual: &zero,
		},
		CompressionPolicy: policy.CompressionPolicy{CompressorName: compressorName},
	}

	err = repo.WriteSession(ctx, r.rep, repo.WriteSessionOptions{Purpose: "lifeboat init"}, func(ctx context.Context, w repo.RepositoryWriter) error {
		if _, period := where.S3.retention(); period > 0 {
			p, err := maintenance.GetParams(ctx, w)
			if err != nil {
				return err
			}

			p.ExtendObjectLocks = true

			if err := maintenance.SetParams(ctx, w, p); err != nil {
				return err
			}
		}

		return policy.SetPolicy(ctx, w, policy.GlobalPolicySourceInfo, global)
	})
	if err != nil {
		return fmt.Errorf("create repository %s: set global policy: %w", path, err)
	}

	return nil
}

// probeWritable checks, before kopia writes anything, that the repository
// folder can be created and written, so the user gets one clear error.
func probeWritable(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return fmt.Errorf("repository path is not writable: %w", err)
	}

	f, err := os.CreateTemp(path, ".lifeboat-probe-*")
	if err != nil {
		return fmt.Errorf("repository path is not writable: %w", err)
	}

	name := f.Name()
	f.Close()

	return os.Remove(name)
}

// Open opens the repository at path. The kopia connection file lives in a
// private temporary folder for the life of the process, so nothing but the
// repository itself is needed to open it again on another machine.
func Open(ctx context.Context, path string, pw Password, log *slog.Logger) (*Repository, error) {
	return OpenAt(ctx, AtPath(path), pw, log)
}

// OpenAt opens the repository in the storage.
func OpenAt(ctx context.Context, where Storage, pw Password, log *slog.Logger) (*Repository, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	path := where.String()

	if pw.Value == "" {
		return nil, fmt.Errorf("open repository %s: %w: set LIFEBOAT_PASSWORD or repository.password_file", path, ErrNoPassword)
	}

	if where.S3 == nil {
		if fi, err := os.Stat(filepath.Join(where.Path, format.KopiaRepositoryBlobID+".f")); err != nil || fi.IsDir() {
			return nil, fmt.Errorf("open repository %s: %w: run `lifeboat init` first", path, ErrNotInitialized)
		}
	}

	// A bucket prefix a rekey switched away from names the new one.
	configured, where, rd, err := where, where, (*Redirect)(nil), error(nil)
	if where.S3 != nil {
		if where, rd, err = where.Resolve(ctx); err != nil {
			return nil, fmt.Errorf("open repository %s: %w", path, err)
		}
	}

	st, err := where.blob(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}

	removeStaleConnections()

	tmp, err := os.MkdirTemp("", fmt.Sprintf("lifeboat-conn-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}

	cfgFile := filepath.Join(tmp, "repository.config")

	// S3 goes through readahead, so a restore can fetch packs whole.
	var session string

	if where.S3 != nil {
		ra, err := newReadahead(st, where.S3.options(clock.Or(where.Clock).Now()))
		if err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("open repository %s: %w", path, err)
		}

		st, session = ra, ra.cfg.Session
		defer forgetReadahead(session) // kopia took it, or never will
	}

	if err := connect(ctx, cfgFile, st); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}

	rep, err := repo.Open(ctx, cfgFile, pw.Value, &repo.Options{
		OnFatalError: func(err error) { log.Error("repository fatal error", "err", err) },
	})
	if err != nil {
		os.RemoveAll(tmp)

		switch {
		case errors.Is(err, repo.ErrInvalidPassword):
			return nil, fmt.Errorf("open repository %s: %w from %s: it does not decrypt this repository; use the password it was created with", path, ErrWrongPassword, pw.Origin)
		case errors.Is(err, blob.ErrBlobNotFound):
			return nil, fmt.Errorf("open repository %s: %w: run `lifeboat init` first", path, ErrNotInitialized)
		}

		return nil, fmt.Errorf("open repository %s: %w", path, where.explain(err))
	}

	r := &Repository{path: path, where: where, configured: configured, rep: rep, tempDir: tmp, log: log, clock: clock.Or(where.Clock)}
	if rd != nil && rd.ID != r.ID() {
		r.Close(ctx)
		return nil, fmt.Errorf("open repository %s: the rekey redirect names repository %s, but %s holds %s: restore %s from a copy of the bucket", path, rd.ID, where, r.ID(), redirectBlob)
	}
	if ra, ok := st.(*readahead); ok {
		r.readahead = ra
	}

	r.followUploadHours()

	return r, nil
}

// connect writes kopia's connection file. kopia's own Connect opens the
// repository once just to check it, and Open checks the same again: a second
// key derivation and index load on every command. No kopia cache: its content
// cache would write every byte a restore reads to local disk, and it keeps no
// metadata cache without one. Object storage has readahead's instead.
func connect(ctx context.Context, cfgFile string, st blob.Storage) error {
	ci := st.ConnectionInfo()
	host, _ := os.Hostname()

	lc := repo.LocalConfig{
		Storage: &ci,
		Caching: &content.CachingOptions{},
		ClientOptions: repo.ClientOptions{Hostname: host, Username: "lifeboat", Description: "lifeboat"}.
			ApplyDefaults(ctx, "lifeboat"),
	}

	b, err := json.Marshal(lc)
	if err != nil {
		return fmt.Errorf("connection file: %w", err)
	}

	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		return fmt.Errorf("connection file: %w", err)
	}

	return nil
}

// removeStaleConnections deletes the connection folders of lifeboat processes
// that were killed before they could remove their own.
func removeStaleConnections() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "lifeboat-conn-*-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "lifeboat-conn-%d-", &pid); err != nil || pid <= 0 {
			continue
		}

		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// Path is the repository location.
func (r *Repository) Path() string { return r.path }

// Close releases the repository and removes the private connection folder.
func (r *Repository) Close(ctx context.Context) {
	if r.stopHours != nil {
		r.stopHours()
	}

	if r.rep != nil {
		if err := r.rep.Close(ctx); err != nil {
			r.log.Warn("close repository", "err", err)
		}
	}

	os.RemoveAll(r.tempDir)
}

// IsBlobNotFound reports whether err means a stored blob is missing.
func IsBlobNotFound(err error) bool { return errors.Is(err, blob.ErrBlobNotFound) }

// IsDataError reports whether err means the repository could not give back
// stored data: a blob, content or object missing, or bytes that fail their
// authentication. A copy of the repository may still have them.
func IsDataError(err error) bool {
	if err == nil {
		return false
	}

	if errors.Is(err, blob.ErrBlobNotFound) || errors.Is(err, content.ErrContentNotFound) || errors.Is(err, object.ErrObjectNotFound) ||
		errors.Is(err, ErrChecksum) {
		return true
	}

	// kopia wraps these without a sentinel.
	msg := err.Error()

	return strings.Contains(msg, "invalid checksum at") || strings.Contains(msg, "error decompressing")
}
