package cli

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/internal/config"
	"lifeboat/internal/escrow"
	"lifeboat/internal/health"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/version"
)

type kitOptions struct {
	out            string
	recipients     []string
	recipientFiles []string
	holders        []string
	threshold      int
}

func (a *App) kitCommand() *cobra.Command {
	var o kitOptions

	cmd := &cobra.Command{
		Use:   "kit --out DIR (--recipient KEY... | --holder NAME... --threshold K)",
		Short: "Write the recovery kit: where the repository is, how to restore, and the password sealed for escrow",
		Long: "Writes into DIR: kit.txt and kit.html (a printable page with a QR code) saying where the\n" +
			"repository and its copies are, its ID, how to install Lifeboat, the exact restore commands,\n" +
			"and how to restore without Lifeboat (kopia's CLI and the stock mariadb client). The password\n" +
			"is never on them: it is sealed with age to each --recipient (password.age; any one private\n" +
			"key opens it), and/or split into one share per --holder (share-N.txt), any --threshold of\n" +
			"which give it back. Hand each share to its holder alone; prove the kit with\n" +
			"`lifeboat key escrow-drill`.",
		Example: "  lifeboat key kit --out /srv/lifeboat-kit --recipient age1... --recipient \"$(cat ~/.ssh/id_ed25519.pub)\"\n" +
			"  lifeboat key kit --out /srv/lifeboat-kit --holder 'incident manager' --holder 'security officer' --holder CTO --threshold 2",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runKit(cmd, &o)
		},
	}

	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "folder to write the kit into (created 0700; its files 0600)")
	f.StringArrayVar(&o.recipients, "recipient", nil, "an escrow recipient: an age public key (age1...) or an SSH public key line; repeatable")
	f.StringArrayVar(&o.recipientFiles, "recipients-file", nil, "a file of recipients, one a line (# comments; an authorized_keys file works); repeatable")
	f.StringArrayVar(&o.holders, "holder", nil, "a share holder (a role or a name: incident manager, security officer, ...); repeatable")
	f.IntVar(&o.threshold, "threshold", 0, "with --holder: how many shares give the password back (2 or more)")

	return cmd
}

func (o *kitOptions) check() error {
	if o.out == "" {
		return usage("key kit: give --out DIR")
	}

	if len(o.holders) > 0 && (o.threshold < 2 || o.threshold > len(o.holders)) {
		return usage("key kit: --threshold must be from 2 to the number of holders (%d)", len(o.holders))
	}

	if len(o.holders) == 0 && o.threshold != 0 {
		return usage("key kit: --threshold needs --holder NAME for each share")
	}

	if len(o.holders) == 1 {
		return usage("key kit: one holder is no split: give two or more, or a --recipient")
	}

	return nil
}

func (o *kitOptions) allRecipients() ([]string, error) {
	rs := append([]string(nil), o.recipients...)

	for _, f := range o.recipientFiles {
		fh, err := os.Open(f)
		if err != nil {
			return nil, usage("--recipients-file: %v", err)
		}

		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				rs = append(rs, l)
			}
		}

		fh.Close()
	}

	for _, r := range rs {
		if _, err := escrow.ParseRecipient(r); err != nil {
			return nil, usage("key kit: %v", err)
		}
	}

	return rs, nil
}

func (a *App) runKit(cmd *cobra.Command, o *kitOptions) error {
	if err := o.check(); err != nil {
		return err
	}

	recipients, err := o.allRecipients()
	if err != nil {
		return err
	}

	if len(recipients) == 0 && len(o.holders) == 0 {
		return usage("key kit: give at least one --recipient (or --recipients-file), or --holder NAME... --threshold K: the password must reach someone")
	}

	ctx := cmd.Context()

	cfg, r, err := a.openRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close(ctx)

	pw, err := a.password(cfg, false)
	if err != nil {
		return err
	}

	k := kitOf(cfg, r, a.clock().Now())
	files := map[string][]byte{}

	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}

	k.ID = hex.EncodeToString(id[:])

	if len(recipients) > 0 {
		if k.Sealed, err = escrow.Seal(pw.Value, recipients); err != nil {
			return err
		}

		k.Recipients = recipients
		files["password.age"] = []byte(k.Sealed)
	}

	if len(o.holders) > 0 {
		shares, err := escrow.SplitSecret(pw.Value, o.threshold, len(o.holders))
		if err != nil {
			return err
		}

		k.Shares = &escrow.Split{ID: shares[0].Split, K: o.threshold, N: len(o.holders), Holders: o.holders}

		for i, s := range shares {
			files[fmt.Sprintf("share-%d.txt", i+1)] = []byte(shareText(k, i, s))
		}
	}

	page, err := k.HTML()
	if err != nil {
		return err
	}

	files["kit.txt"], files["kit.html"] = []byte(k.Text()), page

	if err := writePrivate(o.out, files); err != nil {
		return err
	}

	if err := records.Put(ctx, r, records.KindKey, records.KeyKit, records.PasswordChange{At: k.Created}); err != nil {
		fmt.Fprintf(a.Stderr, "warning: the kit was written, but not recorded (status cannot remind of its drill): %v\n", err)
	}

	made := records.Kit{At: k.Created, ID: k.ID, RepositoryID: k.RepositoryID, Places: health.KitPlaces(cfg)}
	if err := records.Put(ctx, r, records.KindKit, records.KeyKitLast, made); err != nil {
		fmt.Fprintf(a.Stderr, "warning: the kit was written, but not recorded (status cannot tell when it goes stale): %v\n", err)
	}

	fmt.Fprintf(a.Stdout, "Recovery kit for repository %s written to %s: kit.txt, kit.html", k.RepositoryID, o.out)

	if k.Sealed != "" {
		fmt.Fprintf(a.Stdout, ", password.age (sealed to %d recipients)", len(recipients))
	}

	if k.Shares != nil {
		fmt.Fprintf(a.Stdout, ", share-1.txt ... share-%d.txt (any %d of them give the password)", k.Shares.N, k.Shares.K)
	}

	fmt.Fprintln(a.Stdout, ".")
	fmt.Fprintln(a.Stdout, "Print the kit; give each share to its holder alone and delete it here; then prove it: `lifeboat key escrow-drill`.")

	return nil
}

// kitOf describes the repository: where it and its copies are, and what it
// holds.
func kitOf(cfg *config.Config, r *repo.Repository, now time.Time) *escrow.Kit {
	k := &escrow.Kit{
		Created: now.UTC(), Version: version.Version, RepositoryID: r.ID(),
		Repository: placeOf("", cfg.Repository.Path, cfg.Repository.S3),
	}

	for _, name := range cfg.CopyNames {
		c := cfg.Copies[name]
		k.Copies = append(k.Copies, placeOf(name, c.Path, c.S3))
	}

	for _, name := range cfg.SourceNames {
		s := cfg.Sources[name]
		src := escrow.Source{Name: name, Type: s.Type}

		if my := s.Server(); my != nil {
			src.Databases = my.Databases
		}

		k.Sources = append(k.Sources, src)
	}

	return k
}

func placeOf(name, path string, s3 *config.S3) escrow.Place {
	if s3 == nil {
		return escrow.Place{Name: name, Location: health.KitLocation(path, nil)}
	}

	// Not s3.URL(), which names the endpoint too: --repo and kopia take
	// the bucket and prefix alone.
	return escrow.Place{Name: name, Location: health.KitLocation(path, s3), Endpoint: s3.Endpoint, Region: s3.Region, PlainS3: !s3.TLS}
}

// shareText is one holder's share file: whose it is, what it is for, and
// the line a program reads.
func shareText(k *escrow.Kit, i int, s escrow.Share) string {
	return fmt.Sprintf("LIFEBOAT RECOVERY SHARE %d OF %d\n\nHeld by: %s\nRepository: %s (%s)\n"+
		"Any %d of the %d shares give back the repository's password; this one alone tells nothing.\n"+
		"Keep it private and offline. With the kit and %d shares: lifeboat key unseal --kit kit.txt --share FILE ... --out password.txt\n\n%s\n",
		i+1, k.Shares.N, k.Shares.Holders[i], k.RepositoryID, k.Repository.Location, k.Shares.K, k.Shares.N, k.Shares.K, s.Line())
}

// writePrivate writes the files into dir, created 0700, each 0600, and
// refuses to replace a kit already there.
func writePrivate(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kit folder: %w", err)
	}

	for name := range files {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return usage("key kit: %s already exists: give an empty --out folder (an old kit's shares must not be mixed with a new one's)", filepath.Join(dir, name))
		}
	}

	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}

	return nil
}
