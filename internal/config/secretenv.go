package config

import (
	"gopkg.in/yaml.v3"

	"lifeboat/internal/childenv"
)

// secretVar refuses a secret's variable that every program Lifeboat starts
// receives (PATH, HOME, LANG, ...): git sees only its own source, so it could
// not hold that one back.
func (p *parser) secretVar(n *yaml.Node, key string) {
	if n != nil && n.Kind == yaml.ScalarNode && childenv.Passed(n.Value) {
		p.fail(n, key, "%s is passed to every program Lifeboat starts (git, the mariadb client, plan commands), so it cannot hold a secret: name a variable of its own, e.g. LIFEBOAT_DB_PASSWORD", n.Value)
	}
}

// SecretEnv names every environment variable the configuration reads a
// secret from (database, SMTP and S3 credentials; the repository password's
// LIFEBOAT_PASSWORD is the caller's), so the programs Lifeboat starts are
// never given one of them, whatever it is called.
func (c *Config) SecretEnv() []string {
	if c == nil {
		return nil
	}

	var names []string

	add := func(ns ...string) {
		for _, n := range ns {
			if n != "" {
				names = append(names, n)
			}
		}
	}

	s3 := func(s *S3) {
		if s != nil {
			add(s.AccessKeyEnv, s.SecretKeyEnv)
		}
	}

	s3(c.Repository.S3)

	for _, cp := range c.Copies {
		s3(cp.S3)
	}

	for _, s := range c.Sources {
		add(s.SecretEnv()...)
	}

	if c.Notify.Email != nil {
		add(c.Notify.Email.PasswordEnv)
	}

	if c.Server.OIDC != nil {
		add(c.Server.OIDC.ClientSecretEnv)
	}

	return names
}

// SecretEnv names the variables a database source reads passwords from: its
// own and its verify server's.
func (s *Source) SecretEnv() []string {
	names := []string{}
	if s.MySQL.PasswordEnv != "" {
		names = append(names, s.MySQL.PasswordEnv)
	}

	if s.Image.PasswordEnv != "" {
		names = append(names, s.Image.PasswordEnv)
	}

	if m := s.MySQL.Masking; m != nil && m.KeyEnv != "" {
		names = append(names, m.KeyEnv)
	}

	if v := s.Verify.Server; v != nil && v.PasswordEnv != "" {
		names = append(names, v.PasswordEnv)
	}

	return names
}
