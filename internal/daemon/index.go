package daemon

import "context"

// keepIndexSmall keeps the repository's index small while the daemon runs
// (repo.KeepIndexSmall).
func (d *Daemon) keepIndexSmall(ctx context.Context) {
	d.Repo.KeepIndexSmall(ctx, d.Log)
}
