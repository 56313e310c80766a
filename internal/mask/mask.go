// Package mask owns the masking transformers of masked restores and
// exports: each turns a column's value into a stand-in that keeps the
// column's type, length and shape, derived from the value and a masking key
// (HMAC-SHA256, and an AES-based keyed permutation for the shape-keeping
// transformers), so the same value masks the same way in every table and
// every run and joins on masked columns still match. It never reads the key
// from anywhere itself, never logs values, and knows nothing of databases
// beyond a column's type.
package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"sync"

	"github.com/cespare/xxhash/v2"
	"unicode/utf8"
)

// MinKeyBytes is the shortest masking key accepted: a short key could be
// guessed, and with it every masked value reversed by trying candidates.
const MinKeyBytes = 16

// ErrShortKey means the masking key is too short to keep values secret.
var ErrShortKey = fmt.Errorf("the masking key must be at least %d bytes", MinKeyBytes)

// Masker derives every masked value from one key.
type Masker struct {
	pool sync.Pool
	// perms are the keyed permutations of the shape-keeping transformers,
	// by label.
	perms map[string]*permuter
}

// New returns a masker for key.
func New(key []byte) (*Masker, error) {
	if len(key) < MinKeyBytes {
		return nil, ErrShortKey
	}

	k := append([]byte(nil), key...)
	m := &Masker{perms: map[string]*permuter{}}
	m.pool.New = func() any { return hmac.New(sha256.New, k) }

	// The permutations' own key, so the HMAC key is used for one purpose.
	pk := hmac.New(sha256.New, k)
	pk.Write([]byte("lifeboat mask permutation"))
	sub := pk.Sum(nil)

	for _, label := range []string{"text", "hash", "phone"} {
		m.perms[label] = newPermuter(sub, label)
	}

	return m, nil
}

// stream is a keyed pseudo-random byte stream for one value: its first 32
// bytes are HMAC(key, label, input), and more come from ChaCha8
// seeded with them (a specified generator, so the same value masks the same
// way with every build).
type stream struct {
	seed [32]byte
	used int
	more *rand.ChaCha8
	buf  [8]byte
	left int
}

func (m *Masker) stream(label string, in []byte) *stream {
	h := m.pool.Get().(hash.Hash)
	defer m.pool.Put(h)

	h.Reset()
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write(in)

	s := &stream{}
	h.Sum(s.seed[:0])

	return s
}

func (s *stream) byte() byte {
	if s.used < len(s.seed) {
		s.used++
		return s.seed[s.used-1]
	}

	if s.left == 0 {
		if s.more == nil {
			s.more = rand.NewChaCha8(s.seed)
		}

		binary.LittleEndian.PutUint64(s.buf[:], s.more.Uint64())
		s.left = len(s.buf)
	}

	s.left--

	return s.buf[s.left]
}

func (s *stream) uint64() uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v = v<<8 | uint64(s.byte())
	}

	return v
}

// intn is a number in [0, n) (n > 0). A masked value needs no perfectly
// even spread: one byte serves the small n of letters and digits (a bias
// of at most 10%), eight bytes the rest.
func (s *stream) intn(n int) int {
	if n <= 32 {
		return int(s.byte()) % n
	}

	return int(s.uint64() % uint64(n))
}

func (s *stream) pick(list []string) string { return list[s.intn(len(list))] }

func (s *stream) hex(n int) string {
	const digits = "0123456789abcdef"

	b := make([]byte, n)
	for i := range b {
		b[i] = digits[s.byte()&0xf]
	}

	return string(b)
}

// Column is what a transformer must respect of the column it writes.
type Column struct {
	// Name is db.table.column, for messages.
	Name string
	// Type is the data type (varchar, int, datetime, json, ...), lower case.
	Type string
	// Length is the most characters a string column holds (0: no limit
	// known); for decimal, the precision.
	Length int
	// Scale is a decimal's digits after the point.
	Scale    int
	Unsigned bool
	Nullable bool
	// Unique is set when the column is in a primary or unique key: its
	// masked values must stay distinct.
	Unique bool
}

// class is how a column's values are written.
type class int

const (
	classString class = iota
	classInt
	classDecimal
	classFloat
	classDate
	classDateTime
	classTime
	classJSON
	classBinary
	classOther
)

func (c Column) class() class {
	switch c.Type {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return classString
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return classInt
	case "decimal", "numeric":
		return classDecimal
	case "float", "double", "real":
		return classFloat
	case "date":
		return classDate
	case "datetime", "timestamp":
		return classDateTime
	case "time":
		return classTime
	case "json":
		return classJSON
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return classBinary
	}

	return classOther
}

// ErrUnique means a unique column's masked values could not be kept distinct.
var ErrUnique = errors.New("two different values of a unique column mask to the same value")

// Field masks the values of one column under one rule. It is safe for
// concurrent use.
//
// Every masked value is a function of the key, the rule, the column's
// definition and the value alone, never of which rows came before: a
// table loaded in parallel chunks, a replayed binlog row and a full
// backup's row all mask the same way. Transformers that keep a value's
// shape (phone, text, hash) permute the values of each shape, so distinct
// values stay distinct; the others (email, names, address, plain hash)
// carry 64 or more keyed bits in a unique column, and a collision, which
// only a column too short for them makes likely, fails the copy naming
// the column rather than being resolved by the order rows arrive in.
type Field struct {
	m    *Masker
	col  Column
	rule string
	fn   maskFn
	// checked is set for a unique column whose transformer is not a
	// permutation: its outputs are recorded to detect a collision.
	checked bool

	mu sync.Mutex
	// seen maps a hash of each output of a unique column to a hash of the
	// input that gave it, so a second, different input giving the same
	// output is caught (the same input twice is no collision).
	seen map[uint64]uint64
}

// Rule is the rule's text, for messages.
func (f *Field) Rule() string { return f.rule }

// Column is the column the field writes.
func (f *Field) Column() Column { return f.col }

// Keep reports whether the field leaves values as they are.
func (f *Field) Keep() bool { return f.rule == "keep" }

// Mask returns the masked form of in (the value's bytes as the server
// prints them; nil is NULL) and whether it is NULL. NULL stays NULL unless
// the rule is fixed. In a unique column whose transformer is not a
// permutation, a second input masking to an earlier input's output is an
// error wrapping ErrUnique: all of a table's rows pass one Field, so the
// collision is found whatever their order.
func (f *Field) Mask(in []byte) ([]byte, bool, error) {
	out, null, err := f.Derive(in)
	if err != nil || null || !f.checked {
		return out, null, err
	}

	if !f.claim(in, out) {
		return nil, false, fmt.Errorf("mask %s with %s: %w (%s), so the masked copy stops rather than write a result that depends on the order of the rows", f.col.Name, f.rule, ErrUnique, f.uniqueHint())
	}

	return out, false, nil
}

// Derive is Mask without the collision check: the masked value alone, as a
// function of the value. A replay uses it for rows that replace others
// (the target's unique key has the last word there).
func (f *Field) Derive(in []byte) ([]byte, bool, error) {
	if in == nil && f.rule != "fixed" {
		return nil, true, nil
	}

	out, null, err := f.fn(f.m, in)
	if err != nil {
		return nil, false, fmt.Errorf("mask %s with %s: %w", f.col.Name, f.rule, err)
	}

	return out, null, nil
}

// uniqueHint says why a unique column's masked values can collide and what
// keeps them apart.
func (f *Field) uniqueHint() string {
	switch f.rule {
	case "date_shift", "number_noise":
		return f.rule + " moves values by a keyed amount and two of them can land on one value: use hash for a unique column"
	case "first_name", "last_name", "name", "address", "email", "hash":
		return fmt.Sprintf("the column's %d characters leave too few keyed characters to keep the values apart: widen the column or use hash, whose output fills the column", f.col.Length)
	}

	return "values outside the letters and digits a permutation keeps apart are masked by a keyed hash: use hash for this column"
}

// claim records out as in's masked value, and reports false when another
// input already has it.
func (f *Field) claim(in, out []byte) bool {
	ho, hi := sum64(out), sum64(in)

	f.mu.Lock()
	defer f.mu.Unlock()

	if f.seen == nil {
		f.seen = map[uint64]uint64{}
	}

	if prev, ok := f.seen[ho]; ok && prev != hi {
		return false
	}

	f.seen[ho] = hi

	return true
}

func sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// fit cuts s to the column's length in characters.
func fit(s string, limit int) string {
	if limit <= 0 || utf8.RuneCountInString(s) <= limit {
		return s
	}

	n := 0
	for i := range s {
		if n == limit {
			return s[:i]
		}
		n++
	}

	return s
}
