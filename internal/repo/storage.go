package repo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/blob/filesystem"
	"github.com/kopia/kopia/repo/blob/s3"
	"github.com/kopia/kopia/repo/blob/throttling"
	"github.com/minio/minio-go/v7"

	"lifeboat/internal/clock"
)

// Storage is where a repository's blobs live: a folder, or an
// S3-compatible bucket.
type Storage struct {
	Path string
	S3   *S3
	// Clock is the time a repository opened here keeps (records, upload
	// hours, lock probes); nil is the wall clock.
	Clock clock.Clock
}

// S3 is a bucket and the resolved credentials to reach it.
type S3 struct {
	Bucket    string
	Prefix    string
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	NoTLS     bool
	// RootCA is a PEM bundle to trust instead of the system's roots.
	RootCA []byte
	// UploadBytesPerSecond limits uploads (0: no limit); when UploadHours
	// is set, only in those hours.
	UploadBytesPerSecond float64
	UploadHours          Hours
	// LockMode ("compliance" or "governance") and LockPeriod make every
	// object written immutable for that long (S3 Object Lock).
	LockMode   string
	LockPeriod time.Duration
}

func (o *S3) retention() (blob.RetentionMode, time.Duration) {
	if o == nil || o.LockPeriod <= 0 {
		return "", 0
	}

	if o.LockMode == "governance" {
		return blob.Governance, o.LockPeriod
	}

	return blob.Compliance, o.LockPeriod
}

// AtPath is the storage of a local repository.
func AtPath(path string) Storage { return Storage{Path: path} }

// String names the storage in messages; never a secret.
func (s Storage) String() string {
	if s.S3 == nil {
		return s.Path
	}

	u := "s3://" + s.S3.Bucket
	if p := strings.TrimSuffix(s.S3.Prefix, "/"); p != "" {
		u += "/" + p
	}

	return u + " at " + s.S3.Endpoint
}

// Errors of S3 storage that the user fixes.
var (
	ErrStorageAuth = errors.New("the storage refused the credentials")
	ErrNoBucket    = errors.New("the bucket does not exist")
	ErrClockSkew   = errors.New("this machine's clock is too far from the storage's")
	ErrUnreachable = errors.New("the storage cannot be reached")
)

func (s Storage) blob(ctx context.Context, create bool) (blob.Storage, error) {
	if s.S3 == nil {
		return filesystem.New(ctx, &filesystem.Options{Path: s.Path}, create)
	}

	st, err := s3.New(ctx, s.S3.options(clock.Or(s.Clock).Now()), create)
	if err != nil {
		return nil, s.explain(err)
	}

	return st, nil
}

// options are kopia's for the bucket, with the upload cap in force at now.
func (o *S3) options(now time.Time) *s3.Options {
	return &s3.Options{
		BucketName: o.Bucket, Prefix: o.Prefix, Endpoint: o.Endpoint, Region: o.Region,
		AccessKeyID: o.AccessKey, SecretAccessKey: o.SecretKey, DoNotUseTLS: o.NoTLS, RootCA: o.RootCA,
		Limits: throttling.Limits{UploadBytesPerSecond: o.uploadLimitAt(now)},
	}
}

// explain turns an S3 error into one that names the problem and the fix.
func (s Storage) explain(err error) error {
	if err == nil || s.S3 == nil {
		return err
	}

	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken":
			return fmt.Errorf("%w (%s): check the access and secret keys (repository.access_key_env and secret_key_env, or the *_file keys) and that they may use bucket %s: %v", ErrStorageAuth, resp.Code, s.S3.Bucket, err)
		case "NoSuchBucket":
			return fmt.Errorf("%w: %s: create it (Lifeboat does not create buckets, so a typo cannot create a new one) or fix repository.url", ErrNoBucket, s.S3.Bucket)
		case "RequestTimeTooSkewed":
			return fmt.Errorf("%w: S3 refuses requests signed more than 15 minutes off; set the clock (e.g. enable NTP with `timedatectl set-ntp true`): %v", ErrClockSkew, err)
		}
	}

	msg := err.Error()

	switch {
	case strings.Contains(msg, "NoSuchBucket") || strings.Contains(msg, "bucket does not exist"):
		return fmt.Errorf("%w: %s: create it (Lifeboat does not create buckets, so a typo cannot create a new one) or fix repository.url", ErrNoBucket, s.S3.Bucket)
	case strings.Contains(msg, "InvalidAccessKeyId") || strings.Contains(msg, "SignatureDoesNotMatch") || strings.Contains(msg, "Access Denied"):
		return fmt.Errorf("%w: check the access and secret keys (repository.access_key_env and secret_key_env, or the *_file keys) and that they may use bucket %s: %v", ErrStorageAuth, s.S3.Bucket, err)
	case strings.Contains(msg, "RequestTimeTooSkewed") || strings.Contains(msg, "time too skewed"):
		return fmt.Errorf("%w: S3 refuses requests signed more than 15 minutes off; set the clock (e.g. enable NTP with `timedatectl set-ntp true`): %v", ErrClockSkew, err)
	}

	if strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate") {
		return fmt.Errorf("%w: the TLS certificate of %s is not trusted (%v): set ca_file to the CA that signed it, or check the endpoint", ErrUnreachable, s.S3.Endpoint, err)
	}

	if strings.Contains(msg, "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%w: %s answers plain HTTP, not TLS: use its HTTPS port, or set tls: false if the network is trusted", ErrUnreachable, s.S3.Endpoint)
	}

	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") {
		return fmt.Errorf("%w: %s: %v; check repository.endpoint and the network", ErrUnreachable, s.S3.Endpoint, err)
	}

	return err
}

// putOptions locks what a copy writes, when the copy asks for it.
func (o *S3) putOptions() blob.PutOptions {
	mode, period := o.retention()
	return blob.PutOptions{RetentionMode: mode, RetentionPeriod: period}
}
