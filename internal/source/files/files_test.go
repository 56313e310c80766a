package files

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"lifeboat/internal/config"
	"lifeboat/internal/source"
	"lifeboat/internal/source/sourcetest"
)

func TestConformance(t *testing.T) {
	var data string

	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T, dir string) source.Source {
			data = filepath.Join(dir, "uploads")
			os.MkdirAll(filepath.Join(data, "covers"), 0o755)
			os.WriteFile(filepath.Join(data, "covers", "a.jpg"), []byte(strings.Repeat("a", 5000)), 0o644)
			os.WriteFile(filepath.Join(data, "notes.txt"), []byte("v1"), 0o600)
			os.Symlink("covers/a.jpg", filepath.Join(data, "featured"))

			return New(&config.Source{Name: "uploads", Type: config.KindFiles, Paths: []string{data}})
		},
		Change: func(t *testing.T) {
			os.WriteFile(filepath.Join(data, "notes.txt"), []byte("v2, longer"), 0o600)
			os.WriteFile(filepath.Join(data, "covers", "b.jpg"), []byte("b"), 0o644)
		},
		State: func(t *testing.T, dir string) string {
			if dir == "" {
				dir = data
			}

			var lines []string

			filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
				if err != nil {
					return err
				}

				rel, _ := filepath.Rel(dir, p)
				line := fmt.Sprintf("%s %v", rel, fi.Mode())

				if fi.Mode().IsRegular() {
					b, _ := os.ReadFile(p)
					line += fmt.Sprintf(" %x %d", sha256.Sum256(b), fi.ModTime().UnixNano())
				} else if fi.Mode()&os.ModeSymlink != 0 {
					l, _ := os.Readlink(p)
					line += " -> " + l
				}

				if rel != "." {
					lines = append(lines, line)
				}

				return nil
			})
			sort.Strings(lines)

			return strings.Join(lines, "\n")
		},
		Inside: func() string { return filepath.Join(data, "covers", "x") },
	})
}
