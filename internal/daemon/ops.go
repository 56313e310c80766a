package daemon

import (
	"context"
	"os"

	"lifeboat/internal/ops"
)

// replicate brings one copy up to date, as `lifeboat replicate` does. An
// offline copy that is not attached is skipped.
func (d *Daemon) replicate(ctx context.Context, name string) error {
	c := d.Cfg.Copies[name]

	res, err := d.executor().Replicate(ctx, ops.Replicate{Copy: c, Password: d.Password, Getenv: d.Getenv}, nil)
	if err != nil {
		return err
	}

	if res.Absent {
		d.Log.Info("offline copy is not attached; skipped", "copy", name, "path", c.Path, "last", res.LastAt)
		return nil
	}

	d.Log.Info("copy brought up to date", "copy", name, "blobs", res.Stats.Blobs, "bytes", res.Stats.Bytes, "present", res.Stats.Present)

	return nil
}

// replicateAfterBackup brings up to date the copies that follow every
// backup.
func (d *Daemon) replicateAfterBackup(ctx context.Context) {
	if d.Ops == nil {
		return
	}

	for _, name := range d.Cfg.CopyNames {
		if d.Cfg.Copies[name].AfterBackup {
			if err := d.replicate(ctx, name); err != nil {
				d.Log.Error("replicate after backup", "copy", name, "err", err)
			}
		}
	}
}

// CopyAudit copies the audit log's new records into the repository, after
// every job and once more when the daemon stops.
func (d *Daemon) CopyAudit(ctx context.Context) {
	if d.Ops == nil || d.Audit == nil {
		return
	}

	d.executor().CopyAudit(ctx, ops.AuditCopy{Log: d.Audit, Warn: os.Stderr})
}
