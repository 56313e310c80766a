package access

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEPermissionTable: the README's permission table says what
// Allows does, for every permission and role, and lists every permission.
func TestREADMEPermissionTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}

	_, table, ok := strings.Cut(string(b), "\n| Permission | What it allows |")
	if !ok {
		t.Fatal("README: no permission table (a header | Permission | What it allows | ...)")
	}

	seen := map[Permission]bool{}

	for _, line := range strings.Split(table, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}

		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 2+len(Roles) {
			t.Errorf("permission row %q has %d cells, want %d", line, len(cells), 2+len(Roles))
			continue
		}

		p := Permission(strings.Trim(strings.TrimSpace(cells[0]), "`"))
		seen[p] = true

		for i, r := range Roles {
			if got, want := strings.TrimSpace(cells[2+i]) == "✓", Allows(r, p); got != want {
				t.Errorf("README: %s may %s: %v, but Allows says %v", r, p, got, want)
			}
		}
	}

	for _, p := range Permissions(Admin) {
		if !seen[p] {
			t.Errorf("README: the permission table lacks %s", p)
		}
	}
}
