package cli

import (
	"context"
	"fmt"
	"sync"

	"lifeboat/internal/config"
	"lifeboat/internal/repo"
)

// rekeyFollower gives a long-running binlog streamer the repository to
// write into: the one it opened until a rekey switches it, then the new one,
// opened with the password read again from its source (repository.
// password_file or password_command hold the new one by then; a password
// from the environment means a restart with the new one). It keeps the
// index small in whichever is current.
type rekeyFollower struct {
	a   *App
	cfg *config.Config
	ctx context.Context
	idx *sync.WaitGroup

	mu       sync.Mutex
	cur      *repo.Repository
	stopIdx  context.CancelFunc
	replaced []*repo.Repository
}

func (a *App) followRekey(ctx context.Context, cfg *config.Config, r *repo.Repository, idx *sync.WaitGroup) *rekeyFollower {
	f := &rekeyFollower{a: a, cfg: cfg, ctx: ctx, idx: idx, cur: r}
	f.keepSmall(r)

	return f
}

func (f *rekeyFollower) keepSmall(r *repo.Repository) {
	if f.stopIdx != nil {
		f.stopIdx()
	}

	ctx, stop := context.WithCancel(f.ctx)
	f.stopIdx = stop

	f.idx.Go(func() { r.KeepIndexSmall(ctx, f.a.log) })
}

// current is the repository to write into now.
func (f *rekeyFollower) current(ctx context.Context) (*repo.Repository, error) {
	f.mu.Lock()
	defer f.mu.Unlock()

	moved, err := f.cur.Moved(ctx)
	if err != nil || !moved {
		return f.cur, err
	}

	where, err := f.a.storage(f.cfg)
	if err != nil {
		return nil, err
	}

	pw, err := f.a.password(f.cfg, false)
	if err != nil {
		return nil, err
	}

	nr, err := repo.OpenAt(ctx, where, pw, f.a.log)
	if err != nil {
		return nil, fmt.Errorf("the repository was rekeyed, and the new one does not open: %w; put its password where repository.password_file or password_command reads it (the stream retries), or restart the stream with it", err)
	}

	nr.GuardRekey()
	f.a.log.Warn("the repository was rekeyed: archiving into the new one from where its archive ends", "repository", nr.Path(), "id", nr.ID())

	f.replaced = append(f.replaced, f.cur)
	f.cur = nr
	f.keepSmall(nr)

	return nr, nil
}

// close closes the repositories it opened (the first is its opener's).
func (f *rekeyFollower) close() {
	f.mu.Lock()
	defer f.mu.Unlock()

	if f.stopIdx != nil {
		f.stopIdx()
	}

	f.idx.Wait()

	for _, r := range f.replaced[min(1, len(f.replaced)):] {
		r.Close(context.Background())
	}

	if len(f.replaced) > 0 {
		f.cur.Close(context.Background())
	}
}

// printNewPasswordPlace says where the new password goes after a rekey's
// switch, for the commands to come and for a streamer running now.
func (a *App) printNewPasswordPlace(cfg *config.Config) {
	switch {
	case cfg.Repository.PasswordFile != "":
		fmt.Fprintf(a.Stdout, "Put the new password in %s (repository.password_file): every command reads it there, and a running binlog streamer picks it up and goes on in the new repository.\n", cfg.Repository.PasswordFile)
	case cfg.Repository.PasswordCommand != "":
		fmt.Fprintln(a.Stdout, "Store the new password where repository.password_command reads it: every command, and a running binlog streamer, read it there.")
	default:
		fmt.Fprintf(a.Stdout, "Give the new password ($%s) to every command from now on, and restart a running binlog streamer or daemon with it.\n", EnvPassword)
	}
}
