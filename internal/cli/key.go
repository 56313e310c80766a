package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
)

// keyCommand groups what concerns the repository's key: its password, the
// recovery kit and its escrow, and a rotation of the key itself.
func (a *App) keyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "The repository's key: change its password, write the recovery kit, drill the escrow",
		Example: "  lifeboat key change-password --new-password-env LIFEBOAT_NEW_PASSWORD\n" +
			"  lifeboat key kit --out /srv/lifeboat-kit --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n" +
			"  lifeboat key escrow-drill --kit kit.txt --share share-1.txt --share share-3.txt",
	}

	cmd.AddCommand(a.audited("key change-password", a.changePasswordCommand()), a.audited("key kit", a.kitCommand()),
		a.unsealCommand(), a.escrowDrillCommand(), a.audited("key rekey", a.rekeyCommand()))

	return cmd
}

// newPassword is where a new password comes from: a named variable, a
// file, or a prompt (asked twice). Never a flag's value: command lines are
// visible to every user of the machine.
type newPassword struct {
	env, file string
}

func (n *newPassword) bind(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&n.env, "new-password-env", "", "the environment variable holding "+what+" (never the password itself)")
	cmd.Flags().StringVar(&n.file, "new-password-file", "", "a file holding "+what+" (its first line)")
}

func (a *App) readNewPassword(n *newPassword) (repo.Password, error) {
	switch {
	case n.env != "" && n.file != "":
		return repo.Password{}, usage("give --new-password-env or --new-password-file, not both")
	case n.env != "":
		v := a.Getenv(n.env)
		if v == "" {
			return repo.Password{}, usage("--new-password-env %s: the variable is not set or empty", n.env)
		}

		return repo.Password{Value: v, Origin: "$" + n.env}, nil
	case n.file != "":
		b, err := os.ReadFile(n.file)
		if err != nil {
			return repo.Password{}, usage("--new-password-file: %v", err)
		}

		v, _, _ := strings.Cut(string(b), "\n")
		if v = strings.TrimRight(v, "\r"); v == "" {
			return repo.Password{}, usage("--new-password-file %s is empty", n.file)
		}

		return repo.Password{Value: v, Origin: n.file}, nil
	}

	f, ok := a.Stdin.(*os.File)
	if !ok || !a.IsTerminal(a.Stdin) {
		return repo.Password{}, usage("no new password: give --new-password-env NAME or --new-password-file FILE, or run on a terminal to be asked")
	}

	fmt.Fprint(a.Stderr, "New repository password: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.Stderr)

	if err != nil {
		return repo.Password{}, fmt.Errorf("read password: %w", err)
	}

	fmt.Fprint(a.Stderr, "Repeat the new password: ")
	b2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.Stderr)

	if err != nil {
		return repo.Password{}, fmt.Errorf("read password: %w", err)
	}

	if string(b) != string(b2) || len(b) == 0 {
		return repo.Password{}, usage("the two passwords differ, or are empty")
	}

	return repo.Password{Value: string(b), Origin: "the prompt"}, nil
}

func (a *App) changePasswordCommand() *cobra.Command {
	var np newPassword

	cmd := &cobra.Command{
		Use:   "change-password",
		Short: "Change the repository's password (the data's key stays; see `lifeboat key rekey` for a new key)",
		Long: "Re-wraps the repository's format key with the new password: the old password stops opening\n" +
			"the repository at once. Each copy gets the new wrapping at its next `lifeboat replicate`;\n" +
			"until then it opens with the old password only, and `status` names it.\n\n" +
			"What this does NOT do: the data stays encrypted with the same master key. Anyone who has\n" +
			"the old password and an old copy of the repository's format blob (kopia.repository: in a\n" +
			"copy not yet replicated, a storage snapshot, a backup of the backup) can still open\n" +
			"everything written before and after. When the old password leaked, run `lifeboat key rekey`.",
		Example: "  lifeboat key change-password --new-password-env LIFEBOAT_NEW_PASSWORD   # the variable holds the new one\n" +
			"  lifeboat key change-password        # asks twice on a terminal",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()

			cfg, r, err := a.openRepo(ctx)
			if err != nil {
				return err
			}
			defer r.Close(ctx)

			old, err := a.password(cfg, false)
			if err != nil {
				return err
			}

			pw, err := a.readNewPassword(&np)
			if err != nil {
				return err
			}

			if err := r.ChangePassword(ctx, old, pw); err != nil {
				if errors.Is(err, repo.ErrSamePassword) || errors.Is(err, repo.ErrNoPassword) {
					return usage("%v", err)
				}

				return err
			}

			a.ro.pw = &pw

			if err := records.Put(ctx, r, records.KindKey, records.KeyPassword, records.PasswordChange{At: a.clock().Now()}); err != nil {
				fmt.Fprintf(a.Stderr, "warning: the password changed, but the change was not recorded (status cannot name the copies on the old one): %v\n", err)
			}

			a.printPasswordChanged(cfg)

			return nil
		},
	}

	np.bind(cmd, "the new password")

	return cmd
}

// printPasswordChanged says what the user must do next: give every
// command the new password, and replicate to each copy.
func (a *App) printPasswordChanged(cfg *config.Config) {
	w := a.Stdout
	fmt.Fprintln(w, "The repository's password changed: the old one no longer opens it.")

	switch {
	case cfg.Repository.PasswordFile != "":
		fmt.Fprintf(w, "Put the new password in %s (repository.password_file), or every command will be refused.\n", cfg.Repository.PasswordFile)
	case cfg.Repository.PasswordCommand != "":
		fmt.Fprintln(w, "Store the new password where repository.password_command reads it, or every command will be refused.")
	default:
		fmt.Fprintf(w, "Give the new password to every command from now on ($%s, or the prompt).\n", EnvPassword)
	}

	if len(cfg.CopyNames) > 0 {
		fmt.Fprintf(w, "Copies still open with the old password until their next replication: %s.\n", strings.Join(cfg.CopyNames, ", "))
		fmt.Fprintln(w, "Run `lifeboat replicate` now; `lifeboat status` names a copy still on the old password.")
	}

	fmt.Fprintln(w, "A recovery kit written before holds the old password: write a new one (`lifeboat key kit`) and drill it.")
	fmt.Fprintln(w, "The data's key did not change: the old password with an old copy of the format blob still opens it (`lifeboat key rekey` makes a new key).")
}
