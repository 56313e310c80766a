package cli

import (
	"context"
	"path/filepath"
	"testing"

	"lifeboat/internal/audit"
	"lifeboat/internal/ops"
	"lifeboat/internal/repo"
)

// TestAuditMergeStoppedBeforeItsDeletes: a merge of the audit log's pieces
// killed after the merged piece was stored and before the pieces it holds
// were deleted leaves every record stored twice: `audit verify` and `status`
// still pass, and the next command that copies the log deletes the pieces
// the merged one holds, keeping every record.
func TestAuditMergeStoppedBeforeItsDeletes(t *testing.T) {
	e, _ := filesEnv(t) // one backup

	for i := 0; i < ops.TrailFanout-2; i++ {
		e.mustRun("backup")
	}

	var before int

	// What a merge leaves when it is killed between its two steps.
	e.auditPieces(func(ctx context.Context, r *repo.Repository, segs []*repo.Segment) {
		before = len(segs)

		if _, err := ops.MergeTrail(ctx, r, segs); err != nil {
			t.Fatal(err)
		}
	})

	if before != ops.TrailFanout-1 {
		t.Fatalf("%d backups stored %d pieces", ops.TrailFanout-1, before)
	}

	wantIn(t, "audit verify", e.mustRun("audit", "verify"), "the hash chain is intact")
	e.mustRun("status")

	e.mustRun("backup")

	var levels []string

	e.auditPieces(func(_ context.Context, _ *repo.Repository, segs []*repo.Segment) {
		for _, s := range segs {
			levels = append(levels, s.Labels["level"])
		}
	})

	if len(levels) != 2 || levels[0] != "1" || levels[1] != "" {
		t.Fatalf("after the next backup, pieces of levels %q; want the merged one and the new increment", levels)
	}

	stored := e.storedAudit()

	local, err := audit.Read(filepath.Join(e.dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}

	if len(stored.bySeq) != len(local) {
		t.Fatalf("local log %d records, stored %d", len(local), len(stored.bySeq))
	}

	for _, rec := range local {
		if stored.bySeq[rec.Seq].Hash != rec.Hash {
			t.Fatalf("record %d: stored differs from the local log", rec.Seq)
		}
	}

	wantIn(t, "audit verify", e.mustRun("audit", "verify"), "the hash chain is intact")
}
