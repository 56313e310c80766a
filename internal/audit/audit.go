// Package audit keeps the tamper-evident audit trail: one JSON line per
// backup, restore, prune, pin, recovery, configuration change or refused
// password, each carrying its sequence number and the hash of the record
// before it, so editing, removing or reordering a record breaks the chain
// at that record. Records say what happened, never with what secret.
package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
	"time"
)

// Record is one audited event.
type Record struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Source   string    `json:"source,omitempty"`
	Snapshot string    `json:"snapshot,omitempty"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	Prev     string    `json:"prev"`
	Hash     string    `json:"hash"`
}

// Outcomes.
const (
	OK      = "ok"
	Failed  = "failed"
	Refused = "refused"
)

// sum is the record's hash: SHA-256 over its JSON with the hash left empty.
func (r Record) sum() string {
	r.Hash = ""
	b, _ := json.Marshal(r)
	h := sha256.Sum256(b)

	return hex.EncodeToString(h[:])
}

// Log is an audit log file.
type Log struct {
	Path string
}

// Actor names who runs this process: user@host.
func Actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}

	host, _ := os.Hostname()

	return name + "@" + host
}

// Append adds a record after the last one, under an exclusive lock so two
// processes never interleave, and syncs it to disk.
func (l *Log) Append(r Record) (Record, error) {
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o700); err != nil {
		return r, fmt.Errorf("audit log %s: %w: set audit.path to a writable file", l.Path, err)
	}

	f, err := os.OpenFile(l.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return r, fmt.Errorf("audit log: %w: set audit.path to a writable file", err)
	}
	defer f.Close()

	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return r, fmt.Errorf("audit log %s: lock: %w", l.Path, err)
	}

	last, err := lastRecord(f)
	if err != nil {
		return r, err
	}

	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}

	if r.Actor == "" {
		r.Actor = Actor()
	}

	r.Seq, r.Prev = last.Seq+1, last.Hash
	r.Hash = r.sum()

	b, err := jsonLine(r)
	if err != nil {
		return r, err
	}

	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return r, err
	}

	if _, err := f.Write(b); err != nil {
		return r, fmt.Errorf("audit log %s: %w", l.Path, err)
	}

	return r, f.Sync()
}

func jsonLine(r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	return append(b, '\n'), err
}

// lastRecord reads the final line of the log.
func lastRecord(f *os.File) (Record, error) {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return Record{}, err
	}

	// Records are small: the last 64 KiB hold the last one.
	off := max(fi.Size()-64<<10, 0)
	buf := make([]byte, fi.Size()-off)

	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return Record{}, err
	}

	lines := bytes.Split(bytes.TrimRight(buf, "\n"), []byte("\n"))

	var r Record
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
		return Record{}, fmt.Errorf("audit log %s: its last line is not a record (%v): run `lifeboat audit verify`", f.Name(), err)
	}

	return r, nil
}

// Read returns every record of the log at path.
func Read(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	return Parse(f)
}

// Parse reads records, one JSON object per line.
func Parse(r io.Reader) ([]Record, error) {
	var out []Record

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)

	line := 0

	for sc.Scan() {
		line++

		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}

		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return out, fmt.Errorf("line %d is not an audit record: %w", line, err)
		}

		out = append(out, rec)
	}

	return out, sc.Err()
}

// VerifyError names the first record that breaks the chain.
type VerifyError struct {
	Line int
	Seq  int64
	Msg  string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit record %d (line %d): %s", e.Seq, e.Line, e.Msg)
}

// Verify checks the chain: every record's hash matches its content, its
// sequence number follows the one before, and it names that record's hash.
func Verify(recs []Record) error {
	var prev Record

	for i, r := range recs {
		line := i + 1

		if r.sum() != r.Hash {
			return &VerifyError{Line: line, Seq: r.Seq, Msg: "was edited: its hash does not match its content"}
		}

		switch {
		case i == 0 && r.Seq != 1:
			return &VerifyError{Line: line, Seq: r.Seq, Msg: fmt.Sprintf("the log starts at record %d: records 1 to %d were removed", r.Seq, r.Seq-1)}
		case i > 0 && r.Seq < prev.Seq+1:
			return &VerifyError{Line: line, Seq: r.Seq, Msg: fmt.Sprintf("is out of order: it follows record %d", prev.Seq)}
		case i > 0 && r.Seq > prev.Seq+1:
			for _, later := range recs[i+1:] {
				if later.Seq > prev.Seq && later.Seq < r.Seq {
					return &VerifyError{Line: line, Seq: r.Seq, Msg: fmt.Sprintf("is out of order: it comes before record %d", later.Seq)}
				}
			}

			return &VerifyError{Line: line, Seq: r.Seq, Msg: fmt.Sprintf("follows record %d: records %d to %d were removed", prev.Seq, prev.Seq+1, r.Seq-1)}
		case r.Prev != prev.Hash:
			return &VerifyError{Line: line, Seq: r.Seq, Msg: fmt.Sprintf("does not chain to record %d before it: a record was changed or replaced", prev.Seq)}
		}

		prev = r
	}

	return nil
}

// Compare checks a log against an earlier copy of it (the one kept in the
// repository): every record of the copy must still be there, unchanged, so
// removing the newest records is caught too.
func Compare(local, copied []Record) error {
	bySeq := map[int64]Record{}
	for _, r := range local {
		bySeq[r.Seq] = r
	}

	for _, c := range copied {
		l, ok := bySeq[c.Seq]
		if !ok {
			return &VerifyError{Seq: c.Seq, Msg: "is in the repository's copy of the log but missing here: it was removed"}
		}

		if l.Hash != c.Hash {
			return &VerifyError{Seq: c.Seq, Msg: "differs from the repository's copy of the log: it was changed"}
		}
	}

	return nil
}
