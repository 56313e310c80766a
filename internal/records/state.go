package records

import "context"

// StateBinlog is the state kind of a binlog streamer's progress.
const StateBinlog = "binlog"

// StateStore keeps the newest of a frequently written state per source.
type StateStore interface {
	PutState(ctx context.Context, source, kind string, v map[string]string) error
	State(ctx context.Context, source, kind string) (map[string]string, error)
}

// PutState records v as the state of kind for source.
func PutState(ctx context.Context, s StateStore, source, kind string, v any) error {
	m, err := Encode(v)
	if err != nil {
		return err
	}

	return s.PutState(ctx, source, kind, m)
}

// State reads the newest state of kind for source; ok is false when there
// is none. A state is progress, not proof: what can be read of it is used,
// and a field this version cannot read is left zero.
func State[T any](ctx context.Context, s StateStore, source, kind string) (v T, ok bool, err error) {
	m, err := s.State(ctx, source, kind)
	if err != nil || m == nil {
		return v, false, err
	}

	_ = Decode(m, &v) // partial reads are fine, as above

	return v, true, nil
}
