// Package records owns the repository's small records (verify runs, restore
// tests, copies, job runs, pins, plan runs, recovery points): one Go type per
// kind and one encoder between those types and the flat string maps the
// repository stores. It reads and writes exactly the stored form earlier
// versions wrote, so existing repositories keep working; it never decides
// what a record means, only how it is spelled.
package records

import (
	"context"
	"fmt"
)

// The record kinds.
const (
	KindVerify      = "verify"       // one snapshot's last verification, by snapshot ID
	KindVerifyRun   = "verify-run"   // a source's last verify run, by source
	KindRestoreTest = "restore-test" // a source's last restore test, by source
	KindCopy        = "copy"         // a copy's last replication, by copy name
	KindJob         = "job"          // a scheduled job's last run, by job name
	KindPin         = "pin"          // a pinned snapshot, by snapshot ID
	KindAuditTrail  = "audit-trail"  // the audit log's copy in the repository was begun
)

// Store is where records live: the repository.
type Store interface {
	PutRecord(ctx context.Context, kind, key string, v map[string]string) error
	Records(ctx context.Context, kind string) (map[string]map[string]string, error)
}

// Put stores v (a struct or a pointer to one, with record tags) as the
// record of kind under key, replacing any earlier one.
func Put(ctx context.Context, s Store, kind, key string, v any) error {
	m, err := Encode(v)
	if err != nil {
		return fmt.Errorf("save %s record %s: %w", kind, key, err)
	}

	return s.PutRecord(ctx, kind, key, m)
}

// All reads every record of kind, by key. A record that does not decode
// (a value this version cannot read) is left out, as every reader did
// before there were types.
func All[T any](ctx context.Context, s Store, kind string) (map[string]T, error) {
	raw, err := s.Records(ctx, kind)
	if err != nil {
		return nil, err
	}

	out := make(map[string]T, len(raw))

	for key, m := range raw {
		var v T
		if Decode(m, &v) == nil {
			out[key] = v
		}
	}

	return out, nil
}

// Get reads the record of kind under key; ok is false when there is none.
func Get[T any](ctx context.Context, s Store, kind, key string) (v T, ok bool, err error) {
	all, err := All[T](ctx, s, kind)
	if err != nil {
		return v, false, err
	}

	v, ok = all[key]

	return v, ok, nil
}
