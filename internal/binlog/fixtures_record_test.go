package binlog

import (
	"os"
	"path/filepath"
	"testing"

	"lifeboat/internal/testenv"
)

// fixtureWorkload is what the recorded binlog files hold, in order. The
// first FLUSH starts a fresh file so the fixtures begin with our statements
// (not the test server's own account setup); the second is the rotate the
// tests follow across files; the last closes the second file.
const fixtureWorkload = `FLUSH BINARY LOGS;
CREATE DATABASE shop;
CREATE DATABASE lib;
CREATE TABLE shop.orders (id INT PRIMARY KEY, qty INT) ENGINE=InnoDB;
CREATE TABLE lib.` + "`odd-name $x`" + ` (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
INSERT INTO shop.orders VALUES (1, 10), (2, 20);
INSERT INTO lib.` + "`odd-name $x`" + ` VALUES (1, 'a');
BEGIN;
UPDATE shop.orders SET qty = 11 WHERE id = 1;
DELETE FROM shop.orders WHERE id = 2;
INSERT INTO lib.` + "`odd-name $x`" + ` VALUES (2, 'b');
COMMIT;
USE shop;
CREATE TABLE items (id INT PRIMARY KEY) ENGINE=InnoDB;
ALTER TABLE shop.orders ADD COLUMN note VARCHAR(10);
FLUSH BINARY LOGS;
UPDATE lib.` + "`odd-name $x`" + ` SET v = 'c' WHERE id = 1;
DELETE FROM shop.orders WHERE id = 1;
FLUSH BINARY LOGS;
`

// TestRecordFixtures rewrites testdata/crc32 and testdata/nochecksum from a
// private MariaDB. It runs only with LIFEBOAT_RECORD_FIXTURES=1:
//
//	LIFEBOAT_RECORD_FIXTURES=1 go test -run TestRecordFixtures ./internal/binlog/
//
// The unit tests read the checked-in files and need no server. Re-recording
// changes timestamps and server-chosen positions, so tests derive those from
// the files; GTIDs, statements and the event sequence stay the same.
func TestRecordFixtures(t *testing.T) {
	if os.Getenv("LIFEBOAT_RECORD_FIXTURES") != "1" {
		t.Skip("set LIFEBOAT_RECORD_FIXTURES=1 to re-record the binlog fixtures from a private MariaDB")
	}

	for dir, args := range map[string][]string{
		"crc32":      {"--binlog-checksum=CRC32"},
		"nochecksum": {"--binlog-checksum=NONE"},
	} {
		t.Run(dir, func(t *testing.T) {
			db, err := testenv.StartWith(t.Context(), "", args...)
			if err != nil {
				t.Fatalf("testenv: %v", err)
			}
			t.Cleanup(func() {
				if err := db.Stop(); err != nil {
					t.Errorf("testenv: %v", err)
				}
			})

			db.Exec(t, fixtureWorkload)

			out := filepath.Join("testdata", dir)
			if err := os.RemoveAll(out); err != nil {
				t.Fatal(err)
			}

			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}

			for _, name := range fixtureFiles {
				b, err := os.ReadFile(filepath.Join(db.BinlogDir(), name))
				if err != nil {
					t.Fatal(err)
				}

				if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
