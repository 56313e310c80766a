package access

import "testing"

// TestDeveloperTakesOnlyMaskedCopies: a developer may take a masked copy
// and read what a viewer reads, but no backup data that may hold personal
// data, no restore, no audit trail; every role above has masked copies too.
func TestDeveloperTakesOnlyMaskedCopies(t *testing.T) {
	if r, err := ParseRole("developer"); err != nil || r != Developer {
		t.Fatalf("ParseRole(developer) = %v, %v", r, err)
	}

	for _, p := range []Permission{ReadHealth, ReadSnapshots, ReadReports, MaskedCopy} {
		if !Allows(Developer, p) {
			t.Errorf("a developer may not %s", p)
		}
	}

	for _, p := range []Permission{DownloadData, RestoreScratch, RestoreProduction, Operate, ReadAudit, DownloadEvidence, Prune, ManageAccess} {
		if Allows(Developer, p) {
			t.Errorf("a developer may %s", p)
		}
	}

	if Allows(Viewer, MaskedCopy) {
		t.Error("a viewer may take masked copies")
	}

	for _, r := range []Role{Auditor, Operator, Admin} {
		if !Allows(r, MaskedCopy) {
			t.Errorf("%s may not take masked copies", r)
		}
	}
}
