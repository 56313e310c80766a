package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/ops"
	"lifeboat/internal/progress"
	"lifeboat/internal/source"
)

// isAddress reports whether src restores to an address (an image source's
// docker://, oci: or docker-archive: target) rather than into a folder.
func isAddress(src source.Source) bool {
	_, ok := src.(source.AddressRestorer)
	return ok
}

// addressRestore is what `restore` was asked for an image source.
type addressRestore struct {
	snapID, target, image string
	overwrite, dryRun     bool
}

// restoreAddress restores a snapshot of an image source to a registry, an
// OCI layout or a docker archive.
func (a *App) restoreAddress(cmd *cobra.Command, j *jsonOut, cfg *config.Config, s source.Source, ar addressRestore) error {
	name, target := s.Name(), ar.target

	if target == "" {
		return usage("restore: --target is required: docker://HOST/NAME:TAG, oci:DIR or docker-archive:FILE")
	}

	// Checked again by the restore; here, before the repository is opened,
	// so a wrong target is told at once.
	if err := s.(source.AddressRestorer).CheckAddress(target, ar.overwrite); err != nil {
		return err
	}

	_, r, err := a.openRepo(cmd.Context())
	if err != nil {
		return err
	}
	defer r.Close(cmd.Context())

	if ar.dryRun {
		snap, err := r.Find(cmd.Context(), name, ar.snapID)
		if err != nil {
			return err
		}

		what := "its images"
		if ar.image != "" {
			what = "the image " + ar.image
		}

		fmt.Fprintf(a.Stdout, "would restore %s of %s snapshot %s (%s) to %s; nothing written\n",
			what, name, shortID(snap.ID), snap.Time.Local().Format("2006-01-02 15:04:05"), target)

		return nil
	}

	req := ops.Restore{
		Source: name, Snapshot: ar.snapID, Target: target, Overwrite: ar.overwrite, Image: ar.image, Asked: asked(),
		FromCopy: a.copyRetry(cfg, r, name, func(err error) bool { return ExitCode(err) == ExitFailed }),
	}

	e := a.executor(cfg, r, []source.Source{s}, runName(cmd, []string{name}))

	res, err := e.Restore(cmd.Context(), req, j.observe(a.perRun(func(ops.Event) string { return "restore " + name }).observe))
	if err != nil {
		return err
	}

	if j.on {
		out := a.folderRestoreJSON(name, target, res)
		out.Kind = config.KindImage

		return j.emit(out)
	}

	snap, st := res.Snapshot, res.Restored.Stats
	fmt.Fprintf(a.Stdout, "restored %s snapshot %s (%s) to %s: %d blobs, %s, every digest checked, in %s\n",
		name, shortID(snap.ID), snap.Time.Local().Format("2006-01-02 15:04:05"), target, st.Files, progress.Bytes(st.Bytes), seconds(res.Took))

	return nil
}
