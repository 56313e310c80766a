package repo

import (
	"context"
	"fmt"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/fs/ignorefs"
	"github.com/kopia/kopia/snapshot/policy"
)

// TreeCount is what a backup of a TreeSpec would read: the files (and
// their bytes) its include and exclude rules let through.
type TreeCount struct {
	Files int64
	Dirs  int64
	Bytes int64
	// Unreadable counts the folders that could not be listed; a backup
	// fails on them unless the source ignores unreadable entries.
	Unreadable int64
}

// CountTree walks spec's roots through the same ignore rules a backup
// applies, and counts what it would read. It needs no repository and
// writes nothing: it is what a backup's dry run reports.
func CountTree(ctx context.Context, spec TreeSpec) (TreeCount, error) {
	root, _, err := buildRoot(spec.Roots)
	if err != nil {
		return TreeCount{}, fmt.Errorf("source %s: %w", spec.Source, err)
	}

	dir, ok := root.(fs.Directory)
	if !ok {
		return TreeCount{}, fmt.Errorf("source %s: the backup's root is not a folder", spec.Source)
	}

	tree := policy.BuildTree(map[string]*policy.Policy{".": uploadPolicy(spec)}, policy.DefaultPolicy)

	var c TreeCount

	err = countDir(ctx, ignorefs.New(dir, tree), &c)

	return c, err
}

func countDir(ctx context.Context, dir fs.Directory, c *TreeCount) error {
	c.Dirs++

	err := fs.IterateEntries(ctx, dir, func(ctx context.Context, e fs.Entry) error {
		switch e := e.(type) {
		case fs.Directory:
			return countDir(ctx, e, c)
		case fs.File:
			c.Files++
			c.Bytes += e.Size()
		}

		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("count files: %w", ctx.Err())
		}

		c.Unreadable++
	}

	return nil
}
