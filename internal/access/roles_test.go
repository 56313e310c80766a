package access

import (
	"slices"
	"testing"
)

// TestRolesGrowFromViewerToAdmin: each role may do what the one before it
// may, and more; nothing is granted to an unknown role.
func TestRolesGrowFromViewerToAdmin(t *testing.T) {
	for i, r := range Roles {
		got := Permissions(r)
		if len(got) == 0 {
			t.Fatalf("%s may do nothing", r)
		}

		if i > 0 {
			before := Permissions(Roles[i-1])
			if len(got) <= len(before) {
				t.Fatalf("%s may do no more than %s", r, Roles[i-1])
			}

			for _, p := range before {
				if !Allows(r, p) {
					t.Fatalf("%s may not %s, which %s may", r, p, Roles[i-1])
				}
			}
		}
	}

	cases := []struct {
		r    Role
		p    Permission
		want bool
	}{
		{Viewer, ReadSnapshots, true}, {Viewer, ReadAudit, false}, {Viewer, Operate, false},
		{Auditor, ReadAudit, true}, {Auditor, DownloadData, false}, {Auditor, Operate, false},
		{Operator, RestoreScratch, true}, {Operator, RestoreProduction, false}, {Operator, Prune, false},
		{Admin, RestoreProduction, true}, {Admin, ManageAccess, true},
		{Role("root"), ReadHealth, false},
	}
	for _, c := range cases {
		if got := Allows(c.r, c.p); got != c.want {
			t.Errorf("Allows(%s, %s) = %v, want %v", c.r, c.p, got, c.want)
		}
	}

	if _, err := ParseRole("root"); err == nil {
		t.Fatal("ParseRole accepted root")
	}

	if r, err := ParseRole("operator"); err != nil || r != Operator {
		t.Fatalf("ParseRole(operator) = %v, %v", r, err)
	}

	if !slices.Contains(Permissions(Admin), ManageAccess) {
		t.Fatal("admin cannot manage access")
	}
}
