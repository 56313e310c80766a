// Package audit keeps the tamper-evident audit trail: one JSON line per
// backup, restore, prune, pin, recovery, configuration change or refused
// password, each carrying its sequence number and the hash of the record
// before it, so editing, removing or reordering a record breaks the chain
// at that record. Records say what happened, never with what secret.
//
// The chain is keyed: a record's hash is an HMAC-SHA256 under a key derived
// from the repository's master key (repo.AuditKey), which exists only inside
// the repository, encrypted with the password. Whoever edits the log without
// that key cannot make an edited record verify again, even by re-chaining it
// and everything after it with plain SHA-256. A keyed record names its key
// by an ID (KeyID, which reveals nothing of the key), so one log shared by
// two repositories, or kept across a new repository, still verifies: records
// keyed by another repository are reported, not checked. Two kinds of record
// carry a plain SHA-256 instead, and no "key":
//
//   - legacy records, written before the chain was keyed, by older versions.
//     They verify as "legacy, unkeyed up to seq N" and stay valid forever.
//   - records appended by a command that could not open the repository (no
//     password, a wrong one, storage unreachable). Every record names the
//     hash of the one before it, so the next keyed record's MAC covers them
//     too: it seals them. Until a keyed record follows them they are
//     reported as not yet sealed, and someone who can write the file could
//     change them undetected; the key never touches the local disk, so no
//     less honest answer exists.
//
// Someone without the key can still cut the log short, or rewrite its tail
// as unkeyed (or foreign-keyed) records. The copy kept in the repository
// answers that: it is append-only, the local log must extend it record for
// record before anything is added to it (a log that does not is refused, and
// the refusal recorded), Compare names the first record that differs, and a
// missing log is brought back from it (Restore), so the chain goes on where
// the copy ends. The repository side lives with the commands, in
// internal/cli/auditlog.go.
package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"lifeboat/internal/clock"
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
	// Seconds is how long the recorded run took. Zero is left out, so the
	// bytes, and the hashes, of records without it are those written before
	// it existed.
	Seconds float64 `json:"seconds,omitempty"`
	// Key is the ID of the key whose HMAC the hash is (KeyID); empty, the
	// hash is a plain SHA-256 (legacy records, or written while the
	// repository could not be opened).
	Key  string `json:"key,omitempty"`
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// Outcomes.
const (
	OK      = "ok"
	Failed  = "failed"
	Refused = "refused"
)

// sum is the record's hash over its JSON with the hash left empty: an
// HMAC-SHA256 under key when the record is keyed, else a plain SHA-256 (the
// bytes of a record without "key" are exactly those older versions hashed).
func (r Record) sum(key []byte) string {
	r.Hash = ""
	b, _ := json.Marshal(r)

	if r.Key != "" {
		m := hmac.New(sha256.New, key)
		m.Write(b)

		return hex.EncodeToString(m.Sum(nil))
	}

	h := sha256.Sum256(b)

	return hex.EncodeToString(h[:])
}

// KeyID names a key in records without revealing it: the start of its HMAC
// of a fixed text.
func KeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("lifeboat audit key id"))

	return hex.EncodeToString(m.Sum(nil))[:16]
}

// Log is an audit log file.
type Log struct {
	Path string
	// Key authenticates the records appended (repo.AuditKey); nil appends
	// unkeyed records, sealed later by the next keyed one.
	Key []byte
	// Clock stamps records that come without a time; nil is the wall clock.
	Clock clock.Clock
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
	f, err := l.lock()
	if err != nil {
		return r, err
	}
	defer f.Close()

	last, err := lastRecord(f)
	if err != nil {
		return r, err
	}

	if r.Time.IsZero() {
		r.Time = clock.Or(l.Clock).Now().UTC()
	}

	if r.Actor == "" {
		r.Actor = Actor()
	}

	r.Seq, r.Prev, r.Key = last.Seq+1, last.Hash, ""
	if len(l.Key) > 0 {
		r.Key = KeyID(l.Key)
	}

	r.Hash = r.sum(l.Key)

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

// lock opens the log, creating it, under an exclusive lock the caller drops
// by closing the file.
func (l *Log) lock() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log %s: %w: set audit.path to a writable file", l.Path, err)
	}

	f, err := os.OpenFile(l.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w: set audit.path to a writable file", err)
	}

	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log %s: lock: %w", l.Path, err)
	}

	return f, nil
}

// Restore writes recs (the repository's copy) as the log when the log is
// missing or empty, and reports whether it did: a log that has records is
// never overwritten.
func (l *Log) Restore(recs []Record) (bool, error) {
	f, err := l.lock()
	if err != nil {
		return false, err
	}
	defer f.Close()

	if fi, err := f.Stat(); err != nil || fi.Size() > 0 {
		return false, err
	}

	var buf bytes.Buffer

	for _, r := range recs {
		b, err := jsonLine(r)
		if err != nil {
			return false, err
		}

		buf.Write(b)
	}

	if _, err := f.Write(buf.Bytes()); err != nil {
		return false, fmt.Errorf("audit log %s: %w", l.Path, err)
	}

	return true, f.Sync()
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
	if e.Line == 0 {
		return fmt.Sprintf("audit record %d: %s", e.Seq, e.Msg)
	}

	return fmt.Sprintf("audit record %d (line %d): %s", e.Seq, e.Line, e.Msg)
}

// Chain is what Verify found in a chain that holds.
type Chain struct {
	Records int
	// Last is the newest record's sequence number.
	Last int64
	// Legacy is the sequence number of the last unkeyed record before the
	// first keyed one (0: none): records older versions wrote.
	Legacy int64
	// Unkeyed counts the unkeyed records after the first keyed one: written
	// while the repository could not be opened.
	Unkeyed int
	// Foreign counts records keyed by another repository: not checked.
	Foreign int
	// Unsealed is the first of the records at the end that no record keyed
	// by this repository follows yet (0: none).
	Unsealed int64
	// MACsChecked is false when Verify had no key: keyed records were
	// checked for their order and links only.
	MACsChecked bool
}

// String says what the chain holds besides records keyed by this
// repository, or "".
func (c Chain) String() string {
	var parts []string

	if c.Legacy > 0 {
		parts = append(parts, fmt.Sprintf("legacy, unkeyed up to seq %d", c.Legacy))
	}

	if c.Unkeyed > 0 {
		parts = append(parts, fmt.Sprintf("%d later records written while the repository could not be opened, unkeyed", c.Unkeyed))
	}

	if c.Foreign > 0 {
		parts = append(parts, fmt.Sprintf("%d records keyed by another repository, not checked here", c.Foreign))
	}

	if c.Unsealed > 0 {
		parts = append(parts, fmt.Sprintf("records %d to %d not yet sealed by a record keyed by this repository (the next command that opens it seals them)", c.Unsealed, c.Last))
	}

	if !c.MACsChecked && c.Records > 0 {
		parts = append(parts, "keyed records not authenticated (no key)")
	}

	return strings.Join(parts, "; ")
}

// Verify checks the chain: every record's hash (its MAC, when it is keyed
// by key) matches its content, its sequence number follows the one before,
// and it names that record's hash. A nil key checks keyed records' order
// and links but not their MACs.
func Verify(recs []Record, key []byte) (Chain, error) {
	var (
		prev  Record
		keyed bool // a keyed record was seen
		id    string
	)

	c := Chain{Records: len(recs), MACsChecked: key != nil}
	if key != nil {
		id = KeyID(key)
	}

	for i, r := range recs {
		line := i + 1
		ours := r.Key != "" && (key == nil || r.Key == id)

		switch {
		case r.Key != "" && r.Key == id && !hmac.Equal([]byte(r.sum(key)), []byte(r.Hash)):
			return c, &VerifyError{Line: line, Seq: r.Seq, Msg: "was edited: its MAC does not match its content"}
		case r.Key == "" && r.sum(nil) != r.Hash:
			return c, &VerifyError{Line: line, Seq: r.Seq, Msg: "was edited: its hash does not match its content"}
		}

		if err := follows(recs, i, prev); err != nil {
			return c, err
		}

		switch {
		case ours:
			keyed, c.Unsealed = true, 0
		case r.Key != "":
			keyed = true
			c.Foreign++
		case !keyed:
			c.Legacy = r.Seq
		default:
			c.Unkeyed++
		}

		if !ours && keyed && c.Unsealed == 0 {
			c.Unsealed = r.Seq
		}

		prev, c.Last = r, r.Seq
	}

	return c, nil
}

// follows checks that recs[i] comes right after prev and names its hash.
func follows(recs []Record, i int, prev Record) error {
	r, line := recs[i], i+1

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

	return nil
}

// Compare checks a log against an earlier copy of it (the one kept in the
// repository): every record of the copy must still be there, unchanged, so
// removing the newest records is caught too. The first record that differs
// is named.
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

// Extends checks that a log whose chain verifies holds, as record seq, the
// record whose hash is hash (the newest one the repository's copy holds).
// Each record names the hash of the one before, so that one match means
// every record up to seq is the stored one, without reading the copy.
func Extends(local []Record, seq int64, hash string) error {
	if seq == 0 {
		return nil
	}

	for _, r := range local {
		if r.Seq == seq {
			if r.Hash != hash {
				return &VerifyError{Seq: seq, Msg: "differs from the repository's copy of the log: it, or a record before it, was changed"}
			}

			return nil
		}
	}

	return &VerifyError{Seq: seq, Msg: "is in the repository's copy of the log but missing here: the log was cut short, replaced or deleted"}
}

// Join assembles a trail stored in pieces (full copies and increments, which
// may overlap) into one list by sequence number. Pieces that disagree about
// a record, or a record missing between stored ones, are errors.
func Join(pieces ...[]Record) ([]Record, error) {
	bySeq := map[int64]Record{}

	var last int64

	for _, p := range pieces {
		for _, r := range p {
			if have, ok := bySeq[r.Seq]; ok && have.Hash != r.Hash {
				return nil, &VerifyError{Seq: r.Seq, Msg: "is stored twice, differently"}
			}

			bySeq[r.Seq] = r
			last = max(last, r.Seq)
		}
	}

	out := make([]Record, 0, len(bySeq))

	for seq := int64(1); seq <= last; seq++ {
		r, ok := bySeq[seq]
		if !ok {
			return nil, &VerifyError{Seq: seq, Msg: "is missing from the stored pieces"}
		}

		out = append(out, r)
	}

	return out, nil
}
