package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// CorruptPacks damages bytes all along every data pack of a local
// repository (packs end with random padding, so damage at one end only may
// go unread), as a failing disk would.
func CorruptPacks(t testing.TB, repoDir string) {
	t.Helper()

	packs, _ := filepath.Glob(filepath.Join(repoDir, "p*", "*", "*.f"))
	if len(packs) == 0 {
		packs, _ = filepath.Glob(filepath.Join(repoDir, "p*", "*.f"))
	}

	if len(packs) == 0 {
		t.Fatalf("no data packs found in %s", repoDir)
	}

	for _, p := range packs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}

		for i := 64; i < len(b); i += 97 {
			b[i] ^= 0x5a
		}

		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
