package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	kfs "github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/fs/localfs"
	"github.com/kopia/kopia/snapshot/restore"
)

// RestoreMarker names the file a restore keeps in its target until every
// entry is in place: while it is there, the target is incomplete, and the
// next restore of the same snapshot into it resumes.
const RestoreMarker = ".lifeboat-restore-incomplete"

// partialPrefix starts the temporary name a file is written under in its
// own folder; it is renamed to its real name only when complete, with its
// mode, owner and times set. The rest of the name is a hash of the real
// one, so a resumed restore writes the same temporary name again.
const partialPrefix = ".lifeboat-partial-"

// ErrIncompleteTarget is returned when a restore target holds an interrupted
// restore of another snapshot.
var ErrIncompleteTarget = errors.New("restore target holds an incomplete restore")

// IncompleteRestore is what a restore marker says.
type IncompleteRestore struct {
	Snapshot string    `json:"snapshot"`
	Source   string    `json:"source,omitempty"`
	Started  time.Time `json:"started"`
	PID      int       `json:"pid"`
}

// ReadRestoreMarker returns the interrupted restore target holds, or nil when
// it holds none.
func ReadRestoreMarker(target string) (*IncompleteRestore, error) {
	b, err := os.ReadFile(filepath.Join(target, RestoreMarker))

	switch {
	case errors.Is(err, fs.ErrNotExist) || err != nil && isNotDir(target):
		// A target that does not exist, or is a file, holds no marker.
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read restore marker in %s: %w", target, err)
	}

	var inc IncompleteRestore
	if err := json.Unmarshal(b, &inc); err != nil || inc.Snapshot == "" {
		return nil, fmt.Errorf("restore marker %s is unreadable (%v): a restore into this folder was interrupted; pass --overwrite to restore over it", filepath.Join(target, RestoreMarker), err)
	}

	return &inc, nil
}

func isNotDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// String says what the marker records, for messages.
func (i *IncompleteRestore) String() string {
	s := "snapshot " + short(i.Snapshot)
	if i.Source != "" {
		s = i.Source + " " + s
	}

	return fmt.Sprintf("%s, started %s by pid %d", s, i.Started.Local().Format(time.DateTime), i.PID)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}

	return id
}

// writeRestoreMarker records in target that a restore of the snapshot is
// under way. It is written before any file and removed after the last.
func writeRestoreMarker(target string, inc IncompleteRestore) error {
	b, err := json.Marshal(inc)
	if err != nil {
		return err
	}

	p := filepath.Join(target, RestoreMarker)
	tmp := p + ".tmp"

	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mark restore target %s as incomplete: %w", target, err)
	}

	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mark restore target %s as incomplete: %w", target, err)
	}

	return nil
}

// removePartials deletes the temporary files an interrupted restore left
// below target.
func removePartials(target string) error {
	return filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}

		if d.Type().IsRegular() && strings.HasPrefix(d.Name(), partialPrefix) {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove partial file of an interrupted restore: %w", err)
			}
		}

		return nil
	})
}

// partialName is the temporary name of final, in the same folder (a rename
// across folders could cross file systems).
func partialName(final string) string {
	h := sha256.Sum256([]byte(filepath.Base(final)))
	return filepath.Join(filepath.Dir(final), partialPrefix+hex.EncodeToString(h[:8]))
}

// fileOutput writes each file under a temporary name and renames it into
// place complete, so an interrupted restore (killed, or failed on a full
// disk) never leaves a file that looks restored but is not. It also tells
// the read plan, when there is one, which directory the restore lists next.
type fileOutput struct {
	*restore.FilesystemOutput
	plan *readPlan
}

func (o *fileOutput) BeginDirectory(ctx context.Context, rel string, d kfs.Directory) error {
	if o.plan != nil {
		o.plan.listed(rel)
	}

	return o.FilesystemOutput.BeginDirectory(ctx, rel, d) //nolint:wrapcheck
}

func (o *fileOutput) WriteFile(ctx context.Context, rel string, f kfs.File, progress restore.FileWriteProgress) error {
	final := filepath.Join(o.TargetPath, filepath.FromSlash(rel))

	if _, err := os.Lstat(final); err == nil && !o.OverwriteFiles {
		return fmt.Errorf("unable to create %q: it already exists", final)
	}

	tmp := partialName(final)

	if err := writePartial(ctx, tmp, f, progress); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", final, err)
	}

	if err := setAttributes(tmp, f); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore %s: %w", final, err)
	}

	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore %s: %w", final, err)
	}

	return nil
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }} //nolint:gochecknoglobals

// writePartial writes the content of f to tmp, replacing what an earlier,
// interrupted attempt left there. Unlike kopia's writer it does not extend
// the file to its final size first: a partial file is never full-sized.
func writePartial(ctx context.Context, tmp string, f kfs.File, progress restore.FileWriteProgress) (err error) {
	r, err := f.Open(ctx)
	if err != nil {
		return fmt.Errorf("open snapshot file: %w", err)
	}
	defer r.Close()

	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}

	defer func() { err = errors.Join(err, w.Close()) }()

	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)

	// The bare Writer hides os.File's ReaderFrom, which would copy through
	// a small buffer of its own.
	_, err = io.CopyBuffer(struct{ io.Writer }{w}, progressReader{r, progress}, *buf)

	return err
}

type progressReader struct {
	io.Reader
	progress restore.FileWriteProgress
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.Reader.Read(b)
	if n > 0 && p.progress != nil {
		p.progress(int64(n))
	}

	return n, err //nolint:wrapcheck
}

// setAttributes gives the file at p the owner, mode and modification time of e.
func setAttributes(p string, e kfs.Entry) error {
	le, err := localfs.NewEntry(p)
	if err != nil {
		return err //nolint:wrapcheck
	}

	if le.Owner() != e.Owner() {
		if err := os.Chown(p, int(e.Owner().UserID), int(e.Owner().GroupID)); err != nil {
			return fmt.Errorf("set owner: %w", err)
		}
	}

	if err := os.Chmod(p, e.Mode()&kfs.ModBits); err != nil {
		return fmt.Errorf("set mode: %w", err)
	}

	if err := os.Chtimes(p, e.ModTime(), e.ModTime()); err != nil {
		return fmt.Errorf("set modification time: %w", err)
	}

	return nil
}
