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
	p("Without Lifeboat: kopia %s (https://kopia.io/docs/installation/), jq, and the same client.\n", KopiaVersion)
	p("\nThe commands below are in blocks between ```sh NAME and ``` lines: copy a block whole into a shell (bash),\n")
	p("in the folder holding this kit (kit.txt and password.age), after setting the variables it names:\n")
	p("  KEY_FILE       a recipient's private key file (age identity or OpenSSH key)\n")
	p("  SHARE_1 ...    the holders' share files\n")
	p("  RESTORE_DIR    an empty folder to restore into, as a full path\n")

	if strings.HasPrefix(k.Repository.Location, "s3://") {
		p("  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the bucket's keys\n")
	}

	if k.hasDatabase() {
		p("  the mariadb client's own settings for the server to load into: a [client] section in ~/.my.cnf\n")
		p("  (host, port or socket, user, password), or MYSQL_HOST, MYSQL_TCP_PORT, MYSQL_UNIX_PORT, MYSQL_PWD\n")
		p("  DB_HOST, DB_PASSWORD (with Lifeboat: the server's address and its root password)\n")
	}

	p("\n4. RESTORE WITH LIFEBOAT (no configuration needed: the repository keeps it)\n\n")
	k.lifeboatSteps(p)

	p("\n5. RESTORE WITHOUT LIFEBOAT (kopia's CLI, jq and the stock mariadb client)\n\n")
	k.kopiaSteps(p)

	p("\n6. PROVE IT (every six months at least, by the holders)\n\n")
	p("```sh drill\nHOME=\"$(mktemp -d)\" lifeboat key escrow-drill --kit kit.txt %s --target \"$(mktemp -d)\"\n```\n", k.drillArgs())

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
	if k.Sealed == "" {
		return strings.TrimSpace(k.shareArgs())
	}

	return `--identity "$KEY_FILE"`
}

func (k *Kit) passwordText(p func(string, ...any)) {
	if k.Sealed != "" {
		p("Sealed with age to these keys; the private key of any one of them opens it:\n")

		for _, r := range k.Recipients {
			p("  %s\n", r)
		}

		p("\nSave the armored block below as password.age (it is also the file password.age beside this kit), then\n")
		p("either (Lifeboat):\n")
		p("```sh password-lifeboat-key\nlifeboat key unseal --kit kit.txt --identity \"$KEY_FILE\" --out password.txt\n```\n")
		p("or the same with the age tool (apt-get install age; an SSH key works too):\n")
		p("```sh password-age\n(umask 077 && age -d -i \"$KEY_FILE\" -o password.txt password.age)\n```\n\n")
		p("%s\n", strings.TrimSpace(k.Sealed))
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
		p("```sh password-lifeboat-shares\nlifeboat key unseal --kit kit.txt %s--out password.txt\n```\n", k.shareArgs())
		p("(Shamir's scheme over GF(2^8), polynomial x^8+x^4+x^3+x+1: a share line is\n")
		p(" lifeboat-share:v1:SPLIT:K:N:X:HEX_BYTES:CHECKSUM, and each password byte is the value at 0\n")
		p(" of the polynomial through the holders' points (X, byte).)\n")
	}
}

// shareArgs are the --share flags of k share files, as variables.
func (k *Kit) shareArgs() string {
	var b strings.Builder

	for i := range k.Shares.K {
		fmt.Fprintf(&b, "--share \"$SHARE_%d\" ", i+1)
	}

	return b.String()
}

func (k *Kit) hasDatabase() bool {
	for _, s := range k.Sources {
		if s.Type == "mysql" {
			return true
		}
	}

	return false
}
