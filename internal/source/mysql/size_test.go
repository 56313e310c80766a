package mysql

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/internal/repo"
	"lifeboat/internal/source"
)

// dirBytes is what a directory's files hold.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()

	var n int64

	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}

		return nil
	})

	return n
}

// TestLogicalFullNoLargerThanDumpZstd: on a database of JSON documents
// in a table without a primary key and binary attachments, a logical full
// stores no more than `mariadb-dump | zstd -3` of the same data (BLOBs
// were kept as hex, which stored random bytes at twice their size).
func TestLogicalFullNoLargerThanDumpZstd(t *testing.T) {
	for _, tool := range []string{"mariadb-dump", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: apt-get install -y mariadb-client zstd (scripts/install-deps.sh test installs them)", tool)
		}
	}

	const db = "sizes_jb"

	server.Exec(t, `CREATE DATABASE `+db+`; USE `+db+`;
CREATE TABLE docs (owner INT, doc JSON, note TEXT);
INSERT INTO docs SELECT seq % 100, JSON_OBJECT('id', seq, 'name', CONCAT('user', seq), 'tags', JSON_ARRAY('a', 'b', seq % 13),
  'address', JSON_OBJECT('city', ELT(1 + seq % 5, 'Oslo', 'Lima', 'Pune', 'Kyiv', 'Rome'), 'zip', LPAD(seq % 99999, 5, '0')), 'bio', REPEAT(MD5(seq), 4)),
  CONCAT('note ', seq) FROM seq_1_to_30000;
CREATE TABLE attachments (id INT PRIMARY KEY, body MEDIUMBLOB);
INSERT INTO attachments SELECT seq, CONVERT(CONCAT(REPEAT(CONCAT('line ', seq, ': ', MD5(seq), ' status=', ELT(1 + seq % 3, 'ok', 'late', 'lost'), '\n'), 20), RANDOM_BYTES(64)) USING binary) FROM seq_1_to_8000;
CREATE TABLE images (id INT PRIMARY KEY, png MEDIUMBLOB);
INSERT INTO images SELECT seq, RANDOM_BYTES(2048) FROM seq_1_to_1500;`)
	t.Cleanup(func() { server.RunSQL(context.Background(), strings.NewReader("DROP DATABASE "+db)) })

	dump := exec.Command("sh", "-c", `"$@" | zstd -3 -q -c | wc -c`, "sh", "mariadb-dump", "--no-defaults", "-S", server.Socket, "-uroot", "--single-transaction", db)

	out, err := dump.Output()
	if err != nil {
		t.Fatalf("mariadb-dump | zstd -3: %v", err)
	}

	var want int64
	if _, err := fmt.Sscan(string(out), &want); err != nil || want == 0 {
		t.Fatalf("mariadb-dump | zstd -3 printed %q", out)
	}

	r := newRepo(t)
	before := dirBytes(t, r.Path())

	if _, err := newSource(db).Backup(t.Context(), r, source.BackupOptions{Type: repo.TypeFull}); err != nil {
		t.Fatal(err)
	}

	got := dirBytes(t, r.Path()) - before
	t.Logf("logical full stored %d bytes, mariadb-dump | zstd -3 %d (%.3fx)", got, want, float64(got)/float64(want))

	if got > want {
		t.Errorf("the logical full stored %d bytes, more than mariadb-dump | zstd -3's %d", got, want)
	}
}
