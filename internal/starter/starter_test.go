package starter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/config"
)

func filesSource(name string) *config.Source {
	return &config.Source{Name: name, Type: config.KindFiles, Tier: "important", Paths: []string{"/srv/docs", "/srv/a b"}}
}

func add(t *testing.T, text, name string) string {
	t.Helper()

	out, err := AddSource([]byte(text), name, func(indent int) string {
		return Block(filesSource(name), config.DefaultTiers()["important"], indent)
	})
	if err != nil {
		t.Fatalf("AddSource: %v", err)
	}

	cfg, err := config.Parse("lifeboat.yaml", out)
	if err != nil {
		t.Fatalf("the result does not parse: %v\n%s", err, out)
	}

	if s := cfg.Sources[name]; s == nil || len(s.Paths) != 2 || s.Paths[1] != "/srv/a b" {
		t.Fatalf("the result lacks source %s: %+v\n%s", name, s, out)
	}

	return string(out)
}

// TestAddSource: the block goes after the last source, before the next
// top-level key and its comments, and every line of the file stays.
func TestAddSource(t *testing.T) {
	repo := "repository:\n  path: /r\n"

	for _, c := range []struct{ name, text string }{
		{"sources last", repo + "sources:\n    old:\n        type: files\n        paths: [/x]\n"},
		{"sources empty", repo + "sources:   # none yet\n"},
		{"sources empty, no newline at the end", repo + "sources:"},
		{"sources before other keys", repo + "sources:\n  old:\n    type: files\n    paths: [/x]\n    # a comment of old\n\n# about jobs\njobs:\n  prune: \"30 3 * * *\"\n"},
		{"no sources key", repo + "# the end\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := add(t, c.text, "docs")

			// The file's lines are all there, in order.
			rest := out
			for _, l := range strings.Split(strings.TrimSuffix(c.text, "\n"), "\n") {
				i := strings.Index(rest, l)
				if i < 0 {
					t.Fatalf("line %q lost or moved:\n%s", l, out)
				}

				rest = rest[i+len(l):]
			}

			if strings.Contains(c.text, "    old:") && !strings.Contains(out, "\n    docs:\n") {
				t.Errorf("the block does not follow the file's indentation:\n%s", out)
			}

			if strings.Contains(c.text, "# about jobs") && strings.Index(out, "docs:") > strings.Index(out, "# about jobs") {
				t.Errorf("the block went below the next key's comment:\n%s", out)
			}
		})
	}

	// Flow style: rewritten from the parsed form, still valid.
	for _, text := range []string{repo + "sources: {}\n", repo + "sources: {old: {type: files, paths: [/x]}}\n", "{repository: {path: /r}}\n"} {
		add(t, text, "docs")
	}

	_, err := AddSource([]byte(repo+"sources:\n  docs:\n    type: git\n    path: /x\n"), "docs", func(int) string { return "" })
	if !errors.Is(err, ErrSourceExists) {
		t.Errorf("a name that exists: %v", err)
	}

	for _, bad := range []string{"", "[a, b]\n", repo + "sources: [a]\n", "a: [\n"} {
		if _, err := AddSource([]byte(bad), "docs", func(int) string { return "  docs: {}\n" }); err == nil {
			t.Errorf("AddSource(%q) accepted it", bad)
		}
	}
}

// TestBlockDefaults: every kind in every tier, and a tier of the file's own
// stricter than an hour, yields a source that parses with its schedule and
// retention.
func TestBlockDefaults(t *testing.T) {
	tiers := config.DefaultTiers()
	tiers["gold"] = config.Tier{RTO: time.Hour, RPO: 15 * time.Minute}

	for tier, obj := range tiers {
		for _, s := range []*config.Source{
			{Name: "f", Type: config.KindFiles, Paths: []string{"/srv/f"}},
			{Name: "g", Type: config.KindGit, Path: "/srv/g"},
			{Name: "d", Type: config.KindMySQL, MySQL: config.MySQL{Host: "db.internal", Port: 3307, User: "bk", PasswordEnv: "DB_PW", Databases: []string{"shop"}}},
			{Name: "s", Type: config.KindMySQL, MySQL: config.MySQL{Socket: "/run/mysqld/mysqld.sock", User: "root", PasswordFile: "/etc/pw", TLS: true}},
		} {
			s.Tier = tier
			text := "repository:\n  path: /r\ntiers:\n  gold: {rto: 1h, rpo: 15m}\nsources:\n" + Block(s, obj, 2)

			cfg, err := config.Parse("lifeboat.yaml", []byte(text))
			if err != nil {
				t.Fatalf("%s in tier %s: %v\n%s", s.Type, tier, err, text)
			}

			got := cfg.Sources[s.Name]
			if len(got.Schedule) == 0 || got.Retention.IsZero() || got.Tier != tier {
				t.Errorf("%s in tier %s: %+v", s.Type, tier, got)
			}

			if s.Type == config.KindMySQL && (got.MySQL.Host != s.MySQL.Host && s.MySQL.Socket == "" || got.MySQL.PasswordEnv != s.MySQL.PasswordEnv || got.MySQL.TLS != s.MySQL.TLS) {
				t.Errorf("%s in tier %s: the connection changed: %+v", s.Name, tier, got.MySQL)
			}

			if tier == "gold" && !strings.Contains(text, "@every 15m") {
				t.Errorf("a 15m RPO is not met:\n%s", text)
			}
		}
	}
}

func TestParseDSN(t *testing.T) {
	for dsn, want := range map[string]config.MySQL{
		"bk@tcp(db.internal:3307)/shop,app":   {Host: "db.internal", Port: 3307, User: "bk", Databases: []string{"shop", "app"}},
		"root@unix(/run/mysqld/mysqld.sock)/": {Host: "127.0.0.1", Port: 3306, User: "root", Socket: "/run/mysqld/mysqld.sock"},
		"bk@tcp(db)/shop?tls=true":            {Host: "db", Port: 3306, User: "bk", TLS: true, Databases: []string{"shop"}},
		"mysql://bk@db.internal:3307/shop":    {Host: "db.internal", Port: 3307, User: "bk", Databases: []string{"shop"}},
		"mysql://localhost/shop?socket=/s":    {Host: "127.0.0.1", Port: 3306, User: "root", Socket: "/s", Databases: []string{"shop"}},
		"/":                                   {Host: "127.0.0.1", Port: 3306, User: "root"},
	} {
		got, err := ParseDSN(dsn)
		if err != nil || got.Host != want.Host || got.Port != want.Port || got.User != want.User || got.Socket != want.Socket ||
			got.TLS != want.TLS || strings.Join(got.Databases, ",") != strings.Join(want.Databases, ",") {
			t.Errorf("ParseDSN(%q) = %+v, %v; want %+v", dsn, got, err, want)
		}
	}

	for _, dsn := range []string{"bk:pw@tcp(db)/shop", "mysql://bk:pw@db/shop", "mysql://bk:@db/shop"} {
		if _, err := ParseDSN(dsn); !errors.Is(err, ErrPasswordInDSN) {
			t.Errorf("ParseDSN(%q): %v, want ErrPasswordInDSN", dsn, err)
		}
	}

	for _, dsn := range []string{"db.internal", "bk@tcp(db)/shop?timeout=5s", "mysql://bk@db:99999/shop", "mysql://bk:pw@db:x/shop"} {
		_, err := ParseDSN(dsn)
		if err == nil {
			t.Errorf("ParseDSN(%q) accepted it", dsn)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("ParseDSN(%q): the message repeats the password: %v", dsn, err)
		}
	}
}

func TestScalar(t *testing.T) {
	for in, want := range map[string]string{
		"/srv/docs": "/srv/docs", "127.0.0.1": "127.0.0.1", "yes": "yes", "true": `"true"`, "3306": `"3306"`, "a b": `"a b"`,
		"#x": `"#x"`, "a,b": `"a,b"`, "": `""`, "null": `"null"`, "1e3": `"1e3"`,
	} {
		if got := Scalar(in); got != want {
			t.Errorf("Scalar(%q) = %s, want %s", in, got, want)
		}
	}

	if got := Duration(168 * time.Hour); got != "7d" {
		t.Errorf("Duration(168h) = %s", got)
	}
}

func TestInitial(t *testing.T) {
	for _, r := range []config.Repository{
		{Path: "/srv/backups"},
		{S3: &config.S3{Bucket: "b", Prefix: "p/", Endpoint: "s3.example.org:8333", Region: "eu", TLS: true, CAFile: "/etc/ca.pem"}},
		{S3: &config.S3{Bucket: "b", Endpoint: "127.0.0.1:8333"}},
	} {
		text := string(Initial(r)) + "  docs:\n    type: files\n    paths: [/srv/docs]\n"

		cfg, err := config.Parse("lifeboat.yaml", []byte(text))
		if err != nil {
			t.Fatalf("Initial(%+v) with a source: %v\n%s", r, err, text)
		}

		if got := cfg.Repository.Location(); got != r.Location() {
			t.Errorf("repository %s, want %s", got, r.Location())
		}

		if got := cfg.Repository.S3; r.S3 != nil && (got.TLS != r.S3.TLS || got.Region != r.S3.Region || got.CAFile != r.S3.CAFile) {
			t.Errorf("S3 options lost: %+v", cfg.Repository.S3)
		}
	}

	_, err := config.Parse("lifeboat.yaml", Initial(config.Repository{Path: "/r"}))
	if err == nil || !strings.Contains(err.Error(), config.NoSourcesHint) {
		t.Errorf("Initial without sources: %v", err)
	}
}
