package repo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/format"
)

// redirectBlob is what a rekey of a repository in a bucket leaves at the
// prefix it switched away from: a bucket has no rename, so the configured
// location names where the repository with the new key is instead. It holds
// no secret: a location and a repository ID, which only the new password
// opens.
const redirectBlob blob.ID = "lifeboat.rekeyed"

// Redirect says where the repository of a bucket prefix moved to when it was
// rekeyed, and which earlier repositories are kept until they are retired.
type Redirect struct {
	Bucket string    `json:"bucket"`
	Prefix string    `json:"prefix"`
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	// Retired are the locations of the repositories this one replaced,
	// kept until `lifeboat key rekey --retire` deletes them.
	Retired []Location `json:"retired,omitempty"`
}

// Location is a bucket and a prefix in it.
type Location struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
}

// ErrRekeyed means the repository a process holds open was switched away
// from by a rekey: it opens again at its location (with the new password)
// to write on.
var ErrRekeyed = errors.New("the repository was rekeyed: it is now a new repository with a new key")

// Within is the same bucket's storage at another bucket and prefix.
func (s Storage) Within(bucket, prefix string) Storage {
	o := *s.S3
	o.Bucket, o.Prefix = bucket, prefix

	return Storage{S3: &o, Clock: s.Clock}
}

// Location is where in the bucket the storage is (zero for a folder).
func (s Storage) Location() Location {
	if s.S3 == nil {
		return Location{}
	}

	return Location{Bucket: s.S3.Bucket, Prefix: s.S3.Prefix}
}

// ReadRedirect reads the redirect an earlier rekey left here (nil: none,
// and always nil for a folder, which a rekey switches by renaming).
func (s Storage) ReadRedirect(ctx context.Context) (*Redirect, error) {
	if s.S3 == nil {
		return nil, nil
	}

	st, err := s.blob(ctx, false)
	if err != nil {
		return nil, err
	}
	defer st.Close(ctx) //nolint:errcheck

	var b buffer
	if err := st.GetBlob(ctx, redirectBlob, 0, -1, &b); err != nil {
		if errors.Is(err, blob.ErrBlobNotFound) {
			return nil, nil
		}

		return nil, fmt.Errorf("read %s: %w", redirectBlob, s.explain(err))
	}

	var rd Redirect
	if err := json.Unmarshal(b.Bytes(), &rd); err != nil || rd.Bucket == "" || rd.ID == "" {
		return nil, fmt.Errorf("%s of %s is damaged (%v): it names where a rekey moved the repository; restore it from a copy of the bucket", redirectBlob, s, err)
	}

	return &rd, nil
}

// WriteRedirect points this location at another repository: the one switch
// of a rekey in a bucket, a single object written whole.
func (s Storage) WriteRedirect(ctx context.Context, rd Redirect) error {
	b, err := json.MarshalIndent(rd, "", "  ")
	if err != nil {
		return err
	}

	st, err := s.blob(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close(ctx) //nolint:errcheck

	data := &buffer{}
	data.Write(b)

	if err := st.PutBlob(ctx, redirectBlob, data, s.S3.putOptions()); err != nil {
		return fmt.Errorf("write %s at %s: %w", redirectBlob, s, s.explain(err))
	}

	return nil
}

// Resolve is where the repository configured here is now: the location a
// rekey's redirect names, or this one.
func (s Storage) Resolve(ctx context.Context) (Storage, *Redirect, error) {
	rd, err := s.ReadRedirect(ctx)
	if err != nil || rd == nil {
		return s, nil, err
	}

	return s.Within(rd.Bucket, rd.Prefix), rd, nil
}

// RepositoryID reads the unique ID of the repository stored here without
// its password (the format blob keeps it in the clear); ok is false when
// there is no repository.
func (s Storage) RepositoryID(ctx context.Context) (id string, ok bool, err error) {
	st, err := s.blob(ctx, false)
	if err != nil {
		return "", false, err
	}
	defer st.Close(ctx) //nolint:errcheck

	var b buffer
	if err := st.GetBlob(ctx, format.KopiaRepositoryBlobID, 0, -1, &b); err != nil {
		if errors.Is(err, blob.ErrBlobNotFound) {
			return "", false, nil
		}

		return "", false, s.explain(err)
	}

	f, err := format.ParseKopiaRepositoryJSON(b.Bytes())
	if err != nil {
		return "", false, fmt.Errorf("the repository format at %s: %w", s, err)
	}

	return hex.EncodeToString(f.UniqueID), true, nil
}

// Moved reports whether the repository's location now holds another
// repository: a rekey switched it (a folder renamed in, a bucket prefix
// redirected). A process holding it open writes nothing more here.
func (r *Repository) Moved(ctx context.Context) (bool, error) {
	where := r.Configured()

	// A bucket prefix is switched by its redirect alone.
	if where.S3 != nil {
		rd, err := where.ReadRedirect(ctx)
		return err == nil && rd != nil && rd.ID != r.ID(), err
	}

	id, ok, err := where.RepositoryID(ctx)
	if err != nil {
		return false, err
	}

	return ok && id != r.ID(), nil
}

// GuardRekey makes every write of a long-running process (the binlog
// streamer) first take a shared hold on the repository, which a rekey's
// final pass and switch hold exclusively, and check the repository was not
// switched away from: a folder renamed in under it would otherwise receive
// blobs encrypted with the retired key. Such a write fails with ErrRekeyed
// (or ErrBusy during the switch); the process opens the repository again.
func (r *Repository) GuardRekey() { r.guardRekey = true }

// guard is GuardRekey's check before a write; release ends the hold.
func (r *Repository) guard(ctx context.Context) (release func(), err error) {
	if !r.guardRekey {
		return func() {}, nil
	}

	lk, err := r.LockRepository(false, "binlog stream")
	if err != nil {
		return nil, err
	}

	moved, err := r.Moved(ctx)
	if err == nil && moved {
		err = fmt.Errorf("%s: %w", r.path, ErrRekeyed)
	}

	if err != nil {
		lk.Release()
		return nil, err
	}

	return lk.Release, nil
}

// Configured is the location the repository was opened at, before any
// rekey redirect was followed.
func (r *Repository) Configured() Storage {
	if r.configured.S3 == nil && r.configured.Path == "" {
		return r.where
	}

	return r.configured
}

// Where is where the repository's blobs are.
func (r *Repository) Where() Storage { return r.where }

// DeleteAt deletes every blob at the location but a redirect, which still
// points the configuration at the repository that replaced it. It returns
// how many it deleted.
func (s Storage) DeleteAt(ctx context.Context) (int, error) {
	st, err := s.blob(ctx, false)
	if err != nil {
		return 0, err
	}
	defer st.Close(ctx) //nolint:errcheck

	var ids []blob.ID

	err = st.ListBlobs(ctx, "", func(m blob.Metadata) error {
		if m.BlobID != redirectBlob {
			ids = append(ids, m.BlobID)
		}

		return nil
	})
	if err != nil {
		return 0, s.explain(err)
	}

	for _, id := range ids {
		if err := st.DeleteBlob(ctx, id); err != nil && !errors.Is(err, blob.ErrBlobNotFound) {
			return 0, fmt.Errorf("delete %s: %w", id, s.explain(err))
		}
	}

	return len(ids), nil
}

// Nested reports whether one of two locations in a bucket lies inside the
// other, where one repository would list the other's blobs as its own.
func Nested(a, b Location) bool {
	return a.Bucket == b.Bucket && (strings.HasPrefix(a.Prefix, b.Prefix) || strings.HasPrefix(b.Prefix, a.Prefix))
}
