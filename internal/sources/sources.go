// Package sources is the one list of the kinds of source this build knows:
// adding an engine is its own package under internal/source plus one line
// here. Everything else reaches an engine through this list and the
// capability interfaces of internal/source, never through its package.
package sources

import (
	"lifeboat/internal/config"
	"lifeboat/internal/source"
	"lifeboat/internal/source/files"
	gitsrc "lifeboat/internal/source/git"
	imagesrc "lifeboat/internal/source/image"
	mysqlsrc "lifeboat/internal/source/mysql"
)

// engine is one kind of source.
type engine struct {
	// new returns the source cfg configures; getenv reads the secrets the
	// configuration names.
	new func(cfg *config.Source, getenv func(string) string) source.Source
	// chain reads how the kind's backups chain, from its snapshots alone;
	// nil when every snapshot restores on its own.
	chain source.Chain
}

var engines = map[string]engine{
	config.KindFiles: {new: func(cfg *config.Source, _ func(string) string) source.Source { return files.New(cfg) }},
	config.KindGit:   {new: func(cfg *config.Source, _ func(string) string) source.Source { return gitsrc.New(cfg) }},
	config.KindImage: {new: func(cfg *config.Source, getenv func(string) string) source.Source { return imagesrc.New(cfg, getenv) }},
	config.KindMySQL: {
		new:   func(cfg *config.Source, getenv func(string) string) source.Source { return mysqlsrc.New(cfg, getenv) },
		chain: mysqlsrc.Binlog{},
	},
}

// New returns the source cfg configures; ok is false for a type this build
// does not know.
func New(cfg *config.Source, getenv func(string) string) (src source.Source, ok bool) {
	e, ok := engines[cfg.Type]
	if !ok {
		return nil, false
	}

	return e.new(cfg, getenv), true
}

// ChainOf returns how snapshots of kind chain; ok is false for a kind whose
// snapshots each restore on their own.
func ChainOf(kind string) (chain source.Chain, ok bool) {
	e := engines[kind]

	return e.chain, e.chain != nil
}
