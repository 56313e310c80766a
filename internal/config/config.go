// Package config owns lifeboat.yaml: its typed shape, the defaults that encode the
// backup guide's policy, and validation whose every error names the file, the line,
// the key and what was expected. It never reads secrets' contents and never logs them.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// DefaultFile is the configuration looked up in the working directory.
const DefaultFile = "lifeboat.yaml"

// EnvConfig names the environment variable that points at the configuration.
const EnvConfig = "LIFEBOAT_CONFIG"

// Config is a validated lifeboat.yaml.
type Config struct {
	// File is the path the configuration was read from; errors name it.
	File string
	// Text is the file as it was read, kept so the repository can store the
	// configuration each command ran with.
	Text       []byte
	Repository Repository
	Tiers      map[string]Tier
	// Sources by name; SourceNames keeps the file's order so `backup` with no
	// name runs them as the user listed them.
	Sources     map[string]*Source
	SourceNames []string
	Server      Server
	Daemon      Daemon
	Jobs        Jobs
	Notify      Notify
	Audit       Audit
	// Plans by name; PlanNames keeps the file's order.
	Plans     map[string]*Plan
	PlanNames []string
	// Copies of the repository by name; CopyNames keeps the file's order.
	Copies    map[string]*Copy
	CopyNames []string
}

// Repository says where the repository lives and where its password comes from.
type Repository struct {
	// Path is a local (or mounted) folder; S3 is an S3-compatible bucket.
	// Exactly one is set.
	Path         string
	S3           *S3
	PasswordFile string
	// PasswordCommand prints the password on its standard output (a
	// secrets manager's CLI, systemd-creds decrypt); run by /bin/sh.
	PasswordCommand string
}

// Location names the repository in messages, never with a secret.
func (r Repository) Location() string {
	if r.S3 != nil {
		return r.S3.URL()
	}

	return r.Path
}

// S3 is a repository in an S3-compatible bucket (AWS S3, MinIO, Ceph,
// SeaweedFS, ...). Credentials come only from the environment or files.
type S3 struct {
	Bucket   string
	Prefix   string
	Endpoint string
	Region   string
	// AccessKeyEnv and SecretKeyEnv name environment variables (default
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); the *File fields name
	// files holding them instead.
	AccessKeyEnv  string
	SecretKeyEnv  string
	AccessKeyFile string
	SecretKeyFile string
	// TLS is on unless the configuration turns it off; CAFile trusts a
	// private certificate authority.
	TLS    bool
	CAFile string
	// UploadLimit caps upload bandwidth in bytes per second (0: none);
	// UploadHours, when set, only in those hours.
	UploadLimit float64
	UploadHours *Window
	// ImmutableFor writes every object with an S3 Object Lock retention of
	// this long, in LockMode (compliance or governance), so credentials that
	// can write cannot delete or change them before it ends.
	ImmutableFor time.Duration
	LockMode     string
}

// URL is s3://bucket/prefix at the endpoint.
func (s *S3) URL() string {
	u := "s3://" + s.Bucket
	if s.Prefix != "" {
		u += "/" + strings.TrimSuffix(s.Prefix, "/")
	}

	return u + " at " + s.Endpoint
}

// Tier is a recovery objective: how long a recovery may take and how much data may be lost.
type Tier struct {
	RTO time.Duration
	RPO time.Duration
}

// Source kinds understood by this version.
const (
	KindFiles = "files"
	KindGit   = "git"
	KindMySQL = "mysql"
)

// Source is one thing to back up.
type Source struct {
	Name string
	Type string
	Tier string
	// files
	Paths            []string
	Include          []string
	Exclude          []string
	IgnoreUnreadable bool
	// git
	Path string
	// mysql
	MySQL MySQL
	// image
	Image Image
	// Schedule maps a backup type to its cron expression (the daemon's).
	Schedule map[string]string
	// Retention is what prune keeps.
	Retention Retention
	// Verify is how restore tests check the source.
	Verify Verify
}

// MySQL is how to reach a MariaDB/MySQL server and what to take from it.
type MySQL struct {
	Host         string
	Port         int
	Socket       string
	User         string
	PasswordEnv  string
	PasswordFile string
	TLS          bool
	TLSCA        string
	// Databases to back up; empty means every user database.
	Databases []string
	// Accounts also keeps users and grants, so a blank server can be rebuilt.
	Accounts bool
	// Workers is how many connections dump (and load) tables in parallel,
	// and replay the binlog of a logical point-in-time recovery.
	Workers int
	Binlog  Binlog
	// Masking, when set, is how masked restores and exports replace
	// personal data.
	Masking *Masking
	// Mode is how full backups are taken: ModeLogical (rows dumped over a
	// connection) or ModePhysical (mariadb-backup's hot copy of the files).
	Mode string
}

// PhysicalSchedule prefixes a schedule's backup type (physical_full) that
// a mysql source takes physically whatever its mode.
const PhysicalSchedule = "physical_"

// The ways a mysql source takes its full backups.
const (
	ModeLogical  = "logical"
	ModePhysical = "physical"
)

// Binlog is how a database source's binary log is archived.
type Binlog struct {
	// ServerID is the replica id Lifeboat registers with; it must differ from
	// every server and replica in the topology.
	ServerID uint32
	// SegmentInterval closes a segment this long after its first event, so
	// the archive is at most this far behind the server (plus the write).
	SegmentInterval time.Duration
	// SegmentSeconds is the older whole-second form, read only when
	// SegmentInterval is zero (a Binlog built in code); the parser always
	// fills SegmentInterval.
	SegmentSeconds int
	// SegmentBytes closes a segment at this size.
	SegmentBytes int64
	// Stream makes the daemon archive the binlog continuously.
	Stream bool
	// CompactAfter is how old a segment's last event must be before
	// compaction merges it into an hourly piece.
	CompactAfter time.Duration
}

// DefaultSegmentInterval keeps a commit's way to durable under a second at
// p99 (the interval plus the segment's write) under bench/pitr's workload of
// 300 commits a second.
const DefaultSegmentInterval = 500 * time.Millisecond

// Interval is how long after its first event a segment is closed.
func (b Binlog) Interval() time.Duration {
	if b.SegmentInterval > 0 {
		return b.SegmentInterval
	}

	if b.SegmentSeconds > 0 {
		return time.Duration(b.SegmentSeconds) * time.Second
	}

	return DefaultSegmentInterval
}

// DefaultTiers are the guide's recovery objectives.
func DefaultTiers() map[string]Tier {
	return map[string]Tier{
		"critical":  {RTO: 4 * time.Hour, RPO: time.Hour},
		"important": {RTO: 24 * time.Hour, RPO: 24 * time.Hour},
		"other":     {RTO: 72 * time.Hour, RPO: 168 * time.Hour},
	}
}

// Error is a configuration problem at one place in the file. Its text names the
// file, the line, the key and what is expected, so the user can fix it without
// reading code.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}

	if e.Key == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}

	return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
}

// Errors is every problem found in one file, reported together so one run of
// `config check` shows them all.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}

	return strings.Join(parts, "\n")
}

// SystemFile is the configuration searched after the working directory's:
// where deploy/systemd's units expect it.
const SystemFile = "/etc/lifeboat/lifeboat.yaml"

// Locate returns the configuration path to use: the explicit flag, then
// $LIFEBOAT_CONFIG, then lifeboat.yaml in the working directory, then
// UserFile, then SystemFile; DefaultFile when none of them exists.
func Locate(flag string) string {
	path, _ := Find(flag, os.Getenv, SystemFile)
	return path
}

// Find is Locate with the environment and the system path given, and says
// whether a file was named (flag, environment) or found; when not, the path
// is DefaultFile.
func Find(flag string, getenv func(string) string, system string) (string, bool) {
	if flag != "" {
		return flag, true
	}

	if env := getenv(EnvConfig); env != "" {
		return env, true
	}

	for _, p := range []string{DefaultFile, UserFile(getenv), system} {
		if p == "" {
			continue
		}

		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, true
		}
	}

	return DefaultFile, false
}

// UserFile is the per-user configuration, searched after the working
// directory's and before SystemFile, where `lifeboat init --repo` writes
// one: $XDG_CONFIG_HOME/lifeboat/lifeboat.yaml, else
// $HOME/.config/lifeboat/lifeboat.yaml; empty when neither is set.
func UserFile(getenv func(string) string) string {
	if dir := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "lifeboat", DefaultFile)
	}

	if home := getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".config", "lifeboat", DefaultFile)
	}

	return ""
}

// UserFileHelp names UserFile in help texts.
const UserFileHelp = "$XDG_CONFIG_HOME/lifeboat/lifeboat.yaml (default ~/.config/lifeboat/lifeboat.yaml)"

// NotFoundHint says what to do when there is no configuration file.
const NotFoundHint = "run `lifeboat init --repo DIR|s3://bucket/prefix` to create a repository and a configuration, " +
	"or pass --config FILE or set " + EnvConfig + " (`lifeboat config example` prints one to start from); " +
	"or, on a machine with only the repository, pass --repo PATH|s3://bucket/prefix or set LIFEBOAT_REPOSITORY " +
	"to use the configuration stored in it (`lifeboat config restore -o lifeboat.yaml` writes it out)"

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: path, Msg: "configuration file not found: " + NotFoundHint}
		}

		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read configuration: %v", err)}
	}

	return Parse(path, data)
}

// Parse validates configuration text; path is used only in error messages and
// to resolve relative paths.
func Parse(path string, data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: path, Line: yamlErrLine(err), Msg: "not valid YAML: " + err.Error()}
	}

	p := &parser{file: path, baseDir: filepath.Dir(path)}
	cfg := p.parse(&doc)
	cfg.Text = data

	if len(p.errs) > 0 {
		return nil, p.errs
	}

	return cfg, nil
}

type parser struct {
	file    string
	baseDir string
	errs    Errors
}

func (p *parser) fail(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}

	// A message repeats values from the file: a long one is cut (a 2 MB
	// value must not make a 2 MB message).
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = echoed(v)
		case error:
			args[i] = echoed(v.Error())
		}
	}

	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: fmt.Sprint(echoed(key)), Msg: fmt.Sprintf(format, args...)})
}

// Echoed values longer than echoLimit bytes are shown as their first
// echoPrefix bytes and their length. The limit is above the longest list of
// expected keys a message names.
const (
	echoLimit  = 256
	echoPrefix = 64
)

// echoed is a value repeated in a message, cut when long.
type echoed string

// Format prints the value (%q: quoted), or its prefix and length.
func (e echoed) Format(f fmt.State, verb rune) {
	s := string(e)
	if len(s) <= echoLimit {
		fmt.Fprintf(f, fmt.FormatString(f, verb), s)
		return
	}

	cut := echoPrefix
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}

	fmt.Fprintf(f, fmt.FormatString(f, verb)+"... (%d bytes)", s[:cut], len(s))
}

// mapping returns the key/value pairs of a mapping node, reporting unknown and
// duplicate keys against the allowed set.
func (p *parser) mapping(n *yaml.Node, key string, allowed ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}

	if n.Kind != yaml.MappingNode {
		p.fail(n, key, "expected a mapping of keys (%s), found %s", strings.Join(allowed, ", "), describe(n))
		return out
	}

	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		full := joinKey(key, name)

		if len(allowed) > 0 && !contains(allowed, name) {
			p.fail(k, full, "unknown key; expected one of: %s", strings.Join(allowed, ", "))
			continue
		}

		if _, dup := out[name]; dup {
			p.fail(k, full, "key given twice; keep one")
			continue
		}

		out[name] = v
	}

	return out
}

func (p *parser) parse(doc *yaml.Node) *Config {
	cfg := &Config{
		File: p.file, Tiers: DefaultTiers(), Sources: map[string]*Source{}, Plans: map[string]*Plan{}, Copies: map[string]*Copy{},
		Server: Server{Listen: "127.0.0.1:9750"},
		Daemon: Daemon{Concurrency: 2, StopTimeout: 5 * time.Minute},
		Notify: Notify{Interval: time.Hour},
		Audit:  Audit{Path: DefaultAuditPath()},
	}

	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.fail(nil, "", "configuration is empty; it needs at least `repository:` and `sources:`")
		return cfg
	}

	root := p.mapping(doc.Content[0], "", "repository", "tiers", "sources", "server", "daemon", "jobs", "notify", "audit", "plans", "copies")

	for _, sec := range []struct {
		k string
		f func(*yaml.Node, *Config)
	}{{"server", p.server}, {"daemon", p.daemon}, {"jobs", p.jobs}, {"notify", p.notify}, {"audit", p.audit}} {
		if n, ok := root[sec.k]; ok {
			sec.f(n, cfg)
		}
	}

	if n, ok := root["repository"]; ok {
		p.repository(n, cfg)
	} else {
		p.fail(doc.Content[0], "repository", "missing; expected `repository: {path: /backups/lifeboat}`")
	}

	if n, ok := root["tiers"]; ok {
		p.tiers(n, cfg)
	}

	if n, ok := root["sources"]; ok {
		p.sources(n, cfg)
	} else {
		p.fail(doc.Content[0], "sources", "missing; expected a mapping of source names to sources")
	}

	if n, ok := root["copies"]; ok {
		p.copies(n, cfg)
	}

	if n, ok := root["plans"]; ok {
		p.plans(n, cfg)
		p.checkPlans(cfg)
	}

	return cfg
}

// storageKeys are the keys of a repository's or a copy's location.
var storageKeys = []string{"path", "url", "endpoint", "region", "access_key_env", "secret_key_env",
	"access_key_file", "secret_key_file", "tls", "ca_file", "upload_limit", "immutable_for", "lock_mode"}

func (p *parser) repository(n *yaml.Node, cfg *Config) {
	m := p.mapping(n, "repository", append([]string{"password_file", "password_command"}, storageKeys...)...)
	cfg.Repository.Path, cfg.Repository.S3 = p.location(n, "repository", m)

	if v, ok := m["password_file"]; ok {
		cfg.Repository.PasswordFile = p.absPath(v, "repository.password_file")
	}

	p.passwordCommand(n, m, cfg)
}

// location reads a folder (path) or a bucket (url and the S3 keys).
func (p *parser) location(n *yaml.Node, key string, m map[string]*yaml.Node) (string, *S3) {
	_, hasPath := m["path"]
	_, hasURL := m["url"]

	switch {
	case hasPath && hasURL:
		p.fail(n, key, "give path (a folder) or url (s3://bucket/prefix), not both")
	case hasPath:
		for _, k := range storageKeys[2:] {
			if v, ok := m[k]; ok {
				p.fail(v, key+"."+k, "is for an S3 location (url: s3://bucket/prefix), not a path")
			}
		}

		return p.absPath(m["path"], key+".path"), nil
	case hasURL:
		return "", p.s3(key, m)
	default:
		p.fail(n, key+".path", "missing; expected the directory of the repository, e.g. /backups/lifeboat, or url: s3://bucket/prefix")
	}

	return "", nil
}

func (p *parser) tiers(n *yaml.Node, cfg *Config) {
	m := p.mapping(n, "tiers")
	for _, name := range sortedKeys(m) {
		v := m[name]
		key := "tiers." + name
		tm := p.mapping(v, key, "rto", "rpo")
		t := cfg.Tiers[name]

		for _, f := range []struct {
			k   string
			dst *time.Duration
		}{{"rto", &t.RTO}, {"rpo", &t.RPO}} {
			dn, ok := tm[f.k]
			if !ok {
				if _, known := DefaultTiers()[name]; !known {
					p.fail(v, key+"."+f.k, "missing; expected a duration such as 4h or 7d")
				}

				continue
			}

			d, err := ParseDuration(dn.Value)
			if err != nil || dn.Kind != yaml.ScalarNode || d <= 0 {
				p.fail(dn, key+"."+f.k, "expected a positive duration such as 30m, 4h or 7d, found %q", dn.Value)
				continue
			}

			*f.dst = d
		}

		cfg.Tiers[name] = t
	}
}

// NoSourcesHint is the message for a configuration without sources, such as
// the one `lifeboat init --repo` writes.
const NoSourcesHint = "no sources; add at least one: `lifeboat source add NAME --files PATH...` (or --git PATH, --mysql DSN), " +
	"or by hand (type: files, git or mysql)"

func (p *parser) sources(n *yaml.Node, cfg *Config) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		p.fail(n, "sources", NoSourcesHint)
		return
	}

	if n.Kind != yaml.MappingNode {
		p.fail(n, "sources", "expected a mapping of source names to sources, found %s", describe(n))
		return
	}

	m := p.mapping(n, "sources")
	if len(m) == 0 {
		p.fail(n, "sources", NoSourcesHint)
	}

	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value
		v, ok := m[name]

		if !ok {
			continue // duplicate, already reported
		}

		key := "sources." + name
		if !validName(name) {
			p.fail(n.Content[i], key, "source names may hold letters, digits, '-', '_' and '.', and start with a letter or digit")
			continue
		}

		if s := p.source(name, key, v, cfg); s != nil {
			cfg.Sources[name] = s
			cfg.SourceNames = append(cfg.SourceNames, name)
		}
	}
}

func (p *parser) source(name, key string, n *yaml.Node, cfg *Config) *Source {
	if n.Kind != yaml.MappingNode {
		p.fail(n, key, "expected a mapping with `type:`, found %s", describe(n))
		return nil
	}

	s := &Source{Name: name}

	tn := findKey(n, "type")
	if tn == nil {
		p.fail(n, key+".type", "missing; expected one of: files, git, mysql, image")
		return nil
	}

	s.Type = tn.Value

	var allowed []string

	switch s.Type {
	case KindFiles:
		allowed = []string{"type", "tier", "paths", "include", "exclude", "ignore_unreadable", "schedule", "retention", "verify"}
	case KindGit:
		allowed = []string{"type", "tier", "path", "schedule", "retention", "verify"}
	case KindMySQL:
		allowed = []string{"type", "tier", "host", "port", "socket", "user", "password_env", "password_file", "tls", "tls_ca", "databases", "accounts", "workers", "binlog", "mode", "schedule", "retention", "verify", "masking"}
	case KindImage:
		allowed = imageKeys
	default:
		p.fail(tn, key+".type", "unknown source type %q; expected one of: files, git, mysql, image", s.Type)
		return nil
	}

	before := len(p.errs)
	m := p.mapping(n, key, allowed...)

	s.Tier = "important"
	if v, ok := m["tier"]; ok {
		s.Tier = v.Value
		if _, known := cfg.Tiers[s.Tier]; !known {
			p.fail(v, key+".tier", "unknown tier %q; expected one of: %s", s.Tier, strings.Join(sortedKeys(cfg.Tiers), ", "))
		}
	}

	switch s.Type {
	case KindFiles:
		p.files(n, key, m, s)
	case KindGit:
		v, ok := m["path"]
		if !ok {
			p.fail(n, key+".path", "missing; expected the path of the git repository's work tree or bare directory")
			break
		}

		s.Path = p.absPath(v, key+".path")
	case KindMySQL:
		p.mysql(n, key, m, &s.MySQL)
	case KindImage:
		p.image(n, key, m, &s.Image)
	}

	if v, ok := m["schedule"]; ok {
		p.schedule(v, key+".schedule", s)
	}

	if v, ok := m["retention"]; ok {
		s.Retention = p.retention(v, key+".retention")
	}

	if v, ok := m["verify"]; ok {
		p.verify(v, key+".verify", s)
	}

	if len(p.errs) > before {
		return nil
	}

	return s
}

// files reads the keys of a files source: the paths to back up and the
// filters over them.
func (p *parser) files(n *yaml.Node, key string, m map[string]*yaml.Node, s *Source) {
	v, ok := m["paths"]
	if !ok {
		p.fail(n, key+".paths", "missing; expected a list of absolute paths to back up")
		return
	}

	s.Paths = p.stringList(v, key+".paths")
	if len(s.Paths) == 0 && v.Kind == yaml.SequenceNode {
		p.fail(v, key+".paths", "empty; expected at least one path")
	}

	for i, path := range s.Paths {
		s.Paths[i] = p.absPathValue(v.Content[i], key+".paths", path)
	}

	if v, ok := m["include"]; ok {
		s.Include = p.globList(v, key+".include")
	}

	if v, ok := m["exclude"]; ok {
		s.Exclude = p.globList(v, key+".exclude")
	}

	if v, ok := m["ignore_unreadable"]; ok {
		b, err := strconv.ParseBool(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode {
			p.fail(v, key+".ignore_unreadable", "expected true or false, found %q", v.Value)
		}

		s.IgnoreUnreadable = b
	}
}

func (p *parser) mysql(n *yaml.Node, key string, m map[string]*yaml.Node, my *MySQL) {
	my.Host, my.Port, my.User, my.Workers = "127.0.0.1", 3306, "root", 4
	my.Binlog = Binlog{ServerID: 4242, SegmentInterval: DefaultSegmentInterval, SegmentBytes: 16 << 20, CompactAfter: 10 * time.Minute}

	str := func(k string, dst *string) {
		if v, ok := m[k]; ok {
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				p.fail(v, key+"."+k, "expected a non-empty string, found %s", describe(v))
				return
			}

			*dst = v.Value
		}
	}

	num := func(k string, dst *int, lo, hi int) {
		if v, ok := m[k]; ok {
			i, err := strconv.Atoi(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode || i < lo || i > hi {
				p.fail(v, key+"."+k, "expected a whole number from %d to %d, found %s", lo, hi, describe(v))
				return
			}

			*dst = i
		}
	}

	boolean := func(k string, dst *bool) {
		if v, ok := m[k]; ok {
			b, err := strconv.ParseBool(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode {
				p.fail(v, key+"."+k, "expected true or false, found %s", describe(v))
				return
			}

			*dst = b
		}
	}

	str("host", &my.Host)
	num("port", &my.Port, 1, 65535)
	str("user", &my.User)
	str("password_env", &my.PasswordEnv)
	p.secretVar(m["password_env"], key+".password_env")
	boolean("tls", &my.TLS)
	boolean("accounts", &my.Accounts)
	num("workers", &my.Workers, 1, 64)

	if v, ok := m["socket"]; ok {
		my.Socket = p.absPath(v, key+".socket")
	}

	if v, ok := m["password_file"]; ok {
		my.PasswordFile = p.absPath(v, key+".password_file")
	}

	if v, ok := m["tls_ca"]; ok {
		my.TLSCA = p.absPath(v, key+".tls_ca")
		my.TLS = true
	}

	if v, ok := m["databases"]; ok {
		my.Databases = p.stringList(v, key+".databases")
	}

	if v, ok := m["binlog"]; ok {
		p.binlog(v, key+".binlog", &my.Binlog)
	}

	if v, ok := m["masking"]; ok {
		my.Masking = p.masking(v, key+".masking")
	}

	my.Mode = ModeLogical
	if v, ok := m["mode"]; ok {
		if v.Value != ModeLogical && v.Value != ModePhysical {
			p.fail(v, key+".mode", "expected logical or physical, found %s", describe(v))
		}

		my.Mode = v.Value
	}

	if my.PasswordEnv != "" && my.PasswordFile != "" {
		p.fail(n, key, "give password_env or password_file, not both")
	}
}

func (p *parser) binlog(n *yaml.Node, key string, b *Binlog) {
	m := p.mapping(n, key, "server_id", "segment_interval", "segment_seconds", "segment_mb", "stream", "compact_after")

	if v, ok := m["compact_after"]; ok {
		d, err := ParseDuration(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode || d < time.Second {
			p.fail(v, key+".compact_after", "expected a duration of at least 1s, such as 10m or 1h (segments whose last event is older are merged), found %s", describe(v))
		} else {
			b.CompactAfter = d
		}
	}

	if v, ok := m["stream"]; ok {
		st, err := strconv.ParseBool(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode {
			p.fail(v, key+".stream", "expected true or false, found %s", describe(v))
		}

		b.Stream = st
	}

	num := func(k string, lo, hi int64) (int64, bool) {
		v, ok := m[k]
		if !ok {
			return 0, false
		}

		i, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil || v.Kind != yaml.ScalarNode || i < lo || i > hi {
			p.fail(v, key+"."+k, "expected a whole number from %d to %d, found %s", lo, hi, describe(v))
			return 0, false
		}

		return i, true
	}

	if i, ok := num("server_id", 1, 1<<32-1); ok {
		b.ServerID = uint32(i)
	}

	p.segmentInterval(m, key, b)

	if i, ok := num("segment_mb", 1, 1024); ok {
		b.SegmentBytes = i << 20
	}
}

// segmentInterval reads segment_interval (a duration) or the older
// segment_seconds (whole seconds), which configurations written before
// sub-second segments still use; giving both is refused, as one would
// silently win.
func (p *parser) segmentInterval(m map[string]*yaml.Node, key string, b *Binlog) {
	iv, hasInterval := m["segment_interval"]
	sv, hasSeconds := m["segment_seconds"]

	if hasInterval && hasSeconds {
		p.fail(sv, key+".segment_seconds", "give segment_interval or segment_seconds, not both: keep segment_interval (a duration such as 500ms or 2s) and remove segment_seconds")
		return
	}

	const lo, hi = 100 * time.Millisecond, time.Hour

	if hasInterval {
		d, err := time.ParseDuration(strings.TrimSpace(iv.Value))
		if err != nil || iv.Kind != yaml.ScalarNode || d < lo || d > hi {
			p.fail(iv, key+".segment_interval", "expected a duration from 100ms to 1h such as 500ms or 2s, found %s", describe(iv))
			return
		}

		b.SegmentInterval = d
	}

	if hasSeconds {
		i, err := strconv.Atoi(sv.Value)
		if err != nil || sv.Kind != yaml.ScalarNode || i < 1 || i > 3600 {
			p.fail(sv, key+".segment_seconds", "expected a whole number from 1 to 3600, found %s (for less than a second use segment_interval, e.g. 500ms)", describe(sv))
			return
		}

		b.SegmentInterval = time.Duration(i) * time.Second
	}
}

func (p *parser) stringList(n *yaml.Node, key string) []string {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, key, "expected a list, e.g. [a, b], found %s", describe(n))
		return nil
	}

	out := make([]string, 0, len(n.Content))

	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Value == "" {
			p.fail(c, key, "expected a non-empty string, found %s", describe(c))
			continue
		}

		out = append(out, c.Value)
	}

	return out
}

func (p *parser) globList(n *yaml.Node, key string) []string {
	globs := p.stringList(n, key)
	for i, g := range globs {
		if _, err := filepath.Match(strings.TrimSuffix(strings.TrimPrefix(g, "!"), "/"), ""); err != nil {
			p.fail(n.Content[i], key, "bad glob %q: %v", g, err)
		}
	}

	return globs
}

func (p *parser) absPath(n *yaml.Node, key string) string {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		p.fail(n, key, "expected a path, found %s", describe(n))
		return ""
	}

	return p.absPathValue(n, key, n.Value)
}

// absPathValue resolves a path relative to the configuration file's folder, so a
// config works the same from any working directory.
func (p *parser) absPathValue(n *yaml.Node, key, v string) string {
	if strings.ContainsRune(v, 0) {
		p.fail(n, key, "path contains a NUL byte")
		return ""
	}

	if !filepath.IsAbs(v) {
		base, err := filepath.Abs(p.baseDir)
		if err != nil {
			p.fail(n, key, "cannot resolve relative path %q: %v", v, err)
			return ""
		}

		v = filepath.Join(base, v)
	}

	return filepath.Clean(v)
}

// ParseDuration accepts Go durations plus a day suffix ("7d", "1d12h"), since
// retention and objectives are naturally stated in days.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}

	var days int64

	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad day count in %q", s)
		}

		days, s = n, s[i+1:]
	}

	var rest time.Duration

	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, err
		}

		rest = d
	}

	return time.Duration(days)*24*time.Hour + rest, nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}

		return fmt.Sprintf("%q", echoed(n.Value))
	case yaml.AliasNode:
		return "an alias"
	}

	return "nothing"
}

func findKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}

	return nil
}

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}

	return parent + "." + k
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}

	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}

	sort.Strings(keys)

	return keys
}

// ValidName reports whether s may name a source (or a plan, a copy).
func ValidName(s string) bool { return validName(s) }

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}

	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i == 0 && !alnum {
			return false
		}

		if !alnum && r != '-' && r != '_' && r != '.' {
			return false
		}
	}

	return true
}

func yamlErrLine(err error) int {
	// yaml.v3 reports "yaml: line N: ..."; pull N out so the error has a line even then.
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+5:]
		if j := strings.IndexByte(rest, ':'); j > 0 {
			if n, convErr := strconv.Atoi(rest[:j]); convErr == nil {
				return n
			}
		}
	}

	return 0
}
