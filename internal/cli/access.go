package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"lifeboat/internal/access"
	"lifeboat/internal/audit"
	"lifeboat/internal/config"
)

// withAccess opens the repository and runs fn on its users and tokens.
// The store records every change in the audit trail, by names only; a
// change that fails is recorded as action failed, and after a change the
// trail's copy in the repository is brought up to date, as after a pin.
func (a *App) withAccess(cmd *cobra.Command, action string, fn func(ctx context.Context, s *access.Store) error) error {
	ctx := cmd.Context()

	cfg, r, err := a.openRepo(ctx)
	if err != nil {
		return err
	}
	defer r.Close(ctx)

	s := &access.Store{Repo: r, Audit: a.auditLog(cfg), Log: a.log, Clock: a.clock()}

	err = fn(ctx, s)
	if errors.Is(err, access.ErrInvalid) || errors.Is(err, access.ErrExists) || errors.Is(err, access.ErrNotFound) {
		err = &UsageError{Err: err}
	}

	if action != "" {
		if err != nil {
			a.record(cfg, audit.Record{Action: action, Outcome: audit.Failed, Detail: err.Error()})
		}

		a.copyAudit(ctx, r, cfg)
	}

	return err
}

func (a *App) userCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "The HTTP API's users: add, list, passwd, role, remove, mfa",
		Long: "Users log in to the HTTP API and the dashboard with a password and, once enrolled, a TOTP\n" +
			"code. They are kept in the repository, so a new machine with the repository has them.\n" +
			"Roles: viewer, developer, auditor, operator, admin (see the README's permission table).",
		Example: "  lifeboat user add alice --role operator\n" +
			"  lifeboat user list",
	}

	cmd.AddCommand(a.userAddCommand(), a.userListCommand(), a.userPasswdCommand(), a.userRoleCommand(),
		a.userRemoveCommand(), a.userMFACommand())

	return cmd
}

func (a *App) userAddCommand() *cobra.Command {
	var (
		role      string
		fromStdin bool
	)

	cmd := &cobra.Command{
		Use:   "add NAME --role ROLE [--password-stdin]",
		Short: "Add a user of the HTTP API; the password is asked on the terminal",
		Args:  cobra.ExactArgs(1),
		Example: "  lifeboat user add alice --role operator\n" +
			"  lifeboat user add ci-reader --role viewer --password-stdin < password.txt",
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := access.ParseRole(role)
			if err != nil {
				return usage("user add: --role: %v", err)
			}

			return a.withAccess(cmd, "user add", func(ctx context.Context, s *access.Store) error {
				pw, err := a.newPassword(args[0], fromStdin)
				if err != nil {
					return err
				}

				if err := s.AddUser(ctx, "", args[0], r, pw); err != nil {
					return err
				}

				fmt.Fprintf(a.Stdout, "user %s added with role %s; enrol a second factor with `lifeboat user mfa %s`\n", args[0], r, args[0])

				return nil
			})
		},
	}

	cmd.Flags().StringVar(&role, "role", "", "viewer, developer, auditor, operator or admin (required)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input instead of the terminal")

	return cmd
}

func (a *App) userListCommand() *cobra.Command {
	var asJSON bool

	cmd := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List the users, their roles and second factors",
		Args:    cobra.NoArgs,
		Example: "  lifeboat user list\n  lifeboat user list --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAccess(cmd, "", func(ctx context.Context, s *access.Store) error {
				users, err := s.Users(ctx)
				if err != nil {
					return err
				}

				if asJSON {
					return json.NewEncoder(a.Stdout).Encode(users)
				}

				if len(users) == 0 {
					fmt.Fprintln(a.Stdout, "no users yet: add one with `lifeboat user add NAME --role ROLE`")
					return nil
				}

				tw := tabwriter.NewWriter(a.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tSECOND FACTOR\tLOCKED UNTIL\tCREATED")

				for _, u := range users {
					mfa, locked := "none", "-"
					if u.MFA {
						mfa = fmt.Sprintf("TOTP, %d recovery codes left", u.RecoveryLeft)
					}

					if !u.LockedUntil.IsZero() {
						locked = u.LockedUntil.Local().Format(time.DateTime)
					}

					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, mfa, locked, u.Created.Local().Format(time.DateOnly))
				}

				return tw.Flush()
			})
		},
	}

	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	return cmd
}

func (a *App) userPasswdCommand() *cobra.Command {
	var fromStdin bool

	cmd := &cobra.Command{
		Use:   "passwd NAME [--password-stdin]",
		Short: "Set a user's password (this also lifts a lockout)",
		Args:  cobra.ExactArgs(1),
		Example: "  lifeboat user passwd alice\n" +
			"  lifeboat user passwd alice --password-stdin < password.txt",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccess(cmd, "user passwd", func(ctx context.Context, s *access.Store) error {
				if _, err := s.User(ctx, args[0]); err != nil { // before asking a password for nobody
					return err
				}

				pw, err := a.newPassword(args[0], fromStdin)
				if err != nil {
					return err
				}

				if err := s.SetPassword(ctx, "", args[0], pw); err != nil {
					return err
				}

				fmt.Fprintf(a.Stdout, "password of %s changed\n", args[0])

				return nil
			})
		},
	}

	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input instead of the terminal")

	return cmd
}

func (a *App) userRoleCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "role NAME ROLE",
		Short:   "Give a user another role",
		Args:    cobra.ExactArgs(2),
		Example: "  lifeboat user role alice admin",
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := access.ParseRole(args[1])
			if err != nil {
				return usage("user role: %v", err)
			}

			return a.withAccess(cmd, "user role", func(ctx context.Context, s *access.Store) error {
				if err := s.SetRole(ctx, "", args[0], r); err != nil {
					return err
				}

				fmt.Fprintf(a.Stdout, "user %s now has role %s\n", args[0], r)

				return nil
			})
		},
	}
}

func (a *App) userRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Short:   "Remove a user: their next request is refused",
		Args:    cobra.ExactArgs(1),
		Example: "  lifeboat user remove alice",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccess(cmd, "user remove", func(ctx context.Context, s *access.Store) error {
				if err := s.RemoveUser(ctx, "", args[0]); err != nil {
					return err
				}

				fmt.Fprintf(a.Stdout, "user %s removed\n", args[0])

				return nil
			})
		},
	}
}

func (a *App) userMFACommand() *cobra.Command {
	var disable bool

	cmd := &cobra.Command{
		Use:   "mfa NAME [--disable]",
		Short: "Enrol a user's second factor (TOTP): shows a QR code and recovery codes, then asks a code",
		Long: "Enrols a TOTP second factor: scan the QR code (or enter the otpauth:// URI) with an\n" +
			"authenticator app, keep the recovery codes offline (each replaces a code once), and type the\n" +
			"code the app shows. Only then is the second factor enabled; from then on every login needs it.\n" +
			"Enrolling again replaces the seed and the recovery codes.",
		Args: cobra.ExactArgs(1),
		Example: "  lifeboat user mfa alice\n" +
			"  lifeboat user mfa alice --disable",
		RunE: func(cmd *cobra.Command, args []string) error {
			if disable {
				return a.withAccess(cmd, "mfa disable", func(ctx context.Context, s *access.Store) error {
					if err := s.DisableMFA(ctx, "", args[0]); err != nil {
						return err
					}

					fmt.Fprintf(a.Stdout, "second factor of %s removed: the password alone logs in\n", args[0])

					return nil
				})
			}

			return a.withAccess(cmd, "mfa enrol", func(ctx context.Context, s *access.Store) error {
				return a.enrolMFA(ctx, s, args[0])
			})
		},
	}

	cmd.Flags().BoolVar(&disable, "disable", false, "remove the user's second factor and recovery codes")

	return cmd
}

// enrolMFA shows the seed and the recovery codes, once, and enables them
// when the code typed back proves the app reads the seed.
func (a *App) enrolMFA(ctx context.Context, s *access.Store, name string) error {
	e, err := s.BeginMFA(ctx, name)
	if err != nil {
		return err
	}

	qr, err := qrcode.New(e.URI, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("user %s: draw the QR code: %w", name, err)
	}

	fmt.Fprintf(a.Stdout, "Scan this with an authenticator app, or enter the URI below it:\n\n%s\n%s\n\n", qr.ToSmallString(false), e.URI)
	fmt.Fprintf(a.Stdout, "Recovery codes for %s: each logs in once in place of a code. Keep them offline; they are not shown again.\n", name)

	for _, c := range e.Recovery {
		fmt.Fprintf(a.Stdout, "  %s\n", c)
	}

	fmt.Fprint(a.Stderr, "\nType the code the app shows now: ")

	code, err := bufio.NewReader(a.Stdin).ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || strings.TrimSpace(code) == "") {
		fmt.Fprintln(a.Stderr)
		return fmt.Errorf("user %s: no code typed: the second factor was not enabled", name)
	}

	if err := s.ConfirmMFA(ctx, "", e, code); err != nil {
		return err
	}

	fmt.Fprintf(a.Stdout, "second factor of %s enabled: every login now needs a code from the app (or a recovery code)\n", name)

	return nil
}

// newPassword reads the password a user is to have: from a terminal, without
// echo and twice, or the first line of stdin with --password-stdin. It never
// comes from the command line, where ps and shell histories would show it.
func (a *App) newPassword(name string, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.Stdin).ReadString('\n')
		if err != nil && (!errors.Is(err, io.EOF) || line == "") {
			return "", usage("--password-stdin: no password on standard input")
		}

		return strings.TrimRight(line, "\r\n"), nil
	}

	f, ok := a.Stdin.(*os.File)
	if !ok || !a.IsTerminal(a.Stdin) {
		return "", usage("no terminal to ask the password of %s on: pass --password-stdin and write it on standard input", name)
	}

	fmt.Fprintf(a.Stderr, "Password for %s (at least %d characters): ", name, access.MinPassword)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.Stderr)

	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}

	fmt.Fprint(a.Stderr, "Repeat it: ")
	b2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.Stderr)

	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}

	if string(b) != string(b2) {
		return "", usage("the two passwords differ: nothing was changed")
	}

	return string(b), nil
}

func (a *App) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "API tokens for automation: create, list, revoke",
		Long: "An API token is sent as `Authorization: Bearer TOKEN` and acts with its role. It is shown\n" +
			"once, when created; the repository keeps only its hash. A revoked token is refused at once\n" +
			"by this machine and by a running daemon within " + access.DefaultRefresh.String() + ".",
		Example: "  lifeboat token create ci --role operator --expires 90d\n" +
			"  lifeboat token list",
	}

	cmd.AddCommand(a.tokenCreateCommand(), a.tokenListCommand(), a.tokenRevokeCommand())

	return cmd
}

func (a *App) tokenCreateCommand() *cobra.Command {
	var role, expires string

	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE [--expires 30d]",
		Short: "Create an API token and print it, this once",
		Args:  cobra.ExactArgs(1),
		Example: "  lifeboat token create prometheus --role viewer\n" +
			"  lifeboat token create ci --role operator --expires 30d > ci.token",
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := access.ParseRole(role)
			if err != nil {
				return usage("token create: --role: %v", err)
			}

			var d time.Duration
			if expires != "" {
				if d, err = config.ParseDuration(expires); err != nil || d <= 0 {
					return usage("token create: --expires %q: expected a duration such as 30d, 12h or 1y", expires)
				}
			}

			return a.withAccess(cmd, "token create", func(ctx context.Context, s *access.Store) error {
				tok, err := s.CreateToken(ctx, "", args[0], r, d)
				if err != nil {
					return err
				}

				until := "it does not expire"
				if d > 0 {
					until = "it expires " + a.clock().Now().Add(d).Local().Format(time.DateTime)
				}

				// The token alone on stdout, so `> file` or $(...) takes it.
				fmt.Fprintln(a.Stdout, tok)
				fmt.Fprintf(a.Stderr, "token %s created with role %s; %s. It is shown only this once: store it now.\n", args[0], r, until)

				return nil
			})
		},
	}

	cmd.Flags().StringVar(&role, "role", "", "viewer, developer, auditor, operator or admin (required)")
	cmd.Flags().StringVar(&expires, "expires", "", "how long the token is valid, e.g. 30d or 12h (default: until revoked)")

	return cmd
}

func (a *App) tokenListCommand() *cobra.Command {
	var asJSON bool

	cmd := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List the API tokens (never the tokens themselves)",
		Args:    cobra.NoArgs,
		Example: "  lifeboat token list\n  lifeboat token list --json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAccess(cmd, "", func(ctx context.Context, s *access.Store) error {
				toks, err := s.Tokens(ctx)
				if err != nil {
					return err
				}

				if asJSON {
					return json.NewEncoder(a.Stdout).Encode(toks)
				}

				if len(toks) == 0 {
					fmt.Fprintln(a.Stdout, "no tokens yet: create one with `lifeboat token create NAME --role ROLE`")
					return nil
				}

				tw := tabwriter.NewWriter(a.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tCREATED\tEXPIRES")

				for _, t := range toks {
					exp := "never"
					if !t.Expires.IsZero() {
						exp = t.Expires.Local().Format(time.DateTime)
					}

					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, t.State, t.Created.Local().Format(time.DateTime), exp)
				}

				return tw.Flush()
			})
		},
	}

	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	return cmd
}

func (a *App) tokenRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "revoke NAME",
		Short:   "Revoke an API token: refused from its next request on",
		Args:    cobra.ExactArgs(1),
		Example: "  lifeboat token revoke ci",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withAccess(cmd, "token revoke", func(ctx context.Context, s *access.Store) error {
				if err := s.RevokeToken(ctx, "", args[0]); err != nil {
					return err
				}

				fmt.Fprintf(a.Stdout, "token %s revoked\n", args[0])

				return nil
			})
		},
	}
}
