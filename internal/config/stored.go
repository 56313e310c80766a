package config

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// RedactedWebhook replaces notify.webhook.url in the configuration the
// repository keeps: the URL's path is a secret token. It is a valid URL on a
// reserved name that never resolves, so the stored configuration still loads.
const RedactedWebhook = "https://webhook-url-not-stored.invalid/"

// redactedPassword replaces the password of a URL's user information.
const redactedPassword = "REDACTED"

// Redact returns the configuration text with every secret value written in
// it replaced, and the keys it replaced. Secrets are otherwise only named
// (password_env, password_file, access_key_env, ...), so the text is kept as
// written; the values that are secrets themselves are the webhook URL and
// the password of any URL's user information (user:password@host).
// Formatting and comments survive; text that is not valid YAML is returned
// as it is, since it never loads either.
func Redact(data []byte) ([]byte, []string) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return data, nil
	}

	type edit struct {
		n    *yaml.Node
		with string
	}

	var (
		edits []edit
		keys  []string
	)

	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], joinKey(key, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", key, i))
			}
		case yaml.ScalarNode:
			if key == "notify.webhook.url" {
				edits, keys = append(edits, edit{n, RedactedWebhook}), append(keys, key)
				return
			}

			if u, err := url.Parse(n.Value); err == nil && strings.Contains(n.Value, "://") && u.User != nil {
				if _, has := u.User.Password(); has {
					u.User = url.UserPassword(u.User.Username(), redactedPassword)
					edits, keys = append(edits, edit{n, u.String()}), append(keys, key)
				}
			}
		}
	}
	walk(doc.Content[0], "")

	if len(edits) == 0 {
		return data, nil
	}

	// Replace each value where it is written, last first so earlier
	// offsets hold; a value written in a form not matched here (escapes,
	// several lines) makes the whole document re-encoded instead.
	lines := bytes.SplitAfter(data, []byte("\n"))
	inPlace := true

	for i := len(edits) - 1; i >= 0 && inPlace; i-- {
		inPlace = replaceScalar(lines, edits[i].n, edits[i].with)
	}

	if inPlace {
		return bytes.Join(lines, nil), keys
	}

	for _, e := range edits {
		e.n.Value, e.n.Style = e.with, yaml.DoubleQuotedStyle
	}

	out, err := yaml.Marshal(&doc)
	if err != nil {
		// Never store what could not be redacted.
		return []byte("# the configuration could not be stored without its secrets\n"), keys
	}

	return out, keys
}

// replaceScalar replaces n's value where it is written, if it is written
// plainly or quoted without escapes on its own line.
func replaceScalar(lines [][]byte, n *yaml.Node, with string) bool {
	if n.Line < 1 || n.Line > len(lines) || n.Column < 1 {
		return false
	}

	line := lines[n.Line-1]
	col := n.Column - 1

	if col > len(line) {
		return false
	}

	rest := line[col:]

	for _, q := range []string{"", `"`, "'"} {
		raw := q + n.Value + q
		if !bytes.HasPrefix(rest, []byte(raw)) || (q == "" && n.Style != 0) || strings.ContainsAny(n.Value, `"'\`) {
			continue
		}

		out := append([]byte{}, line[:col]...)
		out = append(out, q+with+q...)
		out = append(out, rest[len(raw):]...)
		lines[n.Line-1] = out

		return true
	}

	return false
}

// RepositoryAt is the location of a repository given on the command line: a
// folder, or s3://bucket/prefix with the endpoint, region, TLS and CA given
// apart; the keys come from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY.
// Errors name flag, the option that gave the location.
func RepositoryAt(flag, where, endpoint, region string, tls bool, caFile string) (Repository, error) {
	m := map[string]*yaml.Node{}
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Line: 1} }

	if strings.HasPrefix(where, "s3://") {
		m["url"] = scalar(where)
		m["tls"] = scalar(fmt.Sprint(tls))

		for k, v := range map[string]string{"endpoint": endpoint, "region": region, "ca_file": caFile} {
			if v != "" {
				m[k] = scalar(v)
			}
		}
	} else {
		if strings.Contains(where, "://") {
			return Repository{}, &Error{File: flag, Msg: fmt.Sprintf("expected a folder or s3://bucket/prefix, found %q", where)}
		}

		if endpoint != "" || region != "" || caFile != "" {
			return Repository{}, &Error{File: flag, Msg: "--s3-endpoint, --s3-region and --s3-ca-file are for an s3://bucket/prefix repository, not a folder"}
		}

		m["path"] = scalar(where)
	}

	p := &parser{file: flag, baseDir: "."}

	var r Repository

	r.Path, r.S3 = p.location(&yaml.Node{Kind: yaml.MappingNode, Line: 1}, "repository", m)

	if len(p.errs) > 0 {
		for _, e := range p.errs {
			e.Line = 0
			e.Key = strings.NewReplacer("repository.url", "", "repository.path", "",
				"repository.endpoint", "--s3-endpoint", "repository.region", "--s3-region", "repository.ca_file", "--s3-ca-file").Replace(e.Key)
		}

		return Repository{}, p.errs
	}

	return r, nil
}
