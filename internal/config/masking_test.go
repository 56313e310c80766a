package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const maskingHead = "repository: {path: /r}\nsources:\n  db:\n    type: mysql\n    masking:\n"

func TestMaskingRulesRead(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(maskingHead+`      key_env: LIFEBOAT_MASKING_KEY
      rules:
        sml_library.users.email: email
        sml_library.users.phone: phone
        sml_library.users.born: {date_shift: 30d}
        sml_library.users.score: {number_noise: 10%}
        sml_library.users.code: {hash: {format: true}}
        sml_library.users.card: {regexp: {match: '\d{12}', replace: XXXXXXXXXXXX}}
        sml_library.users.tier: {fixed: basic}
        sml_library.users.profile: {json: {"$.address": address, "$.phones[*]": phone}}
        sml_library.users.id: keep
`))
	if err != nil {
		t.Fatal(err)
	}

	m := cfg.Sources["db"].MySQL.Masking
	if m == nil || m.KeyEnv != "LIFEBOAT_MASKING_KEY" || m.Mode != MaskStrict || len(m.Rules) != 9 {
		t.Fatalf("masking: %+v", m)
	}

	r := m.Rules
	if r["sml_library.users.email"].Kind != "email" || r["sml_library.users.born"].Value != "30d" || r["sml_library.users.score"].Value != "10%" ||
		!r["sml_library.users.code"].Format || r["sml_library.users.card"].Replace != "XXXXXXXXXXXX" || r["sml_library.users.tier"].Value != "basic" ||
		r["sml_library.users.profile"].JSON["$.phones[*]"].Kind != "phone" || r["sml_library.users.id"].Kind != "keep" {
		t.Fatalf("rules: %+v", r)
	}

	// The key's variable is a secret: the programs Lifeboat starts never get it.
	if !strings.Contains(strings.Join(cfg.SecretEnv(), ","), "LIFEBOAT_MASKING_KEY") {
		t.Fatalf("secret variables %v lack the masking key's", cfg.SecretEnv())
	}
}

func TestMaskingErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"      rules: {a.b.c: email}\n", "c.yaml:6: sources.db.masking.key_env: missing: masked copies need a masking key"},
		{"      key_env: K\n      key_file: /k\n", "sources.db.masking: give key_env or key_file, not both"},
		{"      key_env: K\n      mode: lenient\n", "c.yaml:7: sources.db.masking.mode: expected strict or permissive"},
		{"      key_env: K\n      rules: {db.users.email: emial}\n", `c.yaml:7: sources.db.masking.rules.db.users.email: unknown transformer "emial"; expected one of: email, name`},
		{"      key_env: K\n      rules: {users.email: email}\n", "sources.db.masking.rules.users.email: expected a column as database.table.column"},
		{"      key_env: K\n      rules: {db.u.born: {date_shift: soon}}\n", "sources.db.masking.rules.db.u.born: date_shift: expected a span"},
		{"      key_env: K\n      rules: {db.u.n: {number_noise: lots}}\n", "number_noise: expected a share"},
		{"      key_env: K\n      rules: {db.u.n: {email: yes}}\n", "email takes no argument"},
		{"      key_env: K\n      rules: {db.u.n: json}\n", "json needs its paths"},
		{"      key_env: K\n      rules: {db.u.p: {json: {address: address}}}\n", "expected a path such as $.address"},
		{"      key_env: K\n      rules: {db.u.p: {regexp: {match: '('}}}\n", "regexp: match"},
		{"      key_env: K\n      rules: {db.u.p: {hash: 1, fixed: 2}}\n", "expected one transformer"},
		{"      key_env: PATH\n", "PATH is passed to every program"},
		{"      key_env: K\n      salt: x\n", "sources.db.masking.salt: unknown key"},
	} {
		_, err := Parse("c.yaml", []byte(maskingHead+c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.body, err, c.want)
		}
	}

	_, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db:\n    type: mysql\n    verify: {masked: true}\n"))
	if err == nil || !strings.Contains(err.Error(), "sources.db.verify.masked: a masked restore test needs the source's masking rules") {
		t.Errorf("masked verify without rules: %v", err)
	}
}

func TestMaskingKey(t *testing.T) {
	m := &Masking{KeyEnv: "K"}

	if _, err := m.Key(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "variable K is not set") {
		t.Errorf("unset: %v", err)
	}

	if _, err := m.Key(func(string) string { return "short" }); err == nil || !strings.Contains(err.Error(), "must be at least 16") || strings.Contains(err.Error(), "short") {
		t.Errorf("short key (and never echoed): %v", err)
	}

	if k, err := m.Key(func(string) string { return "a-long-enough-masking-key" }); err != nil || string(k) != "a-long-enough-masking-key" {
		t.Errorf("env key: %q %v", k, err)
	}

	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte("a-long-enough-masking-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if k, err := (&Masking{KeyFile: file}).Key(nil); err != nil || string(k) != "a-long-enough-masking-key" {
		t.Errorf("file key: %q %v", k, err)
	}

	if _, err := (&Masking{KeyFile: file + ".missing"}).Key(nil); err == nil || !strings.Contains(err.Error(), "read the masking key file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestExampleMasksUsersAndNotes(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "examples", "sml-library", "lifeboat.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	m := cfg.Sources["database"].MySQL.Masking
	if m == nil || m.KeyEnv != "LIFEBOAT_MASKING_KEY" || m.Mode != MaskStrict {
		t.Fatalf("masking: %+v", m)
	}

	for col, kind := range map[string]string{"sml_library.users.email": "email", "sml_library.users.name": "name", "sml_library.bookings.notes": "text"} {
		if m.Rules[col].Kind != kind {
			t.Errorf("%s: %+v, want %s", col, m.Rules[col], kind)
		}
	}

	if m.Rules["sml_library.users.preferences"].JSON["$.phone"].Kind != "phone" {
		t.Errorf("users' phone (in preferences): %+v", m.Rules["sml_library.users.preferences"])
	}
}
