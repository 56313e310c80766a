package mysql

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

// rowsEventStmtEnd is the rows event flag that ends a statement: the
// server forgets the statement's table maps after it, so each BINLOG
// statement of a parallel replay ends there, as mariadb-binlog's do.
const rowsEventStmtEnd = 0x0001

// keyedRows is how many rows of a transaction are turned into keys; past
// them its tables conflict as wholes.
const keyedRows = 100000

// rowChange is one rows event's decoded rows, kept until the scheduler
// has turned them into write-set keys.
type rowChange struct {
	db, table string
	columns   int
	rows      [][]any
	skipped   [][]int
}

// ptxn is one transaction of a parallel replay.
type ptxn struct {
	seq  int
	gtid string
	when time.Time
	// fde is the format description the transaction's events follow.
	fde []byte
	// events are its raw events (GTID first), as mariadb-binlog reads
	// them for a barrier.
	events [][]byte
	// groups are the BINLOG statements' payloads: table maps and rows
	// events up to a statement's end.
	groups  [][]byte
	changes []rowChange
	// rows counts the rows of changes.
	rows int
	// barrier marks a transaction with statements (DDL, statement-logged
	// changes): it runs alone, after every earlier one committed.
	barrier bool
	// temporary marks a statement about a temporary table: from there on
	// the replay is serial, in one session, so the table lives on.
	temporary bool
	// dep is the latest earlier transaction sharing a key with this one.
	dep *ptxn
	// members are the transactions of a batch, applied as one.
	members []*ptxn
	prev    *ptxn
	done    chan struct{}
}

// release drops a committed transaction's data and links. Later ones
// still wait on it and name it, but the chain of transactions (prev, dep,
// the tracker's keys) would otherwise keep every replayed event in memory.
func (t *ptxn) release() {
	t.fde, t.events, t.groups, t.changes = nil, nil, nil, nil
	t.members, t.prev, t.dep = nil, nil, nil
}

func (t *ptxn) committed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// describe names the transaction in messages.
func (t *ptxn) describe() string {
	if t.gtid == "" {
		return fmt.Sprintf("transaction %d of the replay", t.seq+1)
	}

	return fmt.Sprintf("transaction %d of the replay (GTID %s, committed at %s)", t.seq+1, t.gtid, t.when.UTC().Format(time.RFC3339))
}

// splitter turns the filtered binlog stream into transactions.
type splitter struct {
	out chan<- *ptxn
	// rename maps a database to the one a copy is restored as.
	rename map[string]string
	fde    []byte
	cur    *ptxn
	group  bytes.Buffer
	seq    int
	// standalone is set while the current transaction is one statement
	// with no BEGIN (DDL).
	standalone bool
}

// splitTxns reads the stream ReplayCounted writes (magic, format
// descriptions, events) and sends its transactions in order.
func splitTxns(ctx context.Context, r io.Reader, out chan<- *ptxn, rename map[string]string) error {
	defer close(out)

	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return fmt.Errorf("read the binlog: %w", err)
	}

	p := replication.NewBinlogParser()
	p.SetFlavor("mariadb")
	p.SetVerifyChecksum(false)
	p.SetParseTime(false)

	sp := &splitter{out: out, rename: rename}

	err := p.ParseReader(r, func(e *replication.BinlogEvent) error {
		if err := ctx.Err(); err != nil {
			return err
		}

		return sp.event(ctx, e)
	})
	if err != nil {
		return fmt.Errorf("decode the binlog: %w", err)
	}

	if sp.cur != nil {
		// A transaction the stream cut before its end: mariadb-binlog
		// would leave it open and the client roll it back.
		sp.cur = nil
	}

	return nil
}

func (sp *splitter) event(ctx context.Context, e *replication.BinlogEvent) error {
	raw := e.RawData

	switch ev := e.Event.(type) {
	case *replication.FormatDescriptionEvent:
		sp.fde = raw
		return nil
	case *replication.MariadbGTIDEvent:
		if sp.cur != nil {
			// The previous transaction never ended: replay it as read.
			sp.cur.barrier = true
			if err := sp.end(ctx); err != nil {
				return err
			}
		}

		sp.cur = &ptxn{
			gtid: fmt.Sprintf("%d-%d-%d", ev.GTID.DomainID, ev.GTID.ServerID, ev.GTID.SequenceNumber),
			when: time.Unix(int64(e.Header.Timestamp), 0), fde: sp.fde, events: [][]byte{raw},
		}
		sp.standalone = ev.IsStandalone()

		return nil
	}

	if sp.cur == nil {
		// An event outside any transaction: replayed alone, as is.
		sp.cur = &ptxn{fde: sp.fde, when: time.Unix(int64(e.Header.Timestamp), 0), barrier: true}
		sp.standalone = true
	}

	t := sp.cur
	t.events = append(t.events, raw)

	switch ev := e.Event.(type) {
	case *replication.QueryEvent:
		return sp.query(ctx, ev)
	case *replication.XIDEvent:
		return sp.end(ctx)
	case *replication.TableMapEvent:
		if to, ok := sp.rename[string(ev.Schema)]; ok {
			raw = renameTableMap(raw, to, checksummed(sp.fde))
		}

		sp.group.Write(raw)
	case *replication.RowsEvent:
		db := string(ev.Table.Schema)
		if to, ok := sp.rename[db]; ok {
			db = to
		}

		sp.group.Write(raw)

		ch := rowChange{db: db, table: string(ev.Table.Table), columns: int(ev.ColumnCount), rows: ev.Rows, skipped: ev.SkippedColumns}
		if t.rows += len(ev.Rows); t.rows > keyedRows {
			// A huge transaction conflicts on its tables as wholes
			// rather than holding every decoded row for its keys.
			ch.columns, ch.rows, ch.skipped = -1, nil, nil
		}

		t.changes = append(t.changes, ch)

		if ev.Flags&rowsEventStmtEnd != 0 {
			t.groups = append(t.groups, bytes.Clone(sp.group.Bytes()))
			sp.group.Reset()
		}
	case *replication.MariadbAnnotateRowsEvent:
		// A comment for readers of the binlog; the rows carry the change.
	default:
		// Statement context (insert ids, user variables, RAND seeds)
		// belongs to a statement: mariadb-binlog replays it.
		t.barrier = true
	}

	return nil
}

// query handles a statement: a transaction's bounds, or a barrier.
func (sp *splitter) query(ctx context.Context, ev *replication.QueryEvent) error {
	q := strings.ToUpper(strings.TrimSpace(string(ev.Query)))

	switch q {
	case "BEGIN", "START TRANSACTION":
		return nil
	case "COMMIT":
		return sp.end(ctx)
	case "ROLLBACK":
		// Changes to tables without transactions survive a rollback:
		// mariadb-binlog replays them exactly.
		sp.cur.barrier = true
		return sp.end(ctx)
	}

	sp.cur.barrier = true
	if strings.Contains(q, "TEMPORARY") {
		sp.cur.temporary = true
	}

	if sp.standalone {
		return sp.end(ctx)
	}

	return nil
}

func (sp *splitter) end(ctx context.Context) error {
	t := sp.cur
	sp.cur = nil

	if sp.group.Len() > 0 {
		// Rows without a statement end flag: the server would still
		// hold their table maps, so the statement is replayed as read.
		t.groups = append(t.groups, bytes.Clone(sp.group.Bytes()))
		sp.group.Reset()
	}

	if t.barrier {
		t.groups, t.changes = nil, nil
	}

	t.seq = sp.seq
	sp.seq++
	t.done = make(chan struct{})

	select {
	case sp.out <- t:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// eventHeader is the length of a binlog event's header; a table map's post
// header (table id and flags) follows it.
const (
	eventHeader   = 19
	tableMapFixed = 8
)

// checksummed reports whether the events a format description governs end
// in a CRC32.
func checksummed(fde []byte) bool {
	return len(fde) > eventHeader+57+5 && fde[len(fde)-5] == 1
}

// renameTableMap rewrites a table map event's database name, as
// mariadb-binlog's --rewrite-db does, with its size and checksum fixed.
func renameTableMap(raw []byte, db string, checksum bool) []byte {
	end := len(raw)
	if checksum {
		end -= 4
	}

	at := eventHeader + tableMapFixed
	if at >= end || at+1+int(raw[at])+1 > end {
		return raw
	}

	old := int(raw[at])
	out := make([]byte, 0, len(raw)+len(db)-old)
	out = append(out, raw[:at]...)
	out = append(out, byte(len(db)))
	out = append(out, db...)
	out = append(out, raw[at+1+old:end]...)

	if checksum {
		out = append(out, 0, 0, 0, 0)
	}

	binary.LittleEndian.PutUint32(out[9:13], uint32(len(out)))

	if checksum {
		binary.LittleEndian.PutUint32(out[len(out)-4:], crc32.ChecksumIEEE(out[:len(out)-4]))
	}

	return out
}
