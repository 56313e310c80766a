package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// passwordCommand reads repository.password_command: one shell command line
// whose standard output is the password. It is only a way to the secret,
// never the secret itself, so it may sit in the configuration the
// repository keeps.
func (p *parser) passwordCommand(n *yaml.Node, m map[string]*yaml.Node, cfg *Config) {
	v, ok := m["password_command"]
	if !ok {
		return
	}

	if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
		p.fail(v, "repository.password_command", "expected a command line that prints the password, e.g. \"systemd-creds decrypt /etc/lifeboat/password.cred -\", found %s", describe(v))
		return
	}

	if strings.ContainsRune(v.Value, 0) {
		p.fail(v, "repository.password_command", "the command contains a NUL byte")
		return
	}

	if cfg.Repository.PasswordFile != "" {
		p.fail(n, "repository", "give password_file or password_command, not both")
		return
	}

	cfg.Repository.PasswordCommand = v.Value
}
