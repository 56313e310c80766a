package mysql

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"lifeboat/internal/binlog"
	"lifeboat/internal/config"
	"lifeboat/internal/repo"
	"lifeboat/internal/scratchdb"
	"lifeboat/internal/source"
)

// pointLogicalDatadir recovers into an empty data directory from a logical
// full (no physical backup reaches the target): a new server's system
// tables are created there, a private server started on it takes the full
// and the binlog as the source's own server would, and is shut down
// cleanly, leaving a data directory the user starts a server on.
func (s *Source) pointLogicalDatadir(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, opt PITROptions, choice string) (*PITRReport, error) {
	if opt.DryRun {
		opt.Datadir = ""

		rep, err := s.pointLogical(ctx, r, arch, plan, opt)
		if rep != nil {
			rep.Choice = choice
		}

		return rep, err
	}

	datadir, err := filepath.Abs(opt.Datadir)
	if err != nil {
		return nil, err
	}

	empty, err := source.IsEmptyDir(datadir)
	if err != nil {
		return nil, err
	}

	if !empty {
		return nil, fmt.Errorf("%w: %s holds files; a recovery into a data directory needs an empty or new one", source.ErrTargetNotEmpty, datadir)
	}

	_, statErr := os.Stat(datadir)
	created := errors.Is(statErr, os.ErrNotExist)

	rep, err := s.loadIntoNewServer(ctx, r, arch, plan, opt, datadir)
	if err != nil {
		clearDir(datadir, created)
		return rep, err
	}

	rep.Choice = choice
	rep.Restore.Datadir = datadir
	rep.Restore.Physical = fmt.Sprintf("logical full %s loaded into a new server in %s (%d tables, %d rows, checksums match); start a server with --datadir=%s",
		shortID(plan.Full.Snap.ID), datadir, rep.Restore.Tables, rep.Restore.Rows, datadir)

	return rep, nil
}

func (s *Source) loadIntoNewServer(ctx context.Context, r *repo.Repository, arch *binlog.Archive, plan *binlog.Plan, opt PITROptions, datadir string) (*PITRReport, error) {
	if err := scratchdb.Init(ctx, datadir); err != nil {
		return nil, err
	}

	srv, err := scratchdb.Start(ctx, datadir, scratchdb.Options{})
	if err != nil {
		return nil, err
	}

	rep, err := s.scratchTarget(srv).pointLogical(ctx, r, arch, plan, PITROptions{
		DatabaseRestoreOptions: source.DatabaseRestoreOptions{Version: opt.Version, Progress: opt.Progress},
		Target:                 opt.Target, Out: opt.Out, Log: opt.Log,
	})

	if stopErr := srv.Stop(context.WithoutCancel(ctx)); err == nil && stopErr != nil {
		err = stopErr
	}

	// What the private server wrote belongs to the data directory's owner.
	if ownErr := matchOwner(datadir); err == nil {
		err = ownErr
	}

	if err != nil {
		return rep, fmt.Errorf("%w (server log: %s)", err, srv.LogTail())
	}

	return rep, nil
}

// scratchTarget is this source pointed at a private server: the same name
// (its backups and archive) and databases, root over the server's socket.
func (s *Source) scratchTarget(srv *scratchdb.Server) *Source {
	cfg := *s.cfg
	cfg.MySQL = config.MySQL{
		Socket: srv.Socket, Host: "127.0.0.1", Port: srv.Port, User: "root",
		Databases: s.cfg.MySQL.Databases, Workers: s.cfg.MySQL.Workers, Binlog: s.cfg.MySQL.Binlog,
	}

	return &Source{cfg: &cfg, getenv: func(string) string { return "" }, Clock: s.Clock}
}
