package escrow

import (
	"fmt"
	"strings"
)

// Text is the kit as plain text: what it is, how to get the password back,
// how to restore with Lifeboat and without it, and the block a program
// reads (the same the QR code holds).
func (k *Kit) Text() string {
	var b strings.Builder

	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("LIFEBOAT RECOVERY KIT\n=====================\n\n")
	p("Written %s by Lifeboat %s. Keep it printed and offline; it holds no password.\n\n", k.Created.UTC().Format("2006-01-02 15:04 UTC"), k.Version)
	p("1. WHAT AND WHERE\n\n")
	p("Repository ID: %s (every Lifeboat command on it must find this ID)\n", k.RepositoryID)
	p("Repository:    %s%s\n", k.Repository.Location, k.Repository.s3Note())

	for _, c := range k.Copies {
		p("Copy %-9s %s%s (the same repository: same ID, same password once replicated)\n", c.Name+":", c.Location, c.s3Note())
	}

	p("\nSources:\n")

	for _, s := range k.Sources {
		p("  %-20s %s", s.Name, s.Type)

		if len(s.Databases) > 0 {
			p(" (databases: %s)", strings.Join(s.Databases, ", "))
		}

		p("\n")
	}

	p("\n2. THE PASSWORD\n\n")
	k.passwordText(p)

	p("\n3. INSTALL\n\n")
	p("Lifeboat is one static binary (Linux, amd64 or arm64): copy `lifeboat` %s from the release archive or any\n", k.Version)
	p("machine that has it to /usr/local/bin and `chmod 755` it. From the source: `make build` (Go) writes bin/lifeboat.\n")
	p("For a database restore: the stock client (Debian/Ubuntu: apt-get install mariadb-client) and a server to load into.\n")
	p("Without Lifeboat: kopia (https://kopia.io/docs/installation/, apt-get install kopia) and the same client.\n")

	p("\n4. RESTORE WITH LIFEBOAT (no configuration needed: the repository keeps it)\n\n")
	p("  export LIFEBOAT_PASSWORD=\"$(cat password.txt)\"      # from step 2; then delete password.txt\n")

	if strings.HasPrefix(k.Repository.Location, "s3://") {
		p("  export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...   # the bucket's keys\n")
	}

	p("  lifeboat %s status\n", k.Repository.repoFlags())
	p("  lifeboat %s snapshots\n", k.Repository.repoFlags())

	for _, s := range k.Sources {
		switch s.Type {
		case "mysql":
			p("  lifeboat %s restore %s --mysql-host HOST --mysql-user root --mysql-password-env DB_PASSWORD\n", k.Repository.repoFlags(), shellQuote(s.Name))
			p("  lifeboat %s restore %s --to-time 'YYYY-MM-DD HH:MM:SS' --mysql-host HOST --mysql-user root --mysql-password-env DB_PASSWORD   # to an instant\n", k.Repository.repoFlags(), shellQuote(s.Name))
		default:
			p("  lifeboat %s restore %s --target /srv/restore/%s\n", k.Repository.repoFlags(), shellQuote(s.Name), s.Name)
		}
	}

	p("A copy instead of the repository: the same commands with the copy's location after --repo.\n")

	p("\n5. RESTORE WITHOUT LIFEBOAT (kopia's CLI and the stock mariadb client)\n\n")
	p("  export KOPIA_PASSWORD=\"$(cat password.txt)\"\n")
	p("  %s\n", k.Repository.kopiaConnect())
	p("  kopia snapshot list --all          # sources are lifeboat@lifeboat:/SOURCE; pick a snapshot ID\n")
	p("  kopia restore SNAPSHOT_ID /srv/restore/SOURCE\n")
	p("A files source is then restored as it was; a git source as repo.bundle (git clone repo.bundle).\n")
	p("A database snapshot holds _meta.json (the schema) and one folder of INSERT files per database:\n")
	p("  cd /srv/restore/SOURCE\n")
	p("  mariadb -e 'CREATE DATABASE IF NOT EXISTS DB'\n")
	p("  jq -r '.databases[] | select(.name==\"DB\") | .tables[] | .create + \";\"' _meta.json | mariadb DB\n")
	p("  cat DB/*.sql | mariadb DB\n")
	p("Binlog segments (for an instant after the dump) are the snapshots of lifeboat@lifeboat:/SOURCE/binlog:\n")
	p("restore them the same way and replay with mariadb-binlog --start-position=POS (the dump's position,\n")
	p("binlog_file and binlog_pos in _meta.json) --stop-datetime='...' FILES | mariadb.\n")

	p("\n6. PROVE IT (every six months at least, by the holders)\n\n")
	p("  HOME=$(mktemp -d) lifeboat key escrow-drill --kit kit.txt %s --target $(mktemp -d)\n", k.drillArgs())

	p("\n7. MACHINE-READABLE (the QR code holds the same)\n\n")
	b.WriteString(k.block())

	return b.String()
}

func (p Place) s3Note() string {
	if p.Endpoint == "" && p.Region == "" {
		return ""
	}

	return fmt.Sprintf(" (endpoint %s, region %s)", orDefault(p.Endpoint, "s3.amazonaws.com"), orDefault(p.Region, "default"))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}

	return s
}

func (k *Kit) drillArgs() string {
	if k.Shares != nil {
		return strings.Repeat("--share SHARE_FILE ", k.Shares.K) + "(or --identity KEY_FILE)"
	}

	return "--identity KEY_FILE"
}

func (k *Kit) passwordText(p func(string, ...any)) {
	if k.Sealed != "" {
		p("Sealed with age to these keys; the private key of any one of them opens it:\n")

		for _, r := range k.Recipients {
			p("  %s\n", r)
		}

		p("\nSave the block below as password.age (it is also the file password.age beside this kit), then:\n")
		p("  lifeboat key unseal --kit kit.txt --identity KEY_FILE --out password.txt\n")
		p("  age -d -i KEY_FILE -o password.txt password.age      # the same with the age tool (an SSH key works too)\n\n")
		b := strings.TrimSpace(k.Sealed)
		p("%s\n", b)
	}

	if s := k.Shares; s != nil {
		if k.Sealed != "" {
			p("\nOr:\n")
		}

		p("Split into %d shares, any %d of which give the password back (one alone tells nothing). Holders:\n", s.N, s.K)

		for i, h := range s.Holders {
			p("  share %d: %s\n", i+1, h)
		}

		p("\nWith %d share files:\n", s.K)
		p("  lifeboat key unseal --kit kit.txt %s--out password.txt\n", strings.Repeat("--share SHARE_FILE ", s.K))
		p("(Shamir's scheme over GF(2^8), polynomial x^8+x^4+x^3+x+1: a share line is\n")
		p(" lifeboat-share:v1:SPLIT:K:N:X:HEX_BYTES:CHECKSUM, and each password byte is the value at 0\n")
		p(" of the polynomial through the holders' points (X, byte).)\n")
	}
}
