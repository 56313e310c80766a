package repo

import (
	"slices"
	"testing"
	"time"

	"github.com/kopia/kopia/repo/blob"
)

// TestSupersededIndexes: only the single-epoch and uncompacted index blobs
// of epochs a chain of complete range checkpoints from epoch 0 covers are
// picked, and only ranges older than the margin count; an incomplete set, a
// range off the chain, a recent range and unknown names count for nothing.
func TestSupersededIndexes(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-5*time.Hour), now.Add(-time.Hour)
	b := func(id string, ts time.Time) blob.Metadata { return blob.Metadata{BlobID: blob.ID(id), Timestamp: ts} }

	blobs := []blob.Metadata{
		// The chain: 0-6 (two shards, both there), 7-13; 14-20 is recent.
		b("xr0_6_aa-s1-c2", old), b("xr0_6_bb-s1-c2", old),
		b("xr7_13_cc-s2-c1", old),
		b("xr14_20_dd-s3-c1", recent),
		// Off the chain (it starts at 3), and incomplete (one of two).
		b("xr3_40_ee-s4-c1", old),
		b("xr21_30_ff-s5-c2", old),
		b("xrjunk", old),
		b("xs0_a-s6-c1", old), b("xs13_b-s7-c1", old), b("xs14_c-s8-c1", old), b("xs25_d-s9-c1", old),
		b("xn1_e-s10-c1", old), b("xn13_f-s11-c1", old), b("xn14_g-s12-c1", now), b("xn130_h-s13-c1", now),
	}

	got := supersededIndexes(blobs, 4*time.Hour)
	want := []blob.ID{"xs0_a-s6-c1", "xs13_b-s7-c1", "xn1_e-s10-c1", "xn13_f-s11-c1"}

	slices.Sort(got)
	slices.Sort(want)

	if !slices.Equal(got, want) {
		t.Fatalf("picked %v, want %v", got, want)
	}

	// No range old enough: nothing.
	if got := supersededIndexes(blobs, 6*time.Hour); len(got) != 0 {
		t.Fatalf("with a 6h margin, picked %v", got)
	}

	// A chain not starting at epoch 0 covers nothing.
	if got := supersededIndexes([]blob.Metadata{b("xr1_6_aa-s1-c1", old), b("xs2_a-s6-c1", now)}, time.Hour); len(got) != 0 {
		t.Fatalf("a range from epoch 1: picked %v", got)
	}
}

// TestSupersededRanges: once one range over epochs 0-16 is older than the
// margin, the chain of shorter ranges it replaced (0-8, 9-16) and a set a
// crash left incomplete go; the range itself, a range past its reach and
// anything recent stay. While the long range is recent, the chain stays.
func TestSupersededRanges(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-5*time.Hour), now.Add(-time.Hour)
	b := func(id string, ts time.Time) blob.Metadata { return blob.Metadata{BlobID: blob.ID(id), Timestamp: ts} }

	blobs := func(long time.Time) []blob.Metadata {
		return []blob.Metadata{
			b("xr0_8_aa-s1-c1", old), b("xr9_16_bb-s2-c1", old),
			b("xr0_16_cc-s3-c2", long), b("xr0_16_dd-s3-c2", long),
			b("xr0_16_ee-s4-c2", old), // incomplete: one of two
			b("xr17_30_ff-s5-c1", recent),
			b("xs17_a-s6-c1", old), b("xn3_b-s7-c1", old),
			b("xn31_c-s8-c1", now),
		}
	}

	got := supersededIndexes(blobs(old), 4*time.Hour)
	want := []blob.ID{"xr0_8_aa-s1-c1", "xr9_16_bb-s2-c1", "xr0_16_ee-s4-c2", "xn3_b-s7-c1"}

	slices.Sort(got)
	slices.Sort(want)

	if !slices.Equal(got, want) {
		t.Fatalf("picked %v, want %v", got, want)
	}

	// The long range still recent: the old chain covers 0-16 and stays;
	// only what it covers goes.
	got = supersededIndexes(blobs(recent), 4*time.Hour)
	want = []blob.ID{"xr0_16_ee-s4-c2", "xn3_b-s7-c1"}

	slices.Sort(got)
	slices.Sort(want)

	if !slices.Equal(got, want) {
		t.Fatalf("with the long range recent, picked %v, want %v", got, want)
	}
}
