package config

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Server is the daemon's HTTP endpoint (/metrics, /healthz, /readyz and
// the API under /api/v1).
type Server struct {
	Listen string
	// TLS is the certificate the endpoint serves; nil uses a self-signed
	// one kept in the state folder.
	TLS *ServerTLS
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers (0: the default).
	ReadHeaderTimeout time.Duration
	// OIDC is single sign-on through an OpenID provider; nil: none.
	OIDC *OIDC
}

// ServerTLS is server.tls: a certificate and key (PEM files), or Off for
// plain HTTP, which only a loopback address may serve.
type ServerTLS struct {
	Cert, Key string
	Off       bool
}

// Daemon tunes the long-running daemon.
type Daemon struct {
	// Concurrency is how many jobs run at once across all sources.
	Concurrency int
	// Jitter delays each scheduled run by a random time up to this long, so
	// many hosts do not hit one repository at the same second.
	Jitter time.Duration
	// StopTimeout is how long SIGTERM waits for running jobs before it
	// aborts them (an aborted backup saves nothing).
	StopTimeout time.Duration
}

// Jobs are the repository-wide scheduled jobs.
type Jobs struct {
	Verify string
	// RestoreTest restores each source's newest snapshot and checks it.
	RestoreTest string
	// Point backs up every source together (full) as one recovery point.
	Point string
	Prune string
}

// Notify says where failures, recoveries and RPO breaches are sent.
type Notify struct {
	Webhook *Webhook
	Email   *Email
	// Interval is the least time between two messages about one subject.
	Interval time.Duration
}

// Webhook posts JSON (or Slack's {"text": ...} shape) to a URL.
type Webhook struct {
	URL    string
	Format string
}

// Email sends plain-text mail over SMTP.
type Email struct {
	SMTP         string
	From         string
	To           []string
	Username     string
	PasswordEnv  string
	PasswordFile string
	StartTLS     bool
}

// Audit is where the hash-chained audit log is kept on this machine.
type Audit struct {
	Path string
}

// Retention is which snapshots of a source prune keeps: the union of the rules.
type Retention struct {
	Latest  int
	Hourly  int
	Daily   int
	Weekly  int
	Monthly int
	Yearly  int
	Within  time.Duration
}

// IsZero reports a source without rules (prune keeps all of it).
func (r Retention) IsZero() bool { return r == Retention{} }

// CronParser reads the schedules: five fields or a descriptor (@hourly,
// @every 90m).
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// EnvAuditLog overrides the default audit log path (audit.path still wins).
const EnvAuditLog = "LIFEBOAT_AUDIT_LOG"

// DefaultAuditPath is where the audit log lives unless audit.path says.
func DefaultAuditPath() string {
	if p := os.Getenv(EnvAuditLog); p != "" {
		return p
	}

	if os.Geteuid() == 0 {
		return "/var/lib/lifeboat/audit.jsonl"
	}

	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "lifeboat", "audit.jsonl")
	}

	home, _ := os.UserHomeDir()

	return filepath.Join(home, ".local", "state", "lifeboat", "audit.jsonl")
}

func (p *parser) cronSpec(n *yaml.Node, key string) string {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		p.fail(n, key, "expected a cron expression such as \"0 2 * * *\" or @hourly, found %s", describe(n))
		return ""
	}

	if _, err := CronParser.Parse(n.Value); err != nil {
		p.fail(n, key, "invalid cron expression %q: %v; expected five fields (minute hour day-of-month month day-of-week) such as \"0 2 * * *\", or @hourly, @daily, @every 30m", n.Value, err)
		return ""
	}

	return n.Value
}

// schedule reads a source's schedule: one cron string (the source's usual
// backup type) or a mapping of backup types to cron strings.
func (p *parser) schedule(n *yaml.Node, key string, s *Source) {
	s.Schedule = map[string]string{}

	if n.Kind == yaml.ScalarNode {
		typ := "full"
		if s.Type == KindFiles {
			// Every files snapshot is complete; an incremental only skips
			// reading unchanged files.
			typ = "incremental"
		}

		if spec := p.cronSpec(n, key); spec != "" {
			s.Schedule[typ] = spec
		}

		return
	}

	types := []string{"full", "incremental", "differential"}
	if s.Type == KindMySQL {
		// A database source may also take physical backups on their own
		// schedule (a weekly physical beside daily logical ones).
		types = append(types, PhysicalSchedule+"full", PhysicalSchedule+"incremental", PhysicalSchedule+"differential")
	}

	m := p.mapping(n, key, types...)
	for _, typ := range sortedKeys(m) {
		if spec := p.cronSpec(m[typ], key+"."+typ); spec != "" {
			s.Schedule[typ] = spec
		}
	}
}

func (p *parser) retention(n *yaml.Node, key string) Retention {
	var r Retention

	before := len(p.errs)
	m := p.mapping(n, key, "latest", "hourly", "daily", "weekly", "monthly", "yearly", "within")

	for _, f := range []struct {
		k   string
		dst *int
	}{{"latest", &r.Latest}, {"hourly", &r.Hourly}, {"daily", &r.Daily}, {"weekly", &r.Weekly}, {"monthly", &r.Monthly}, {"yearly", &r.Yearly}} {
		v, ok := m[f.k]
		if !ok {
			continue
		}

		i, err := strconv.Atoi(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode || i < 0 || i > 100000 {
			p.fail(v, key+"."+f.k, "expected how many snapshots to keep, a whole number from 0, found %s", describe(v))
			continue
		}

		*f.dst = i
	}

	if v, ok := m["within"]; ok {
		d, err := ParseDuration(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode || d <= 0 {
			p.fail(v, key+".within", "expected a duration such as 90d or 36h, found %s", describe(v))
		}

		r.Within = d
	}

	if len(m) > 0 && r.IsZero() && len(p.errs) == before {
		p.fail(n, key, "every rule is 0: this would keep nothing but the newest verified snapshot; remove retention to keep everything")
	}

	return r
}

func (p *parser) server(n *yaml.Node, cfg *Config) {
	m := p.mapping(n, "server", "listen", "tls", "read_header_timeout", "oidc")

	if v, ok := m["listen"]; ok {
		if _, _, err := net.SplitHostPort(v.Value); err != nil || v.Kind != yaml.ScalarNode {
			p.fail(v, "server.listen", "expected host:port such as 127.0.0.1:9750, found %s", describe(v))
			return
		}

		cfg.Server.Listen = v.Value
	}

	if v, ok := m["read_header_timeout"]; ok {
		d, err := ParseDuration(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode || d <= 0 {
			p.fail(v, "server.read_header_timeout", "expected a duration such as 5s, found %s", describe(v))
		} else {
			cfg.Server.ReadHeaderTimeout = d
		}
	}

	if v, ok := m["tls"]; ok {
		cfg.Server.TLS = p.serverTLS(v)
	}

	if v, ok := m["oidc"]; ok {
		cfg.Server.OIDC = p.oidc(v)
	}
}

// serverTLS reads server.tls: {cert, key}, or off.
func (p *parser) serverTLS(n *yaml.Node) *ServerTLS {
	if n.Kind == yaml.ScalarNode && (n.Value == "off" || n.Value == "false") {
		return &ServerTLS{Off: true}
	}

	if n.Kind != yaml.MappingNode {
		p.fail(n, "server.tls", "expected {cert: FILE, key: FILE}, or off for plain HTTP on a loopback address, found %s", describe(n))
		return nil
	}

	m := p.mapping(n, "server.tls", "cert", "key")
	t := &ServerTLS{}

	for _, f := range []struct {
		k   string
		dst *string
	}{{"cert", &t.Cert}, {"key", &t.Key}} {
		v, ok := m[f.k]
		if !ok {
			p.fail(n, "server.tls", "%s is missing: give both cert and key (PEM files), or leave server.tls out for a self-signed certificate", f.k)
			continue
		}

		*f.dst = p.absPath(v, "server.tls."+f.k)
	}

	return t
}

func (p *parser) daemon(n *yaml.Node, cfg *Config) {
	m := p.mapping(n, "daemon", "concurrency", "jitter", "stop_timeout")

	if v, ok := m["concurrency"]; ok {
		i, err := strconv.Atoi(v.Value)
		if err != nil || i < 1 || i > 64 {
			p.fail(v, "daemon.concurrency", "expected a whole number from 1 to 64, found %s", describe(v))
		} else {
			cfg.Daemon.Concurrency = i
		}
	}

	for _, f := range []struct {
		k   string
		dst *time.Duration
	}{{"jitter", &cfg.Daemon.Jitter}, {"stop_timeout", &cfg.Daemon.StopTimeout}} {
		if v, ok := m[f.k]; ok {
			d, err := ParseDuration(v.Value)
			if err != nil || d < 0 {
				p.fail(v, "daemon."+f.k, "expected a duration such as 30s or 5m, found %s", describe(v))
				continue
			}

			*f.dst = d
		}
	}
}

func (p *parser) jobs(n *yaml.Node, cfg *Config) {
	m := p.mapping(n, "jobs", "verify", "restore_test", "point", "prune")

	if v, ok := m["point"]; ok {
		cfg.Jobs.Point = p.cronSpec(v, "jobs.point")
	}

	if v, ok := m["restore_test"]; ok {
		cfg.Jobs.RestoreTest = p.cronSpec(v, "jobs.restore_test")
	}

	if v, ok := m["verify"]; ok {
		cfg.Jobs.Verify = p.cronSpec(v, "jobs.verify")
	}

	if v, ok := m["prune"]; ok {
		cfg.Jobs.Prune = p.cronSpec(v, "jobs.prune")
	}
}

func (p *parser) notify(n *yaml.Node, cfg *Config) {
	m := p.mapping(n, "notify", "webhook", "email", "interval")

	if v, ok := m["interval"]; ok {
		d, err := ParseDuration(v.Value)
		if err != nil || d < 0 {
			p.fail(v, "notify.interval", "expected a duration such as 1h, found %s", describe(v))
		} else {
			cfg.Notify.Interval = d
		}
	}

	if v, ok := m["webhook"]; ok {
		wm := p.mapping(v, "notify.webhook", "url", "format")
		w := &Webhook{Format: "json"}

		if u, ok := wm["url"]; ok {
			pu, err := url.Parse(u.Value)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				// Only the scheme is echoed: the rest may be the hook's secret token.
				p.fail(u, "notify.webhook.url", "expected an http:// or https:// URL, found one with scheme %q (the rest is not shown)", schemeOf(u.Value))
			}

			w.URL = u.Value
		} else {
			p.fail(v, "notify.webhook.url", "missing; expected the URL to POST to")
		}

		if f, ok := wm["format"]; ok {
			if f.Value != "json" && f.Value != "slack" {
				p.fail(f, "notify.webhook.format", "expected json or slack, found %s", describe(f))
			}

			w.Format = f.Value
		}

		cfg.Notify.Webhook = w
	}

	if v, ok := m["email"]; ok {
		em := p.mapping(v, "notify.email", "smtp", "from", "to", "username", "password_env", "password_file", "starttls")
		e := &Email{}

		if s, ok := em["smtp"]; ok {
			if _, _, err := net.SplitHostPort(s.Value); err != nil {
				p.fail(s, "notify.email.smtp", "expected host:port such as mail.example.org:587, found %s", describe(s))
			}

			e.SMTP = s.Value
		} else {
			p.fail(v, "notify.email.smtp", "missing; expected the SMTP server as host:port")
		}

		if s, ok := em["from"]; ok {
			e.From = s.Value
		} else {
			p.fail(v, "notify.email.from", "missing; expected the sender address")
		}

		if s, ok := em["to"]; ok {
			e.To = p.stringList(s, "notify.email.to")
		} else {
			p.fail(v, "notify.email.to", "missing; expected a list of recipient addresses")
		}

		if s, ok := em["username"]; ok {
			e.Username = s.Value
		}

		if s, ok := em["password_env"]; ok {
			e.PasswordEnv = s.Value
		}

		p.secretVar(em["password_env"], "notify.email.password_env")

		if s, ok := em["password_file"]; ok {
			e.PasswordFile = p.absPath(s, "notify.email.password_file")
		}

		if s, ok := em["starttls"]; ok {
			b, err := strconv.ParseBool(s.Value)
			if err != nil {
				p.fail(s, "notify.email.starttls", "expected true or false, found %s", describe(s))
			}

			e.StartTLS = b
		}

		for _, a := range append([]string{e.From}, e.To...) {
			if a != "" && !strings.Contains(a, "@") {
				p.fail(v, "notify.email", "%q is not an email address", a)
			}
		}

		cfg.Notify.Email = e
	}
}

func (p *parser) audit(n *yaml.Node, cfg *Config) {
	m := p.mapping(n, "audit", "path")

	if v, ok := m["path"]; ok {
		cfg.Audit.Path = p.absPath(v, "audit.path")
	}
}

// schemeOf is what precedes "://" in a value that should be a URL, or "".
func schemeOf(v string) string {
	if i := strings.Index(v, "://"); i > 0 && i <= 16 {
		return v[:i]
	}

	return ""
}
