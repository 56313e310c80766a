// Package starter writes configuration for someone who has none yet: the
// example `lifeboat config example` prints, the file `lifeboat init --repo`
// writes, and the source blocks `lifeboat source add` puts into a file, with
// the backup guide's defaults for the source's tier. It returns text and
// leaves reading, validating and writing files to its callers; it never
// writes a secret, only where one is found (password_env, password_file).
package starter

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"lifeboat/internal/config"
)

// Generic is a starter configuration with one source of each kind.
//
//go:embed generic.yaml
var Generic []byte

// Initial is the configuration `init --repo` writes: the repository and no
// sources yet, with comments that say how to add them.
func Initial(r config.Repository) []byte {
	var b strings.Builder

	b.WriteString(`# Lifeboat configuration, written by ` + "`lifeboat init --repo`" + `.
# Add what to back up with ` + "`lifeboat source add NAME --files PATH...`" + ` (or --git PATH,
# or --mysql DSN), then run ` + "`lifeboat backup`" + `. ` + "`lifeboat config check`" + ` validates
# this file; ` + "`lifeboat config example`" + ` prints one with every common section.
#
# The repository password is never in this file: LIFEBOAT_PASSWORD, a prompt on
# a terminal, or repository.password_file.

repository:
`)

	if s := r.S3; s != nil {
		url := "s3://" + s.Bucket
		if p := strings.TrimSuffix(s.Prefix, "/"); p != "" {
			url += "/" + p
		}

		fmt.Fprintf(&b, "  url: %s\n  endpoint: %s\n", Scalar(url), Scalar(s.Endpoint))

		if s.Region != "" {
			fmt.Fprintf(&b, "  region: %s\n", Scalar(s.Region))
		}

		if !s.TLS {
			b.WriteString("  tls: false\n")
		}

		if s.CAFile != "" {
			fmt.Fprintf(&b, "  ca_file: %s\n", Scalar(s.CAFile))
		}

		b.WriteString("  # access_key_env: AWS_ACCESS_KEY_ID      # the defaults; or access_key_file / secret_key_file\n" +
			"  # secret_key_env: AWS_SECRET_ACCESS_KEY\n")
	} else {
		fmt.Fprintf(&b, "  path: %s\n", Scalar(r.Path))
	}

	b.WriteString(`  # password_file: /etc/lifeboat/password   # a file holding the password (chmod 600)

# Recovery objectives per tier, the backup guide's (these are the defaults;
# uncomment to change them). ` + "`source add --tier`" + ` picks one.
# tiers:
#   critical:  {rto: 4h,  rpo: 1h}
#   important: {rto: 24h, rpo: 24h}
#   other:     {rto: 72h, rpo: 168h}

sources:
  # ` + "`lifeboat source add`" + ` adds sources here.
`)

	return []byte(b.String())
}

// plain matches the scalars that may need no quotes in YAML.
var plain = regexp.MustCompile(`^[A-Za-z0-9/_.][A-Za-z0-9/_.:@+=-]*$`)

// Scalar is s as a YAML string: plain when that reads back as the same
// string, else double-quoted (a JSON string is a valid YAML one).
func Scalar(s string) string {
	if plain.MatchString(s) {
		var back struct{ V any }
		if yaml.Unmarshal([]byte("v: "+s), &back) == nil && back.V == s {
			return s
		}
	}

	q, _ := json.Marshal(s)

	return string(q)
}

// List is a YAML flow list of strings.
func List(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = Scalar(s)
	}

	return "[" + strings.Join(q, ", ") + "]"
}
