package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"lifeboat/internal/mask"
	"lifeboat/internal/source"
)

// scanSample is how many values of a column a scan reads.
const scanSample = 200

// MaskScan finds the columns of the source's databases that look like
// personal data: by name, else by a sample of their values (email and
// phone patterns, card numbers passing the Luhn check, IP addresses). It
// only reads.
func (s *Source) MaskScan(ctx context.Context) ([]source.MaskFinding, error) {
	name, my := s.cfg.Name, s.cfg.MySQL

	pool, err := connect(ctx, name, my, s.getenv)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	dbs, err := userDatabases(ctx, pool, my.Databases)
	if err != nil {
		return nil, explain(name, my, err)
	}

	var out []source.MaskFinding

	for _, db := range dbs {
		found, err := s.scanDatabase(ctx, pool, db)
		if err != nil {
			return nil, err
		}

		out = append(out, found...)
	}

	return out, nil
}

func (s *Source) scanDatabase(ctx context.Context, pool *sql.DB, db string) ([]source.MaskFinding, error) {
	rows, err := pool.QueryContext(ctx, "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME WHERE c.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE' AND COALESCE(c.GENERATION_EXPRESSION, '') = '' ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION", db)
	if err != nil {
		return nil, fmt.Errorf("list the columns of %s: %w", db, err)
	}

	type col struct{ table, name, typ string }

	var cols []col

	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.name, &c.typ); err != nil {
			rows.Close()
			return nil, err
		}

		cols = append(cols, c)
	}

	rows.Close()

	var out []source.MaskFinding

	for _, c := range cols {
		full := db + "." + c.table + "." + c.name
		f, ok := mask.ByName(c.name, c.typ)

		if !ok && sampled(c.typ) {
			vals, err := strings1(ctx, pool, fmt.Sprintf("SELECT CAST(%s AS CHAR) FROM %s.%s WHERE %s IS NOT NULL LIMIT %d", quoteIdent(c.name), quoteIdent(db), quoteIdent(c.table), quoteIdent(c.name), scanSample))
			if err != nil {
				return nil, fmt.Errorf("sample %s: %w", full, err)
			}

			f, ok = mask.ByValues(vals)
		}

		if !ok {
			continue
		}

		ruled := ""
		if m := s.cfg.MySQL.Masking; m != nil {
			if spec, has := m.Rules[full]; has {
				ruled = spec.String()
			}
		}

		out = append(out, source.MaskFinding{Column: full, Type: c.typ, Rule: f.Rule, Reason: f.Reason, Ruled: ruled})
	}

	return out, nil
}

// sampled reports whether a scan samples a column of this type: text that
// could hold an address, a number or a card; dates and lists cannot.
func sampled(typ string) bool {
	switch typ {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return true
	}

	return false
}
