package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRedact: the webhook URL and URL passwords are replaced wherever and
// however they are written; everything else, comments included, stays as
// written; text without secrets comes back unchanged.
func TestRedact(t *testing.T) {
	base := "repository:\n  path: /b # where\nsources:\n  s:\n    type: files\n    paths: [/d]\n"

	cases := []struct {
		name, in string
		keys     []string
		secrets  []string
		kept     []string
	}{
		{"nothing to redact", base, nil, nil, []string{"path: /b # where\n"}},
		{"plain", base + "notify:\n  webhook:\n    url: https://h.example/s/TOK1 # hook\n", []string{"notify.webhook.url"},
			[]string{"TOK1"}, []string{"    url: " + RedactedWebhook + " # hook\n", "path: /b # where\n"}},
		{"double-quoted", base + "notify:\n  webhook:\n    url: \"https://h.example/s/TOK2\"\n", []string{"notify.webhook.url"},
			[]string{"TOK2"}, []string{`url: "` + RedactedWebhook + `"`}},
		{"flow mapping", base + "notify:\n  webhook: {url: https://h.example/s/TOK3, format: slack}\n", []string{"notify.webhook.url"},
			[]string{"TOK3"}, []string{"{url: " + RedactedWebhook + ", format: slack}"}},
		{"escaped, re-encoded", base + "notify:\n  webhook:\n    url: \"https://h.example/s/TOK\\x34\"\n", []string{"notify.webhook.url"},
			[]string{"TOK4", `TOK\x34`}, []string{RedactedWebhook}},
		{"URL password", base + "plans:\n  p:\n    steps:\n      - check: {url: \"https://u:PASS5@h.example/health\"}\n",
			[]string{"plans.p.steps[0].check.url"}, []string{"PASS5"}, []string{"https://u:REDACTED@h.example/health"}},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, keys := Redact([]byte(c.in))

			if strings.Join(keys, ",") != strings.Join(c.keys, ",") {
				t.Errorf("redacted keys %v, want %v", keys, c.keys)
			}

			for _, s := range c.secrets {
				if strings.Contains(string(out), s) {
					t.Errorf("secret %q left in:\n%s", s, out)
				}
			}

			for _, k := range c.kept {
				if !strings.Contains(string(out), k) {
					t.Errorf("%q missing from:\n%s", k, out)
				}
			}

			if c.keys == nil && string(out) != c.in {
				t.Errorf("text without secrets changed:\n%s", out)
			}

			if _, err := Parse("x.yaml", out); err != nil && strings.Contains(c.in, "notify") {
				t.Errorf("the redacted configuration does not load: %v", err)
			}
		})
	}
}

// TestFind: the flag, then $LIFEBOAT_CONFIG, then ./lifeboat.yaml, then the
// system file; nothing found says so.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	system := filepath.Join(dir, "etc", "lifeboat.yaml")
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	if p, ok := Find("", getenv, system); ok || p != DefaultFile {
		t.Errorf("nothing there: Find = %q, %v; want %q, false", p, ok, DefaultFile)
	}

	os.MkdirAll(filepath.Dir(system), 0o755)
	os.WriteFile(system, []byte("x"), 0o600)

	if p, ok := Find("", getenv, system); !ok || p != system {
		t.Errorf("only the system file: Find = %q, %v; want %q", p, ok, system)
	}

	os.WriteFile(DefaultFile, []byte("x"), 0o600)

	if p, ok := Find("", getenv, system); !ok || p != DefaultFile {
		t.Errorf("working directory's and system file: Find = %q, %v; want the working directory's", p, ok)
	}

	env[EnvConfig] = "/from/env.yaml"

	if p, _ := Find("", getenv, system); p != "/from/env.yaml" {
		t.Errorf("with $%s: Find = %q", EnvConfig, p)
	}

	if p, _ := Find("/flag.yaml", getenv, system); p != "/flag.yaml" {
		t.Errorf("with the flag: Find = %q", p)
	}
}

// TestRepositoryAt: a folder or a bucket from the command line, with
// errors that name the flags.
func TestRepositoryAt(t *testing.T) {
	r, err := RepositoryAt("--repo", "s3://bk/pre/fix", "s3.local:8333", "eu-1", false, "")
	if err != nil || r.S3 == nil || r.S3.Bucket != "bk" || r.S3.Prefix != "pre/fix/" || r.S3.Endpoint != "s3.local:8333" || r.S3.TLS || r.S3.AccessKeyEnv != "AWS_ACCESS_KEY_ID" {
		t.Errorf("s3: %+v, %v", r.S3, err)
	}

	if r, err := RepositoryAt("--repo", "/backups/x", "", "", true, ""); err != nil || r.Path != "/backups/x" {
		t.Errorf("folder: %+v, %v", r, err)
	}

	for _, c := range []struct{ where, endpoint, want string }{
		{"/backups/x", "h:1", "--s3-endpoint, --s3-region and --s3-ca-file are for an s3://"},
		{"https://x/y", "", "expected a folder or s3://bucket/prefix"},
		{"s3://", "", "expected s3://bucket"},
		{"s3://b", "http://h", "--s3-endpoint: expected host or host:port without a scheme"},
	} {
		if _, err := RepositoryAt("--repo", c.where, c.endpoint, "", true, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RepositoryAt(%q, endpoint %q): %v, want %q", c.where, c.endpoint, err, c.want)
		}
	}
}
