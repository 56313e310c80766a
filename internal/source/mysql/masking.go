package mysql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"lifeboat/internal/config"
	"lifeboat/internal/mask"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// masking is a masked restore's or export's rules compiled against one
// snapshot's tables: every value of a ruled column is replaced on its way
// from the repository to the server or the file.
type masking struct {
	tables map[*Table]*tableMask
	// byName finds a table's mask by db.table (the binlog replay's rows).
	byName map[string]*tableMask
	// columns is every column of the snapshot as db.table.column (the
	// baseline a later schema is compared with).
	columns []string
	rulesID string
	strict  bool
	// bytes are the server's tables of the single-byte character sets
	// of masked columns, for a replay (checkMaskedReplay loads them).
	bytes byteTables
}

// tableMask masks one table's rows: fields[i] masks column i of the dump
// (nil: kept as it is).
type tableMask struct {
	table  *Table
	fields []*mask.Field
	kinds  []valueKind
	// all is every column of the table's definition, generated ones too,
	// as the binlog's row images hold them.
	all []mask.Column
	// charsets are the columns' character sets other than UTF-8 ones,
	// which a replayed row's text is decoded from (columnCharsets).
	charsets []string
	// inexact is set when a masked column is a FLOAT or DOUBLE, whose
	// value the server may store rounded: its checksum is not compared.
	inexact bool

	mu  sync.Mutex
	sum rowSum
}

// maskState is the state kind recording the columns the masking rules were
// first applied to, for the schema-drift check.
const maskState = "masking"

// maskBaseline is the schema the rules (by their digest) were first used on.
type maskBaseline struct {
	Rules   string `record:"rules"`
	Columns string `record:"columns"`
}

// newMasking compiles the source's rules for meta's tables. In strict mode
// it refuses a column that looks like personal data and has no rule, a
// column added since the rules were first used (read from r), and a rule
// naming a column the snapshot does not have.
func (s *Source) newMasking(ctx context.Context, r *repo.Repository, meta *Meta) (*masking, error) {
	cfg := s.cfg.MySQL.Masking
	if cfg == nil {
		return nil, fmt.Errorf("source %s has no masking rules: add masking: {key_env: ..., rules: {...}} to it (lifeboat mask scan %s prints a starting set)", s.cfg.Name, s.cfg.Name)
	}

	key, err := cfg.Key(s.getenv)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", s.cfg.Name, err)
	}

	mk, err := mask.New(key)
	if err != nil {
		return nil, err
	}

	m := &masking{tables: map[*Table]*tableMask{}, byName: map[string]*tableMask{}, rulesID: rulesDigest(cfg), strict: cfg.Mode == config.MaskStrict}
	used := map[string]bool{}

	var (
		unruled []string
		errs    []string
	)

	for _, db := range meta.Databases {
		for _, t := range db.Tables {
			tm, err := m.table(mk, cfg, db.Name, t, used, &unruled)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}

			m.tables[t] = tm
			m.byName[db.Name+"."+t.Name] = tm
		}
	}

	if len(errs) > 0 {
		return nil, fmt.Errorf("source %s: masking rules: %s", s.cfg.Name, strings.Join(errs, "; "))
	}

	if cfg.Mode != config.MaskStrict {
		return m, nil
	}

	if err := s.strict(ctx, r, m, cfg, used, unruled); err != nil {
		return nil, err
	}

	return m, nil
}

// table compiles the rules of one table, and notes its unruled columns that
// look personal.
func (m *masking) table(mk *mask.Masker, cfg *config.Masking, db string, t *Table, used map[string]bool, unruled *[]string) (*tableMask, error) {
	all := tableColumns(db, t)
	byName := map[string]mask.Column{}

	for _, c := range all {
		byName[c.Name] = c
	}

	tm := &tableMask{table: t, fields: make([]*mask.Field, len(t.Cols)), kinds: make([]valueKind, len(t.Cols)), all: all, charsets: columnCharsets(t)}

	for i, c := range t.Cols {
		full := db + "." + t.Name + "." + c.Name
		m.columns = append(m.columns, full)
		tm.kinds[i] = kindOf(c.Type)

		spec, ok := cfg.Rules[full]
		if !ok {
			if _, personal := mask.ByName(c.Name, c.Type); personal {
				*unruled = append(*unruled, full)
			}

			continue
		}

		used[full] = true

		if spec.Kind == "keep" {
			continue
		}

		if tm.kinds[i] == kindBit {
			return nil, fmt.Errorf("%s is a BIT column: only keep applies to it", full)
		}

		col := byName[full]
		col.Type = c.Type

		f, err := mk.Field(spec, col)
		if err != nil {
			return nil, err
		}

		tm.fields[i] = f

		if c.Type == "float" || c.Type == "double" || c.Type == "real" {
			tm.inexact = true
		}
	}

	for _, f := range tm.fields {
		if f != nil {
			return tm, nil
		}
	}

	// Nothing to mask: rows go through as they are.
	tm.fields = nil

	return tm, nil
}

// strict refuses what strict mode does not let through, naming every column.
func (s *Source) strict(ctx context.Context, r *repo.Repository, m *masking, cfg *config.Masking, used map[string]bool, unruled []string) error {
	var missing []string

	for _, c := range cfg.RuleColumns() {
		if !used[c] {
			missing = append(missing, c)
		}
	}

	var problems []string

	if len(unruled) > 0 {
		problems = append(problems, fmt.Sprintf("these columns look like personal data and have no masking rule: %s (add a rule for each, or `keep` for one that is not personal; lifeboat mask scan %s suggests rules)", strings.Join(unruled, ", "), s.cfg.Name))
	}

	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("rules name columns the backup does not have: %s (a typo, or a column since dropped: fix or remove the rule)", strings.Join(missing, ", ")))
	}

	base, ok, err := records.State[maskBaseline](ctx, r, s.cfg.Name, maskState)
	if err != nil {
		return fmt.Errorf("source %s: read the masking baseline: %w", s.cfg.Name, err)
	}

	if ok && base.Rules == m.rulesID {
		known := map[string]bool{}
		for _, c := range strings.Split(base.Columns, "\n") {
			known[c] = true
		}

		var added []string

		for _, c := range m.columns {
			if !known[c] && !used[c] {
				added = append(added, c)
			}
		}

		if len(added) > 0 {
			problems = append(problems, fmt.Sprintf("these columns were added since the masking rules were written and are not classified: %s (add a rule for each, or `keep`)", strings.Join(added, ", ")))
		}
	}

	if len(problems) > 0 {
		return fmt.Errorf("source %s: strict masking refuses this masked copy, and nothing was written: %s", s.cfg.Name, strings.Join(problems, "; "))
	}

	return nil
}

// remember records the schema the rules were applied to, the first time
// they are: a column added later is then told apart.
func (s *Source) remember(ctx context.Context, r *repo.Repository, m *masking) error {
	if !m.strict {
		return nil
	}

	base, ok, err := records.State[maskBaseline](ctx, r, s.cfg.Name, maskState)
	if err != nil || (ok && base.Rules == m.rulesID) {
		return err
	}

	cols := append([]string(nil), m.columns...)
	sort.Strings(cols)

	return records.PutState(ctx, r, s.cfg.Name, maskState, maskBaseline{Rules: m.rulesID, Columns: strings.Join(cols, "\n")})
}

// rulesDigest identifies a set of rules (not the key).
func rulesDigest(cfg *config.Masking) string {
	h := sha256.New()
	for _, c := range cfg.RuleColumns() {
		fmt.Fprintf(h, "%s=%s\n", c, cfg.Rules[c])
	}

	return hex.EncodeToString(h.Sum(nil))[:16]
}

var (
	columnLine = regexp.MustCompile("^\\s*(`(?:[^`]|``)+`)\\s+([a-z]+)(?:\\(([^)]*)\\))?(.*)$")
	keyLine    = regexp.MustCompile("^\\s*(?:PRIMARY KEY|UNIQUE KEY\\s+`(?:[^`]|``)*`)\\s*\\((.*)\\)")
	keyPart    = regexp.MustCompile("`((?:[^`]|``)+)`")
)

// tableColumns reads every column of a table's definition, generated ones
// included, with what a transformer must respect: length, sign,
// nullability and whether a unique key holds it.
func tableColumns(db string, t *Table) []mask.Column {
	unique := map[string]bool{}

	var cols []mask.Column

	for _, l := range sqlLines(t.Create) {
		if m := keyLine.FindStringSubmatch(l); m != nil {
			for _, p := range keyPart.FindAllStringSubmatch(m[1], -1) {
				unique[strings.ReplaceAll(p[1], "``", "`")] = true
			}

			continue
		}

		m := columnLine.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(strings.TrimSpace(l), "CREATE") {
			continue
		}

		name := strings.ReplaceAll(m[1][1:len(m[1])-1], "``", "`")
		c := mask.Column{Name: name, Type: m[2], Unsigned: strings.Contains(m[4], "unsigned"), Nullable: !strings.Contains(m[4], "NOT NULL")}

		args := strings.Split(m[3], ",")
		switch c.Type {
		case "char", "varchar", "binary", "varbinary", "decimal", "numeric":
			c.Length, _ = strconv.Atoi(strings.TrimSpace(args[0]))
			if len(args) > 1 {
				c.Scale, _ = strconv.Atoi(strings.TrimSpace(args[1]))
			}
		case "tinytext", "tinyblob":
			c.Length = 63
		}

		cols = append(cols, c)
	}

	for i := range cols {
		cols[i].Unique = unique[cols[i].Name]
		cols[i].Name = db + "." + t.Name + "." + cols[i].Name
	}

	return cols
}

// describeMasking is the list of masked columns, for messages.
func (m *masking) describe() string {
	var out []string

	for _, tm := range m.tables {
		for i, f := range tm.fields {
			if f != nil {
				out = append(out, tm.table.Name+"."+tm.table.Cols[i].Name+" ("+f.Rule()+")")
			}
		}
	}

	sort.Strings(out)

	return strings.Join(out, ", ")
}

// of is t's mask, nil when t has nothing to mask (or m is nil).
func (m *masking) of(t *Table) *tableMask {
	if m == nil {
		return nil
	}

	if tm := m.tables[t]; tm != nil && tm.fields != nil {
		return tm
	}

	return nil
}

// expected is the checksum a restored t must have, and whether it can be
// compared: a masked table's is that of its masked rows.
func (m *masking) expected(t *Table) (string, bool) {
	tm := m.of(t)
	if tm == nil {
		return t.Checksum, true
	}

	if tm.inexact {
		return "", false
	}

	tm.mu.Lock()
	defer tm.mu.Unlock()

	return tm.sum.String(), true
}

// maskedRestore prepares a masked restore of plan: the rules compiled and
// checked (strict mode) before anything is written. A masked copy never
// replaces the database it was taken from.
func (s *Source) maskedRestore(ctx context.Context, r *repo.Repository, meta *Meta, plan []plannedDB, opt RestoreOptions) (*masking, error) {
	for _, p := range plan {
		if p.target == p.src.Name && opt.Overwrite && s.cfg.MySQL.Masking != nil {
			return nil, fmt.Errorf("a masked copy never replaces the database it was taken from (%s): restore it under another name with --target-database, or onto another server", p.src.Name)
		}
	}

	return s.newMasking(ctx, r, meta)
}

// bind points m at meta's tables (the same snapshot's, read again), so a
// mask compiled by a caller applies to the tables a restore loads.
func (m *masking) bind(meta *Meta) {
	if m == nil {
		return
	}

	for _, db := range meta.Databases {
		for _, t := range db.Tables {
			if tm := m.byName[db.Name+"."+t.Name]; tm != nil && m.tables[t] == nil {
				tm.table = t
				m.tables[t] = tm
			}
		}
	}
}
