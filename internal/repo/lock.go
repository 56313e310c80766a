package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"lifeboat/internal/clock"
)

// ErrNoObjectLock means the bucket cannot keep objects immutable.
var ErrNoObjectLock = errors.New("the bucket has no Object Lock")

func (s Storage) client() (*minio.Client, error) {
	o := s.S3
	opts := &minio.Options{Creds: credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""), Secure: !o.NoTLS, Region: o.Region}

	if len(o.RootCA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.RootCA) {
			return nil, errors.New("the CA file holds no PEM certificate")
		}

		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}

	return minio.New(o.Endpoint, opts)
}

// checkObjectLock refuses a bucket without Object Lock before a repository
// that promises immutability is created in it.
func (s Storage) checkObjectLock(ctx context.Context) error {
	cli, err := s.client()
	if err != nil {
		return err
	}

	enabled, _, _, _, err := cli.GetObjectLockConfig(ctx, s.S3.Bucket)
	if err != nil || enabled != "Enabled" {
		why := "it is not enabled"
		if err != nil {
			why = s.explain(err).Error()
		}

		return fmt.Errorf("%w (%s): immutable_for needs a bucket created with Object Lock (e.g. `aws s3api create-bucket --bucket %s --object-lock-enabled-for-bucket`); it cannot be turned on later for existing objects", ErrNoObjectLock, why, s.S3.Bucket)
	}

	return nil
}

// ImmutabilityCheck is what check-immutability proved.
type ImmutabilityCheck struct {
	Mode string
	// LockedUntil is the retention of the newest repository data object.
	LockedUntil   time.Time
	Object        string
	DeleteRefused bool
	DeleteError   string
	// OverwriteKept: writing over the probe left the locked version intact.
	OverwriteKept   bool
	ShortenRefused  bool
	ShortenError    string
	ProbeLockedTill time.Time
	// ProbesRemoved counts the versions of earlier checks' probes removed
	// because their lock had ended.
	ProbesRemoved int
}

// OK reports whether every attempt to destroy locked data failed.
func (c *ImmutabilityCheck) OK() bool {
	return c.DeleteRefused && c.OverwriteKept && c.ShortenRefused && !c.LockedUntil.IsZero()
}

// CheckImmutability proves, with the credentials the backups use, that
// locked objects cannot be destroyed: it writes a small probe object with the
// repository's lock, then tries to delete that version, to overwrite it and
// to shorten its lock. It also reads the lock of the repository's newest data
// object. The probe stays in the bucket (under lifeboat-lock-probe/) until
// its lock ends: nothing, by design, can remove it sooner; the next check
// removes it after that.
func (s Storage) CheckImmutability(ctx context.Context, probeLock time.Duration) (*ImmutabilityCheck, error) {
	if s.S3 == nil {
		return nil, errors.New("immutability is an S3 Object Lock property; this repository is a folder")
	}

	mode, _ := s.S3.retention()
	if mode == "" {
		return nil, errors.New("the repository has no immutable_for: set it (and create the repository in a bucket with Object Lock)")
	}

	cli, err := s.client()
	if err != nil {
		return nil, err
	}

	clk := clock.Or(s.Clock)
	res := &ImmutabilityCheck{Mode: string(mode)}

	probes := s.S3.Prefix + "lifeboat-lock-probe/"

	if res.ProbesRemoved, err = removeUnlocked(ctx, cli, s.S3.Bucket, probes, clk); err != nil {
		return nil, fmt.Errorf("remove the probes of earlier checks: %w", s.explain(err))
	}

	// The newest data object of the repository and its lock.
	var newest minio.ObjectInfo

	for obj := range cli.ListObjects(ctx, s.S3.Bucket, minio.ListObjectsOptions{Prefix: s.S3.Prefix + "p", Recursive: true}) {
		if obj.Err != nil {
			return nil, s.explain(obj.Err)
		}

		if obj.LastModified.After(newest.LastModified) {
			newest = obj
		}
	}

	if newest.Key == "" {
		return nil, errors.New("the repository holds no data object yet: run a backup first")
	}

	res.Object = strings.TrimPrefix(newest.Key, s.S3.Prefix)

	if _, until, err := cli.GetObjectRetention(ctx, s.S3.Bucket, newest.Key, ""); err == nil && until != nil {
		res.LockedUntil = *until
	}

	// The probe: a locked object to attack.
	suffix := make([]byte, 6)
	rand.Read(suffix) //nolint:errcheck

	key := probes + hex.EncodeToString(suffix)
	body := []byte("lifeboat immutability probe " + clk.Now().UTC().Format(time.RFC3339))
	until := clk.Now().Add(probeLock).UTC()
	rmode := minio.RetentionMode(mode)

	info, err := cli.PutObject(ctx, s.S3.Bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{
		Mode: rmode, RetainUntilDate: until,
	})
	if err != nil {
		return nil, fmt.Errorf("write the probe object: %w", s.explain(err))
	}

	res.ProbeLockedTill = until

	// 1. Delete the locked version.
	err = cli.RemoveObject(ctx, s.S3.Bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID})
	res.DeleteRefused = err != nil

	if err != nil {
		res.DeleteError = err.Error()
	}

	// 2. Overwrite it: a new version may be written, the locked one must
	// still read back the same.
	other := []byte("overwritten")
	cli.PutObject(ctx, s.S3.Bucket, key, bytes.NewReader(other), int64(len(other)), minio.PutObjectOptions{}) //nolint:errcheck

	if obj, err := cli.GetObject(ctx, s.S3.Bucket, key, minio.GetObjectOptions{VersionID: info.VersionID}); err == nil {
		got, rerr := io.ReadAll(obj)
		obj.Close()
		res.OverwriteKept = rerr == nil && bytes.Equal(got, body)
	}

	// 3. Shorten the lock to nothing.
	soon := clk.Now().Add(time.Second).UTC()
	err = cli.PutObjectRetention(ctx, s.S3.Bucket, key, minio.PutObjectRetentionOptions{Mode: &rmode, RetainUntilDate: &soon, VersionID: info.VersionID})
	res.ShortenRefused = err != nil

	if err != nil {
		res.ShortenError = err.Error()
	}

	return res, nil
}

// removeUnlocked removes every version (and delete marker) under prefix
// whose lock has ended or that never had one. A version still locked is left;
// a refusal to remove it is not an error.
func removeUnlocked(ctx context.Context, cli *minio.Client, bucket, prefix string, clk clock.Clock) (int, error) {
	n := 0

	for obj := range cli.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return n, obj.Err
		}

		if !obj.IsDeleteMarker {
			_, until, err := cli.GetObjectRetention(ctx, bucket, obj.Key, obj.VersionID)
			if err == nil && until != nil && until.After(clk.Now()) {
				continue
			}
		}

		if cli.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{VersionID: obj.VersionID}) == nil {
			n++
		}
	}

	return n, nil
}
