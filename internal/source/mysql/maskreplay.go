package mysql

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"lifeboat/internal/binlog"
	"lifeboat/internal/repo"
)

// replayDelimiter ends each statement of a masked replay, as mariadb-binlog
// ends its own: a routine's body holds plain semicolons.
const replayDelimiter = "/*!*/;"

// replayMasked replays the binlog like replay, but decodes the row events
// itself and writes them as SQL with every ruled column masked, so no
// unmasked row reaches the client, let alone the server. mariadb-binlog
// would pass the rows on as opaque BINLOG statements.
func (s *Source) replayMasked(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, to replayTo, m *masking, sqlMode string) (*binlog.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var more []string
	if !to.logged {
		more = append(more, "--init-command=SET SESSION sql_log_bin = 0")
	}

	apply := to.login.command(ctx, more...)

	var applyErr strings.Builder
	apply.Stderr = &applyErr

	applyIn, err := apply.StdinPipe()
	if err != nil {
		return nil, err
	}

	if err := apply.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", to.login.client, err)
	}

	pr, pw := io.Pipe()

	var (
		res     *binlog.Result
		feedErr error
		fed     = make(chan struct{})
	)

	go func() {
		defer close(fed)

		res, feedErr = arch.ReplayCounted(ctx, r, plan, to.dbs, to.rename, pw, to.progress)
		pw.CloseWithError(feedErr)
	}()

	decodeErr := (&maskedSQL{m: m, rename: to.rename}).write(pr, applyIn, sqlMode)
	pr.CloseWithError(errors.New("the masked replay stopped"))
	applyIn.Close()

	if decodeErr != nil {
		cancel()
	}

	<-fed

	applyWait := apply.Wait()

	switch {
	case decodeErr != nil:
		return res, fmt.Errorf("source %s: the masked replay stopped after the full backup was restored (the copy holds the full plus part of the binlog): %w", s.cfg.Name, decodeErr)
	case applyWait != nil:
		return res, fmt.Errorf("source %s: replaying the binlog failed after the full backup was restored (the database holds the full plus part of the binlog; restore again once the cause is fixed): %s", s.cfg.Name, to.login.clean(applyErr.String(), applyWait))
	case feedErr != nil:
		return res, fmt.Errorf("source %s: read the binlog archive: %w", s.cfg.Name, feedErr)
	}

	return res, nil
}

// checkMaskedReplay reads the binlog a masked recovery would replay, before
// the full is restored, and refuses, naming each table and what to do,
// what the masked replay could not mask as the full's rows are masked:
// rows of a table the full lacks or whose definition changed after it
// (ALTER TABLE, or a table created again: the rules and the columns they
// were compiled for are the full's), a change logged as a statement, and a
// masked column in a character set with no decoder. So a refused recovery
// writes nothing; the price is reading the binlog twice.
func (s *Source) checkMaskedReplay(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, m *masking, dbs []string) error {
	if m == nil || len(plan.Steps) == 0 {
		return nil
	}

	if err := s.loadMaskCharsets(ctx, m); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pr, pw := io.Pipe()
	fed := make(chan error, 1)

	go func() {
		_, err := arch.ReplayCounted(ctx, r, plan, dbs, nil, pw, nil)
		pw.CloseWithError(err)
		fed <- err
	}()

	c := &replayCheck{m: m, source: s.cfg.Name, altered: map[string]string{}, seen: map[string]bool{}}
	scanErr := c.scan(pr)

	pr.CloseWithError(errors.New("the check of the binlog stopped"))
	cancel()

	if feedErr := <-fed; scanErr == nil && feedErr != nil && !errors.Is(feedErr, context.Canceled) {
		return fmt.Errorf("source %s: read the binlog archive: %w", s.cfg.Name, feedErr)
	}

	if scanErr != nil {
		return fmt.Errorf("source %s: check the binlog before a masked recovery: %w", s.cfg.Name, scanErr)
	}

	if len(c.problems) > 0 {
		return fmt.Errorf("source %s: a masked point-in-time recovery cannot replay this binlog, and nothing was written: %s", s.cfg.Name, strings.Join(c.problems, "; "))
	}

	return nil
}

// loadMaskCharsets reads from the server how it decodes the single-byte
// character sets of masked text columns.
func (s *Source) loadMaskCharsets(ctx context.Context, m *masking) error {
	sets := map[string]bool{}

	for _, tm := range m.byName {
		for i, f := range tm.fields {
			if f != nil && tm.charsets[i] != "" {
				sets[tm.charsets[i]] = true
			}
		}
	}

	if len(sets) == 0 {
		return nil
	}

	pool, err := connect(ctx, s.cfg.Name, s.cfg.MySQL, s.getenv)
	if err != nil {
		return err
	}
	defer pool.Close()

	m.bytes, err = loadByteTables(ctx, pool, sets)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}

	return nil
}

// reshaping names the table a statement creates or alters.
var reshaping = regexp.MustCompile(`(?i)^(?:ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?|CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?)TABLE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?((?:` + "`(?:[^`]|``)+`" + `|\w+)(?:\.(?:` + "`(?:[^`]|``)+`" + `|\w+))?)`)

// replayCheck collects what a masked replay would refuse.
type replayCheck struct {
	m      *masking
	source string
	// altered maps db.table to the kind of statement that reshaped it.
	altered  map[string]string
	seen     map[string]bool
	problems []string
}

func (c *replayCheck) problem(key, text string) {
	if !c.seen[key] {
		c.seen[key] = true
		c.problems = append(c.problems, text)
	}
}

func (c *replayCheck) scan(r io.Reader) error {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return fmt.Errorf("read the binlog: %w", err)
	}

	p := replication.NewBinlogParser()
	p.SetFlavor("mariadb")
	p.SetTimestampStringLocation(time.UTC)
	p.SetVerifyChecksum(false)

	err := p.ParseReader(r, func(e *replication.BinlogEvent) error {
		switch ev := e.Event.(type) {
		case *replication.QueryEvent:
			c.query(ev)
		case *replication.RowsEvent:
			c.rows(ev)
		}

		return nil
	})
	if err != nil {
		return fmt.Errorf("decode the binlog: %w", err)
	}

	return nil
}

func (c *replayCheck) query(ev *replication.QueryEvent) {
	q := strings.TrimSpace(string(ev.Query))
	head := strings.ToUpper(q)

	if m := versionComment.FindStringIndex(head); m != nil {
		head, q = strings.TrimSpace(head[m[1]:]), strings.TrimSpace(q[m[1]:])
	}

	switch word := leadingWord.FindString(head); word {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD":
		c.problem("statement", fmt.Sprintf("the binlog holds a change logged as a statement (%s ...), whose values are in its text and cannot be masked: the server must log rows (binlog_format = ROW); recover to a point before it, or restore the full alone", word))
		return
	}

	m := reshaping.FindStringSubmatch(q)
	if m == nil {
		return
	}

	db, table := string(ev.Schema), m[1]
	if d, t, ok := splitQualified(m[1]); ok {
		db, table = d, t
	}

	// A table the full lacks is refused by its rows alone.
	if full := unquote(db) + "." + unquote(table); c.m.byName[full] != nil {
		c.altered[full] = leadingWord.FindString(head) + " TABLE" // not the text: it may hold values
	}
}

func (c *replayCheck) rows(ev *replication.RowsEvent) {
	full := string(ev.Table.Schema) + "." + string(ev.Table.Table)

	if stmt, ok := c.altered[full]; ok {
		c.problem(full, fmt.Sprintf("%s was reshaped after the full backup (by %s) and the binlog changes its rows after that: the masking rules were compiled for the full's columns; take a full backup (lifeboat backup %s --type full) and recover from it, or recover to a point before the change", full, stmt, c.source))
		return
	}

	tm, _, err := (&maskedSQL{m: c.m}).table(ev)
	if err != nil {
		c.problem(full, err.Error())
		return
	}

	for i, f := range tm.fields {
		if cs := tm.charsets[i]; f != nil && cs != "" && decoders[cs] == nil && c.m.bytes[cs] == nil {
			c.problem(full+"."+tm.table.Cols[i].Name, fmt.Sprintf("%s.%s is masked and in the %s character set, which a masked replay cannot decode: convert the column to utf8mb4, or recover to the full alone", full, tm.table.Cols[i].Name, cs))
		}
	}
}

// splitQualified splits `db`.`table` (either part quoted or not).
func splitQualified(name string) (string, string, bool) {
	if strings.HasPrefix(name, "`") {
		end := 1
		for end < len(name) {
			if name[end] == '`' {
				if end+1 < len(name) && name[end+1] == '`' {
					end += 2
					continue
				}

				break
			}
			end++
		}

		if end+1 < len(name) && name[end+1] == '.' {
			return name[:end+1], name[end+2:], true
		}

		return "", "", false
	}

	db, table, ok := strings.Cut(name, ".")

	return db, table, ok
}

// unquote removes an identifier's backquotes.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}

	return s
}

// maskedSQL turns a filtered binlog stream into SQL with masked rows.
type maskedSQL struct {
	m      *masking
	rename map[string]string
	w      *bufio.Writer
	buf    []byte
	// err is the first write that failed (the client gone): the replay
	// stops there.
	err error
}

func (x *maskedSQL) stmt(s string) {
	if _, err := x.w.WriteString(s + "\n" + replayDelimiter + "\n"); err != nil && x.err == nil {
		x.err = err
	}
}

func (x *maskedSQL) write(r io.Reader, w io.Writer, sqlMode string) error {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return fmt.Errorf("read the binlog: %w", err)
	}

	x.w = bufio.NewWriterSize(w, 1<<20)
	if _, err := x.w.WriteString("DELIMITER " + replayDelimiter + "\n"); err != nil {
		return err
	}
	x.stmt("SET NAMES utf8mb4")
	x.stmt("SET time_zone = '+00:00'")
	x.stmt("SET SESSION sql_mode = " + quoteString(loadMode(sqlMode)))

	p := replication.NewBinlogParser()
	p.SetFlavor("mariadb")
	p.SetTimestampStringLocation(time.UTC)
	p.SetVerifyChecksum(false)

	err := p.ParseReader(r, func(e *replication.BinlogEvent) error {
		switch ev := e.Event.(type) {
		case *replication.MariadbGTIDEvent:
			if !ev.IsStandalone() {
				x.stmt("BEGIN")
			}
		case *replication.XIDEvent:
			x.stmt("COMMIT")
		case *replication.QueryEvent:
			if err := x.query(ev, e.Header.Timestamp); err != nil {
				return err
			}
		case *replication.RowsEvent:
			if err := x.rows(ev); err != nil {
				return err
			}
		}

		return x.err
	})
	if err != nil {
		return fmt.Errorf("decode the binlog: %w", err)
	}

	return x.w.Flush()
}

// query writes a statement of the binlog: transaction bounds and
// definitions. A change logged as a statement (binlog_format STATEMENT or
// MIXED) carries its values in its text, which cannot be masked: it is
// refused rather than replayed unmasked.
func (x *maskedSQL) query(ev *replication.QueryEvent, ts uint32) error {
	q := strings.TrimSpace(string(ev.Query))

	switch strings.ToUpper(q) {
	case "BEGIN", "COMMIT", "ROLLBACK":
		x.stmt(strings.ToUpper(q))
		return nil
	}

	head := strings.ToUpper(q)
	if m := versionComment.FindStringIndex(head); m != nil {
		head = strings.TrimSpace(head[m[1]:])
	}

	switch leadingWord.FindString(head) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD":
		return fmt.Errorf("the binlog holds a change logged as a statement (%q): its values cannot be masked, so the masked replay stops; the server must log rows (binlog_format = ROW)", truncate(leadingWord.FindString(head)+" ...", 20))
	}

	if len(ev.Schema) > 0 {
		x.stmt("USE " + quoteIdent(string(ev.Schema)))
	}

	x.stmt("SET TIMESTAMP = " + strconv.FormatUint(uint64(ts), 10))
	x.stmt(q)

	return nil
}

// replayTable is a table's mask with each binlog column's place among the
// dumped (stored) columns, -1 for a generated one.
func (x *maskedSQL) table(ev *replication.RowsEvent) (*tableMask, []int, error) {
	db, name := string(ev.Table.Schema), string(ev.Table.Table)

	tm := x.m.byName[db+"."+name]
	if tm == nil {
		return nil, nil, fmt.Errorf("rows of %s.%s, a table the full backup does not hold (created after it): a masked point-in-time restore cannot tell what to mask in it; take a full backup and recover from that", db, name)
	}

	if int(ev.ColumnCount) != len(tm.all) {
		return nil, nil, fmt.Errorf("rows of %s.%s have %d columns and the full backup's table %d: the table changed after the full; take a full backup and recover from that", db, name, ev.ColumnCount, len(tm.all))
	}

	stored := make([]int, len(tm.all))
	prefix := db + "." + name + "."

	for i, c := range tm.all {
		stored[i] = -1

		for j, sc := range tm.table.Cols {
			if prefix+sc.Name == c.Name {
				stored[i] = j
			}
		}
	}

	return tm, stored, nil
}

func (x *maskedSQL) rows(ev *replication.RowsEvent) error {
	tm, stored, err := x.table(ev)
	if err != nil {
		return err
	}

	db := string(ev.Table.Schema)
	if to, ok := x.rename[db]; ok {
		db = to
	}

	target := quoteIdent(db) + "." + quoteIdent(tm.table.Name)

	switch ev.Type() {
	case replication.EnumRowsEventTypeInsert:
		return x.insert(target, tm, stored, ev.Rows)
	case replication.EnumRowsEventTypeDelete:
		for _, row := range ev.Rows {
			where, err := x.where(tm, stored, row)
			if err != nil {
				return err
			}

			x.stmt("DELETE FROM " + target + " WHERE " + where + " LIMIT 1")
		}
	case replication.EnumRowsEventTypeUpdate:
		for i := 0; i+1 < len(ev.Rows); i += 2 {
			where, err := x.where(tm, stored, ev.Rows[i])
			if err != nil {
				return err
			}

			var set []string

			for c, v := range ev.Rows[i+1] {
				if stored[c] < 0 {
					continue
				}

				lit, err := x.literal(tm, stored[c], v)
				if err != nil {
					return err
				}

				set = append(set, quoteIdent(tm.table.Cols[stored[c]].Name)+" = "+lit)
			}

			x.stmt("UPDATE " + target + " SET " + strings.Join(set, ", ") + " WHERE " + where + " LIMIT 1")
		}
	}

	return nil
}

func (x *maskedSQL) insert(target string, tm *tableMask, stored []int, rows [][]any) error {
	cols := make([]string, len(tm.table.Cols))
	for i, c := range tm.table.Cols {
		cols[i] = quoteIdent(c.Name)
	}

	var b strings.Builder

	b.WriteString("INSERT INTO " + target + " (" + strings.Join(cols, ",") + ") VALUES ")

	for n, row := range rows {
		if n > 0 {
			b.WriteByte(',')
		}

		vals := make([]string, len(tm.table.Cols))

		for c, v := range row {
			if stored[c] < 0 {
				continue
			}

			lit, err := x.literal(tm, stored[c], v)
			if err != nil {
				return err
			}

			vals[stored[c]] = lit
		}

		b.WriteString("(" + strings.Join(vals, ",") + ")")
	}

	x.stmt(b.String())

	return nil
}

// where finds a row by its (masked) before image: its primary key, else
// every stored column.
func (x *maskedSQL) where(tm *tableMask, stored []int, row []any) (string, error) {
	pk := map[string]bool{}
	for _, c := range tm.table.PK {
		pk[c] = true
	}

	var conds []string

	for c, v := range row {
		if stored[c] < 0 {
			continue
		}

		col := tm.table.Cols[stored[c]]
		if len(pk) > 0 && !pk[col.Name] {
			continue
		}

		lit, err := x.literal(tm, stored[c], v)
		if err != nil {
			return "", err
		}

		conds = append(conds, quoteIdent(col.Name)+" <=> "+lit)
	}

	return strings.Join(conds, " AND "), nil
}

// literal renders the value of dumped column i, masked when it has a rule.
func (x *maskedSQL) literal(tm *tableMask, i int, v any) (string, error) {
	col := tm.table.Cols[i]

	// A replayed value is derived as the full's rows were, without the
	// full's collision record: the rows it replaces are gone from the
	// target, whose unique keys judge what the replay writes.
	var f interface {
		Derive([]byte) ([]byte, bool, error)
	}

	if tm.fields != nil && tm.fields[i] != nil {
		f = tm.fields[i]
	}

	raw, null, number := valueText(v, col.Type, tm.unsigned(col.Name))

	if f == nil && number {
		return string(raw), nil
	}

	if cs := tm.charsets[i]; cs != "" && !null && !number {
		if f == nil {
			return charsetLiteral(cs, raw), nil
		}

		// The full's dump read this column as utf8mb4: mask the same text.
		text, err := x.m.bytes.decodeText(cs, raw)
		if err != nil {
			return "", fmt.Errorf("%s.%s: %w", tm.table.Name, col.Name, err)
		}

		raw = text
	}

	if f != nil {
		var err error
		if raw, null, err = f.Derive(raw); err != nil {
			return "", err
		}
	}

	x.buf = appendValue(x.buf[:0], raw, null, kindOf(col.Type))

	return string(x.buf), nil
}

// unsigned reports whether the named column is unsigned.
func (tm *tableMask) unsigned(name string) bool {
	for _, c := range tm.all {
		if strings.HasSuffix(c.Name, "."+name) && c.Name[len(c.Name)-len(name)-1] == '.' {
			return c.Unsigned
		}
	}

	return false
}

// valueText is a decoded binlog value as the server prints it; number is
// set for a bare number (ENUM and SET come as their index and bits).
func valueText(v any, typ string, unsigned bool) ([]byte, bool, bool) {
	bits := map[string]uint{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}[typ]

	signed := func(n int64) ([]byte, bool, bool) {
		if unsigned && n < 0 && bits > 0 {
			u := uint64(n)
			if bits < 64 {
				u &= 1<<bits - 1
			}

			return strconv.AppendUint(nil, u, 10), false, true
		}

		return strconv.AppendInt(nil, n, 10), false, true
	}

	switch x := v.(type) {
	case nil:
		return nil, true, false
	case int8:
		return signed(int64(x))
	case int16:
		return signed(int64(x))
	case int32:
		return signed(int64(x))
	case int64:
		return signed(x)
	case int:
		return signed(int64(x))
	case uint8, uint16, uint32, uint64, uint:
		return []byte(fmt.Sprint(x)), false, true
	case float32:
		return strconv.AppendFloat(nil, float64(x), 'g', -1, 32), false, true
	case float64:
		return strconv.AppendFloat(nil, x, 'g', -1, 64), false, true
	case string:
		return []byte(x), false, false
	case []byte:
		return x, false, false
	}

	return []byte(fmt.Sprint(v)), false, false
}
