package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

// TestRekeyBinlogStream: `lifeboat binlog stream` runs while the server
// takes writes and the repository (a folder, switched by renames) is
// rekeyed. The streamer writes nothing into the new folder with the old
// key; once the new password is in repository.password_file it archives
// into the new repository from where that one's archive ends; after the
// writes stop, the new repository's archive reaches the server's last
// transaction, and a recovery to the newest instant from it holds every
// row once.
func TestRekeyBinlogStream(t *testing.T) {
	db := testenv.StartMariaDB(t)
	db.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40))`)

	e := newEnv(t, "  db:\n    type: mysql\n    socket: "+db.Socket+"\n    user: root\n    databases: [shop]\n    binlog: {server_id: 781, segment_seconds: 1}\n")
	pwFile := filepath.Join(e.dir, "password")
	write(t, pwFile, testPassword)
	os.Chmod(pwFile, 0o600)
	e.writeConfig(strings.Replace(readFile(t, e.cfg), "\naudit:", "\n  password_file: "+pwFile+"\naudit:", 1))
	delete(e.vars, EnvPassword)

	e.mustRun("init")
	e.mustRun("backup", "db")

	stream := e.startAsMain(nil, "binlog", "stream", "db")
	defer stream.cmd.Process.Kill() //nolint:errcheck

	// Writes on the server, one transaction every few milliseconds.
	var (
		wg   sync.WaitGroup
		stop = make(chan struct{})
		n    int
	)

	conn := db.DB(t, "shop")

	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond) // a steady trickle, not a flood
		defer tick.Stop()

		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}

			n++
			if _, err := conn.Exec("INSERT INTO orders VALUES (?, ?)", n, fmt.Sprint("order ", n)); err != nil {
				t.Errorf("insert %d: %v", n, err)
				return
			}
		}
	})

	testenv.Eventually(t, time.Minute, func() bool { return len(e.archived("db")) >= 2 }, "the streamer to archive segments")

	const newPW = "rekeyed-stream-pass-9e14"
	newFile := filepath.Join(e.dir, "new-password")
	write(t, newFile, newPW)
	os.Chmod(newFile, 0o600)

	out := e.mustRun("key", "rekey", "--new-password-file", newFile)
	if !strings.Contains(out, "is now the new repository") {
		t.Fatalf("rekey:\n%s", out)
	}

	write(t, pwFile, newPW)

	// Writes go on after the switch, then stop.
	before := len(e.archived("db"))
	testenv.Eventually(t, 2*time.Minute, func() bool { return len(e.archived("db")) >= before+3 }, "the streamer to archive into the new repository")
	close(stop)
	wg.Wait()

	var pos string
	if err := conn.QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}

	testenv.Eventually(t, time.Minute, func() bool {
		segs := e.archived("db")
		return len(segs) > 0 && segs[len(segs)-1] == pos
	}, "the new repository's archive to reach the server's last transaction "+pos)

	stream.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck

	if err := stream.cmd.Wait(); err != nil || !strings.Contains(stream.out.String(), "every segment received is stored") {
		t.Fatalf("the streamer did not stop cleanly (%v):\n%s", err, stream.out.String())
	}

	if !strings.Contains(stream.out.String(), "archiving into the new one") {
		t.Fatalf("the streamer did not switch to the new repository:\n%s", stream.out.String())
	}

	// Recovery to the last transaction, from the new repository: every row once.
	rout := e.mustRun("restore", "db", "--target-database", "shop_after", "--to-gtid", pos)

	var count, maxID int
	if err := db.DB(t, "").QueryRow("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM shop_after.orders").Scan(&count, &maxID); err != nil {
		t.Fatal(err)
	}

	if count != n || maxID != n {
		t.Fatalf("recovered %d rows up to id %d from the new repository, want %d:\n%s\n%s", count, maxID, n, rout, e.mustRun("binlog", "list", "db"))
	}
}

// archived lists the gtid_last of each segment in the configured
// repository's archive of source, oldest first.
func (e *env) archived(source string) []string {
	e.t.Helper()

	r := e.run("binlog", "list", source, "--json")
	if r.code != 0 {
		return nil
	}

	var out []string

	dec := json.NewDecoder(strings.NewReader(r.out))

	for {
		var v struct {
			Segments []struct {
				GTIDLast string `json:"gtid_last"`
			} `json:"segments"`
		}

		if dec.Decode(&v) != nil {
			return out
		}

		for _, s := range v.Segments {
			if s.GTIDLast != "" {
				out = append(out, s.GTIDLast)
			}
		}
	}
}
