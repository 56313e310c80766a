package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/escrow"
	"lifeboat/internal/health"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// escrowInput is what the holders bring: the kit, and k shares or one
// recipient's private key.
type escrowInput struct {
	kit      string
	shares   []string
	identity string
}

func (e *escrowInput) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&e.kit, "kit", "", "the recovery kit (kit.txt, or the text its QR code gives)")
	cmd.Flags().StringArrayVar(&e.shares, "share", nil, "a holder's share file; repeat for as many as the kit needs")
	cmd.Flags().StringVar(&e.identity, "identity", "", "a recipient's private key: an age identity file or an unencrypted OpenSSH key")
}

// open reads the kit and gives the password back from the shares or the
// identity; method says which, for the record.
func (e *escrowInput) open() (*escrow.Kit, repo.Password, string, error) {
	var none repo.Password

	if e.kit == "" {
		return nil, none, "", usage("give --kit kit.txt")
	}

	if (len(e.shares) > 0) == (e.identity != "") {
		return nil, none, "", usage("give --share FILE (as many as the kit needs) or --identity KEY_FILE, not both")
	}

	b, err := os.ReadFile(e.kit)
	if err != nil {
		return nil, none, "", usage("--kit: %v", err)
	}

	k, err := escrow.ParseKit(string(b))
	if err != nil {
		return nil, none, "", usage("--kit %s: %v", e.kit, err)
	}

	if e.identity != "" {
		return e.openSealed(k)
	}

	var shares []escrow.Share

	for _, f := range e.shares {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, none, "", usage("--share: %v", err)
		}

		s, err := escrow.ParseShare(string(b))
		if err != nil {
			return nil, none, "", usage("--share %s: %v", f, err)
		}

		if k.Shares == nil || s.Split != k.Shares.ID {
			return nil, none, "", usage("--share %s: it belongs to another kit than %s", f, e.kit)
		}

		shares = append(shares, s)
	}

	pw, err := escrow.Combine(shares)
	if err != nil {
		return nil, none, "", usage("%v", err)
	}

	return k, repo.Password{Value: pw, Origin: "the shares"}, fmt.Sprintf("%d of %d shares", len(shares), k.Shares.N), nil
}

func (e *escrowInput) openSealed(k *escrow.Kit) (*escrow.Kit, repo.Password, string, error) {
	var none repo.Password

	if k.Sealed == "" {
		return nil, none, "", usage("--identity: the kit %s has no sealed password, only shares: give --share FILE", e.kit)
	}

	id, err := os.ReadFile(e.identity)
	if err != nil {
		return nil, none, "", usage("--identity: %v", err)
	}

	pw, err := escrow.Open(k.Sealed, id)
	if err != nil {
		return nil, none, "", usage("--identity %s: %v", e.identity, err)
	}

	return k, repo.Password{Value: pw, Origin: "the sealed password"}, "a recipient's private key", nil
}

func (a *App) unsealCommand() *cobra.Command {
	var (
		in  escrowInput
		out string
	)

	cmd := &cobra.Command{
		Use:   "unseal --kit kit.txt (--share FILE... | --identity KEY) --out FILE",
		Short: "Give the repository password back from the kit and k shares or a recipient's key, into a private file",
		Example: "  lifeboat key unseal --kit kit.txt --identity ~/.ssh/id_ed25519 --out password.txt\n" +
			"  lifeboat key unseal --kit kit.txt --share share-1.txt --share share-2.txt --out password.txt",
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if out == "" {
				return usage("give --out FILE: the password is written there (0600), never printed")
			}

			_, pw, _, err := in.open()
			if err != nil {
				return err
			}

			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return usage("--out: %v", err)
			}

			if _, err := f.WriteString(pw.Value + "\n"); err != nil {
				f.Close()
				return err
			}

			if err := f.Close(); err != nil {
				return err
			}

			fmt.Fprintf(a.Stdout, "The password is in %s (readable by you only). Delete it once the restore is done.\n", out)

			return nil
		},
	}

	in.bind(cmd)
	cmd.Flags().StringVar(&out, "out", "", "the file to write the password into (must not exist)")

	return cmd
}

type drillOptions struct {
	in     escrowInput
	source string
	target string
	caFile string
	// pw is the password the escrow gave back, for a database's restore.
	pw string
}

func (a *App) escrowDrillCommand() *cobra.Command {
	var o drillOptions

	cmd := &cobra.Command{
		Use:   "escrow-drill --kit kit.txt (--share FILE... | --identity KEY) [--source NAME] [--target DIR]",
		Short: "Prove the escrow: from the kit and k shares or one recipient's key alone, open the repository and restore a source",
		Long: "Reads neither a configuration file nor LIFEBOAT_PASSWORD: the repository's location and ID come\n" +
			"from the kit, the password from the shares or the key. It opens the repository, checks its ID,\n" +
			"and restores the source's newest backup (default: the kit's first source) into a scratch folder\n" +
			"(removed afterwards unless --target names one). Run it as the holders would: on a machine or\n" +
			"account with an empty HOME. The result is recorded in the repository; status, the metrics and\n" +
			"the compliance report show the last passed drill and warn when it is older than 180 days.",
		Example: "  lifeboat key escrow-drill --kit kit.txt --share share-1.txt --share share-3.txt   # with an empty HOME\n" +
			"  lifeboat key escrow-drill --kit kit.txt --identity ~/.ssh/id_ed25519 --source docs",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runEscrowDrill(cmd.Context(), &o)
		},
	}

	o.in.bind(cmd)
	cmd.Flags().StringVar(&o.source, "source", "", "the source to restore (default: the kit's first)")
	cmd.Flags().StringVar(&o.target, "target", "", "an empty folder to restore into, kept afterwards (default: a scratch folder, removed)")
	cmd.Flags().StringVar(&o.caFile, "s3-ca-file", "", "an S3 repository: trust this CA certificate (PEM)")
	a.ro.mysql.bind(cmd)

	return cmd
}

func (a *App) runEscrowDrill(ctx context.Context, o *drillOptions) error {
	start := a.clock().Now()

	k, pw, method, err := o.in.open()
	if err != nil {
		return err
	}

	loc, err := config.RepositoryAt("the kit", k.Repository.Location, k.Repository.Endpoint, k.Repository.Region, !k.Repository.PlainS3, o.caFile)
	if err != nil {
		return err
	}

	where, err := a.storageOf(&config.Config{Repository: loc}, "repository", loc.Path, loc.S3)
	if err != nil {
		return err
	}

	r, err := repo.OpenAt(ctx, where, pw, a.log)
	if err != nil {
		return fmt.Errorf("escrow drill FAILED: %w", staleKit(ctx, where, k, err))
	}
	defer r.Close(ctx)

	if r.ID() != k.RepositoryID {
		if rk, ok, _ := records.Get[records.PasswordChange](ctx, r, records.KindKey, "rekey"); ok && rk.At.After(k.Created) {
			return fmt.Errorf("escrow drill FAILED: %s (the repository at %s is the new one, ID %s)", health.StaleKit("rekey", rk.At), k.Repository.Location, r.ID())
		}

		return fmt.Errorf("escrow drill FAILED: the repository at %s has ID %s, the kit names %s: the kit is for another repository", k.Repository.Location, r.ID(), k.RepositoryID)
	}

	if moved := kitCopiesMoved(ctx, r, k, loc); moved != "" {
		return fmt.Errorf("escrow drill FAILED: %s", moved)
	}

	o.pw = pw.Value
	rec := records.EscrowDrill{At: start, Method: method}
	stats, snap, target, err := a.drillRestore(ctx, r, k, o)
	rec.Source, rec.Seconds = o.source, a.clock().Now().Sub(start).Seconds()

	if err != nil {
		rec.Problems = err.Error()
	} else {
		rec.OK = true
	}

	if perr := records.Put(ctx, r, records.KindKey, records.KeyEscrowDrill, rec); perr != nil {
		fmt.Fprintf(a.Stderr, "warning: the drill's result was not recorded: %v\n", perr)
	}

	if err != nil {
		return fmt.Errorf("escrow drill FAILED: %w", err)
	}

	if perr := records.Put(ctx, r, records.KindKey, records.KeyEscrowPassed, rec); perr != nil {
		fmt.Fprintf(a.Stderr, "warning: the drill's result was not recorded: %v\n", perr)
	}

	fmt.Fprintf(a.Stdout, "escrow drill passed: the kit and %s opened repository %s at %s (no configuration, no LIFEBOAT_PASSWORD)\n", method, k.RepositoryID, k.Repository.Location)
	fmt.Fprintf(a.Stdout, "restored %s snapshot %s (%s): %d files, %s into %s in %s\n", rec.Source, snap.ID, snap.Time.Local().Format(time.DateTime),
		stats.Files, fmt.Sprintf("%d bytes", stats.Bytes), target, human(time.Duration(rec.Seconds*float64(time.Second))))

	return nil
}

// staleKit explains a kit whose sealed password no longer opens the
// repository: when the repository's format blob (which the password wraps)
// was rewritten after the kit was made, the password changed since.
func staleKit(ctx context.Context, where repo.Storage, k *escrow.Kit, err error) error {
	if !errors.Is(err, repo.ErrWrongPassword) {
		return err
	}

	at, ferr := repo.FormatWrittenAt(ctx, where)
	if ferr != nil || !at.After(k.Created) {
		return err
	}

	return fmt.Errorf("%s: %w", health.StaleKit("password change", at), err)
}

// kitCopiesMoved says the kit is stale when the copies it names differ from
// those of the newest configuration the repository keeps ("" when they are
// the same, or no configuration is kept).
func kitCopiesMoved(ctx context.Context, r *repo.Repository, k *escrow.Kit, loc config.Repository) string {
	cfg, err := loadStored(ctx, r, loc)
	if err != nil {
		return ""
	}

	var kept []string

	for _, l := range strings.Split(health.KitPlaces(cfg), "\n") {
		if strings.HasPrefix(l, "copy ") {
			kept = append(kept, l)
		}
	}

	var named []string

	for _, c := range k.Copies {
		where := c.Location
		if strings.HasPrefix(where, "s3://") {
			where += " " + c.Endpoint + " " + c.Region
		}

		named = append(named, "copy "+c.Name+" "+where)
	}

	if strings.Join(kept, "\n") == strings.Join(named, "\n") {
		return ""
	}

	return health.StaleKit("change of the repository's location or copies", time.Time{}) + " (the copies it names are not the configuration's)"
}

// drillRestore restores the source's newest backup into the target (a
// scratch folder when none was given, removed afterwards).
func (a *App) drillRestore(ctx context.Context, r *repo.Repository, k *escrow.Kit, o *drillOptions) (repo.RestoreStats, *repo.Snapshot, string, error) {
	var none repo.RestoreStats

	if o.source == "" {
		if len(k.Sources) == 0 {
			return none, nil, "", errors.New("the kit names no source: give --source NAME")
		}

		o.source = k.Sources[0].Name
	}

	for _, s := range k.Sources {
		if s.Name == o.source && s.Type == "mysql" {
			return a.drillDatabase(ctx, r, k, o)
		}
	}

	snaps, err := r.Snapshots(ctx, o.source)
	if err != nil {
		return none, nil, "", err
	}

	var snap *repo.Snapshot

	for _, s := range snaps {
		if s.Role == repo.RoleBackup {
			snap = s
		}
	}

	if snap == nil {
		return none, nil, "", fmt.Errorf("source %s has no backup in the repository", o.source)
	}

	target := o.target
	if target == "" {
		tmp, err := os.MkdirTemp("", "lifeboat-escrow-drill-")
		if err != nil {
			return none, nil, "", err
		}
		defer os.RemoveAll(tmp)

		target = tmp
	}

	stats, err := r.Restore(ctx, snap.ID, target, repo.RestoreOptions{})
	if err != nil {
		return none, nil, "", fmt.Errorf("restore %s snapshot %s: %w", o.source, snap.ID, err)
	}

	if o.target == "" {
		target = "a scratch folder (removed)"
	}

	return stats, snap, target, nil
}
