package mysql

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"lifeboat/internal/repo"
)

// Export writes a snapshot as one SQL script the stock mariadb/mysql client
// loads, so the data outlives the tool. A one-database snapshot has no
// CREATE DATABASE or USE, so it loads into any database
// (`gunzip -c FILE | mariadb DB`, as the guide does); several databases are
// created under their own names.
func Export(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, w io.Writer) error {
	meta, err := LoadMeta(snap)
	if err != nil {
		return err
	}

	return export(ctx, r, snap, meta, w, nil)
}

// ExportMasked is Export with every column that has a masking rule masked
// as its rows are read from the repository: no unmasked row is written.
func (s *Source) ExportMasked(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, w io.Writer) error {
	meta, err := LoadMeta(snap)
	if err != nil {
		return err
	}

	m, err := s.newMasking(ctx, r, meta)
	if err != nil {
		return err
	}

	if err := export(ctx, r, snap, meta, w, m); err != nil {
		return err
	}

	return s.remember(ctx, r, m)
}

// export writes the script; m, when set, masks the rows.
func export(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, meta *Meta, w io.Writer, m *masking) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	mode := loadMode(meta.SQLMode)

	// The stock client runs commands of its own (\! runs a shell command);
	// MariaDB's clients refuse them after this line, as they do in
	// mariadb-dump's files, and other clients and servers read a comment.
	p("/*M!999999\\- enable the sandbox mode */\n")

	// Everything in a comment that was not written by Lifeboat itself goes
	// through commentText, so it cannot end the comment.
	p("-- Lifeboat export of source %s, snapshot %s\n", commentText(snap.Source), commentText(snap.ID))
	p("-- Consistent at %s UTC on %s", commentText(meta.ConsistentAt), commentText(meta.ServerVersion))

	if meta.BinlogFile != "" {
		p("; binlog %s:%d", commentText(meta.BinlogFile), meta.BinlogPos)
	}

	if meta.GTID != "" {
		p("; GTID %s", commentText(meta.GTID))
	}

	if m != nil {
		p("\n-- Masked copy: %s", commentText(m.describe()))
	}

	p("\n\n/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n")
	p("/*!40101 SET NAMES utf8mb4 */;\n")
	p("/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE, TIME_ZONE='+00:00' */;\n")
	p("/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n")
	p("/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n")
	p("SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE=%s;\n", quoteString(mode))

	for _, db := range meta.Databases {
		if len(meta.Databases) > 1 {
			p("\nCREATE DATABASE IF NOT EXISTS %s CHARACTER SET %s COLLATE %s;\nUSE %s;\n", quoteIdent(db.Name), quoteIdent(db.Charset), quoteIdent(db.Collation), quoteIdent(db.Name))
		}

		for _, t := range db.Tables {
			p("\n-- table %s: %d rows, %s\nDROP TABLE IF EXISTS %s;\n%s;\n", commentText(t.Name), t.Rows, commentText(t.Checksum), quoteIdent(t.Name), t.Create)

			if err := bw.Flush(); err != nil {
				return err
			}

			if err := exportRows(ctx, r, snap, db, t, bw, m.of(t)); err != nil {
				return fmt.Errorf("export %s.%s: %w", db.Name, t.Name, err)
			}
		}

		for _, o := range orderObjects(db.Objects) {
			p("\n")

			if o.Kind == "view" {
				p("DROP VIEW IF EXISTS %s;\n", quoteIdent(o.Name))
			} else {
				p("DROP %s IF EXISTS %s;\n", strings.ToUpper(o.Kind), quoteIdent(o.Name))
			}

			if o.Charset != "" {
				p("SET character_set_client = %s;\n", quoteString(o.Charset))
			}

			if o.Collation != "" {
				p("SET collation_connection = %s;\n", quoteString(o.Collation))
			}

			if o.Kind != "view" {
				// A delimiter the definition does not hold, alone on its
				// line: a comment at the end of a body cannot hide it.
				d := delimiterFor(o.Create)
				p("SET SQL_MODE = %s;\nDELIMITER %s\n%s\n%s\nDELIMITER ;\n", quoteString(o.SQLMode), d, o.Create, d)
			} else {
				p("%s;\n", o.Create)
			}

			p("SET NAMES utf8mb4;\nSET SQL_MODE=%s;\n", quoteString(mode))
		}
	}

	p("\nSET SQL_MODE=@OLD_SQL_MODE;\n")
	p("/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n")
	p("/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n")
	p("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n")
	p("/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n")
	p("-- end of export\n")

	return bw.Flush()
}

// exportRows writes a table's data files, masked by tm when set.
func exportRows(ctx context.Context, r *repo.Repository, snap *repo.Snapshot, db *Database, t *Table, w *bufio.Writer, tm *tableMask) error {
	for _, f := range t.Files(db) {
		if tm == nil {
			if err := r.ReadFile(ctx, snap.ID, f, w); err != nil {
				return err
			}

			continue
		}

		rd, err := r.OpenFile(ctx, snap.ID, f)
		if err != nil {
			return err
		}

		err = maskStatements(rd, w, insertPrefix(t), tm)
		rd.Close()

		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}

	return nil
}

// orderObjects puts objects in creation order: views before the views that
// use them, then functions, procedures, triggers and events. A script cannot
// retry, so the view order comes from which views' definitions name which.
func orderObjects(objs []*Object) []*Object {
	var out []*Object

	var views []*Object

	for _, o := range objs {
		if o.Kind == "view" {
			views = append(views, o)
		}
	}

	placed := map[string]bool{}

	for len(views) > 0 {
		var rest []*Object

		for _, v := range views {
			ready := true

			for _, other := range views {
				if other != v && !placed[other.Name] && strings.Contains(v.Create, quoteIdent(other.Name)) {
					ready = false
				}
			}

			if ready {
				out = append(out, v)
				placed[v.Name] = true
			} else {
				rest = append(rest, v)
			}
		}

		if len(rest) == len(views) {
			out = append(out, rest...) // a cycle cannot be created anyway
			break
		}

		views = rest
	}

	for _, kind := range objectKinds[1:] {
		for _, o := range objs {
			if o.Kind == kind {
				out = append(out, o)
			}
		}
	}

	return out
}
