// Package binlog archives a MariaDB/MySQL server's binary log into the
// repository and replays it for point-in-time recovery. The archive is the
// server's bytes, unchanged: each segment is an exact range of one binlog file,
// keyed by the chain it belongs to and its positions, never by file name alone,
// so a server whose numbering starts again can never overwrite what was kept.
// It reads only event headers and the few event bodies it must understand
// (GTIDs, rotations, table maps, queries); decoding rows is left to the
// server's own mariadb-binlog at replay.
package binlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Event types Lifeboat looks at.
const (
	evQuery       = 2
	evStop        = 3
	evRotate      = 4
	evFormat      = 15
	evXID         = 16
	evTableMap    = 19
	evHeartbeat   = 27
	evMySQLGTID   = 33
	evMySQLAnon   = 34
	evHeartbeatV2 = 41
	evAnnotate    = 160
	evCheckpoint  = 161
	evMariaGTID   = 162
	evGTIDList    = 163
)

const (
	headerLen      = 19
	flagArtificial = 0x20
	// MariaDB GTID event flags.
	gtidStandalone = 0x01
)

// magic opens every binlog file.
var magic = []byte{0xfe, 'b', 'i', 'n'}

// event is one raw binlog event: header fields and the whole bytes.
type event struct {
	raw      []byte
	when     uint32
	typ      byte
	serverID uint32
	size     uint32
	logPos   uint32
	flags    uint16
}

func parseHeader(raw []byte) (event, error) {
	if len(raw) < headerLen {
		return event{}, fmt.Errorf("binlog event of %d bytes is shorter than its header", len(raw))
	}

	return event{
		raw:      raw,
		when:     binary.LittleEndian.Uint32(raw[0:]),
		typ:      raw[4],
		serverID: binary.LittleEndian.Uint32(raw[5:]),
		size:     binary.LittleEndian.Uint32(raw[9:]),
		logPos:   binary.LittleEndian.Uint32(raw[13:]),
		flags:    binary.LittleEndian.Uint16(raw[17:]),
	}, nil
}

// start is where the event begins in its file.
func (e event) start() uint32 { return e.logPos - e.size }

func (e event) artificial() bool { return e.flags&flagArtificial != 0 }

// body is the event without header and checksum.
func (e event) body(checksum bool) []byte {
	b := e.raw[headerLen:]
	if checksum && len(b) >= 4 {
		b = b[:len(b)-4]
	}

	return b
}

// fdeChecksum reports whether events after this format description carry a
// CRC32: the algorithm byte sits before the description's own checksum.
func fdeChecksum(fde []byte) bool {
	if len(fde) < headerLen+57+5 {
		return false
	}

	return fde[len(fde)-5] == 1
}

// GTID is a MariaDB global transaction id, domain-server-seq.
type GTID struct {
	Domain uint32
	Server uint32
	Seq    uint64
}

func (g GTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// IsZero reports an unset GTID.
func (g GTID) IsZero() bool { return g == GTID{} }

// ParseGTID reads "domain-server-seq".
func ParseGTID(s string) (GTID, error) {
	parts := strings.Split(strings.TrimSpace(s), "-")
	if len(parts) != 3 {
		return GTID{}, fmt.Errorf("GTID %q: expected domain-server-sequence, e.g. 0-1-42", s)
	}

	d, e1 := strconv.ParseUint(parts[0], 10, 32)
	sv, e2 := strconv.ParseUint(parts[1], 10, 32)
	n, e3 := strconv.ParseUint(parts[2], 10, 64)

	if err := errors.Join(e1, e2, e3); err != nil {
		return GTID{}, fmt.Errorf("GTID %q: expected domain-server-sequence, e.g. 0-1-42", s)
	}

	return GTID{Domain: uint32(d), Server: uint32(sv), Seq: n}, nil
}

// ParseGTIDList reads a server's gtid_binlog_pos: one GTID per domain.
func ParseGTIDList(s string) (map[uint32]GTID, error) {
	out := map[uint32]GTID{}

	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}

		g, err := ParseGTID(part)
		if err != nil {
			return nil, err
		}

		out[g.Domain] = g
	}

	return out, nil
}

// mariaGTID reads a MariaDB GTID event: its GTID and whether it stands alone
// (a DDL with no COMMIT after it).
func mariaGTID(e event, checksum bool) (GTID, bool) {
	b := e.body(checksum)
	if len(b) < 13 {
		return GTID{}, false
	}

	return GTID{Seq: binary.LittleEndian.Uint64(b), Domain: binary.LittleEndian.Uint32(b[8:]), Server: e.serverID}, b[12]&gtidStandalone != 0
}

// rotateTarget reads a rotate event's next file and position.
func rotateTarget(e event, checksum bool) (string, uint32) {
	b := e.body(checksum)
	if len(b) < 8 {
		return "", 0
	}

	return string(b[8:]), uint32(binary.LittleEndian.Uint64(b))
}

// queryInfo reads a query event's default database and statement.
func queryInfo(e event, checksum bool) (db, query string) {
	b := e.body(checksum)
	if len(b) < 13 {
		return "", ""
	}

	dbLen := int(b[8])
	statusLen := int(binary.LittleEndian.Uint16(b[11:]))
	off := 13 + statusLen

	if off+dbLen+1 > len(b) {
		return "", ""
	}

	return string(b[off : off+dbLen]), string(b[off+dbLen+1:])
}

// tableMap reads a table map event's table id and database.
func tableMap(e event, checksum bool) (uint64, string) {
	b := e.body(checksum)
	if len(b) < 9 {
		return 0, ""
	}

	id := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40
	n := int(b[8])

	if 9+n > len(b) {
		return id, ""
	}

	return id, string(b[9 : 9+n])
}

// rowsTable reads the table id a rows event applies to.
func rowsTable(e event) uint64 {
	b := e.raw[headerLen:]
	if len(b) < 6 {
		return 0
	}

	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40
}

func isRows(typ byte) bool {
	switch typ {
	case 23, 24, 25, 30, 31, 32, // v1 and v2 rows events
		166, 167, 168, 169, 170, 171: // MariaDB compressed rows events
		return true
	}

	return false
}

// eventReader reads whole events from a stream of them (no file magic).
type eventReader struct {
	r   *bufio.Reader
	off int64
}

func newEventReader(r io.Reader) *eventReader {
	return &eventReader{r: bufio.NewReaderSize(r, 1<<20)}
}

func (er *eventReader) next() (event, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(er.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return event{}, fmt.Errorf("binlog segment ends inside an event header at byte %d", er.off)
		}

		return event{}, err
	}

	size := binary.LittleEndian.Uint32(hdr[9:])
	if size < headerLen {
		return event{}, fmt.Errorf("binlog event at byte %d claims %d bytes", er.off, size)
	}

	raw := make([]byte, size)
	copy(raw, hdr[:])

	if _, err := io.ReadFull(er.r, raw[headerLen:]); err != nil {
		return event{}, fmt.Errorf("binlog segment ends inside an event at byte %d: %w", er.off, err)
	}

	er.off += int64(size)

	return parseHeader(raw)
}

// isTxnEnd reports a query that ends a transaction.
func isTxnEnd(query string) bool {
	q := strings.ToUpper(strings.TrimSpace(query))
	return q == "COMMIT" || q == "ROLLBACK" || strings.HasPrefix(q, "XA COMMIT") || strings.HasPrefix(q, "XA ROLLBACK")
}

func isBegin(query string) bool {
	q := strings.ToUpper(strings.TrimSpace(query))
	return q == "BEGIN" || strings.HasPrefix(q, "XA START")
}

// mentions reports whether a statement names db as a qualifier or as the
// database of a DATABASE statement. The name must stand alone: myshop.t or
// DROP DATABASE shopping is not about shop, and replaying it would act on
// another database.
func mentions(query, db string) bool {
	q := regexp.QuoteMeta(db)
	qualified := regexp.MustCompile("(^|[^0-9A-Za-z_$`.])(`" + q + "`|" + q + ")\\.")
	database := regexp.MustCompile("(?i)\\b(?:database|schema)\\s+(?:if\\s+(?:not\\s+)?exists\\s+)?(?:`" + q + "`|" + q + ")(?:[^0-9a-z_$`.]|$)")

	return qualified.MatchString(query) || database.MatchString(query)
}

// renameQuery rewrites a query event's database-qualified names (`db`.t and
// db.t) to their new database, so a DDL replayed into a renamed copy never
// touches the original. mariadb-binlog's --rewrite-db changes only the default
// database and table maps. The event is re-encoded with its new size and
// checksum.
func renameQuery(e event, checksum bool, rename map[string]string) []byte {
	b := e.body(checksum)
	if len(b) < 13 {
		return e.raw
	}

	dbLen := int(b[8])
	off := 13 + int(binary.LittleEndian.Uint16(b[11:])) + dbLen + 1

	if off > len(b) {
		return e.raw
	}

	q := b[off:]
	nq := q

	for from, to := range rename {
		re := regexp.MustCompile("(?i)(^|[^0-9a-z_$`.])(`" + regexp.QuoteMeta(from) + "`|" + regexp.QuoteMeta(from) + ")\\.")
		nq = re.ReplaceAll(nq, []byte("${1}`"+strings.ReplaceAll(to, "`", "``")+"`."))
		// CREATE, ALTER and DROP DATABASE name the database unqualified;
		// left alone, a replay into a copy would drop the original.
		db := regexp.MustCompile("(?i)^(\\s*(?:CREATE|ALTER|DROP)\\s+(?:DATABASE|SCHEMA)\\s+(?:IF\\s+(?:NOT\\s+)?EXISTS\\s+)?)(`" + regexp.QuoteMeta(from) + "`|" + regexp.QuoteMeta(from) + ")([^0-9a-z_$`.]|$)")
		nq = db.ReplaceAll(nq, []byte("${1}`"+strings.ReplaceAll(to, "`", "``")+"`${3}"))
	}

	if bytes.Equal(nq, q) {
		return e.raw
	}

	out := make([]byte, 0, len(e.raw)+len(nq)-len(q))
	out = append(out, e.raw[:headerLen+off]...)
	out = append(out, nq...)

	if checksum {
		out = append(out, 0, 0, 0, 0)
	}

	binary.LittleEndian.PutUint32(out[9:], uint32(len(out)))

	if checksum {
		binary.LittleEndian.PutUint32(out[len(out)-4:], crc32.ChecksumIEEE(out[:len(out)-4]))
	}

	return out
}
