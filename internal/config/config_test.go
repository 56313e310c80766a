package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "examples", "sml-library", "lifeboat.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	if got := strings.Join(cfg.SourceNames, ","); got != "database,uploads,config,code,images,logs" {
		t.Fatalf("sources in file order: %s", got)
	}

	up := cfg.Sources["uploads"]
	if up.Type != KindFiles || up.Tier != "important" || len(up.Exclude) != 2 || up.Paths[0] != "/var/www/sml-library/uploads" {
		t.Fatalf("uploads: %+v", up)
	}

	if my := cfg.Sources["database"].MySQL; cfg.Sources["database"].Tier != "critical" || my.User != "lifeboat_backup" || my.Databases[0] != "sml_library" || my.Workers != 4 || my.Port != 3306 ||
		my.Binlog != (Binlog{ServerID: 4242, SegmentInterval: DefaultSegmentInterval, SegmentBytes: 16 << 20, Stream: true, CompactAfter: 10 * time.Minute}) {
		t.Fatalf("database: %+v", cfg.Sources["database"])
	}

	if im := cfg.Sources["images"]; im.Type != KindImage || len(im.Image.Images) != 2 || im.Retention.Within != 90*24*time.Hour {
		t.Fatalf("images: %+v", im)
	}

	if cfg.Sources["code"].Path != "/opt/sml-library" || cfg.Repository.PasswordFile != "/etc/lifeboat/password" {
		t.Fatalf("config: %+v", cfg)
	}

	if cfg.Tiers["critical"] != (Tier{RTO: 4 * time.Hour, RPO: time.Hour}) || cfg.Tiers["other"].RPO != 168*time.Hour {
		t.Fatalf("tiers: %+v", cfg.Tiers)
	}

	// The guide's table.
	db := cfg.Sources["database"]
	if db.Schedule["full"] != "0 2 * * *" || db.Schedule["incremental"] != "0 * * * *" || db.Retention != (Retention{Within: 30 * 24 * time.Hour, Daily: 30, Monthly: 12}) {
		t.Fatalf("database schedule and retention: %+v %+v", db.Schedule, db.Retention)
	}

	for name, within := range map[string]time.Duration{"uploads": 90, "config": 180, "code": 180, "logs": 30} {
		if cfg.Sources[name].Retention.Within != within*24*time.Hour {
			t.Errorf("%s: retention %+v, want within %dd", name, cfg.Sources[name].Retention, within)
		}
	}

	if cfg.Sources["uploads"].Schedule["incremental"] != "0 */6 * * *" || cfg.Jobs.Verify != "0 4 * * 0" || cfg.Jobs.Prune != "30 3 * * *" || cfg.Server.Listen != "127.0.0.1:9750" {
		t.Fatalf("schedules: %+v %+v", cfg.Sources["uploads"].Schedule, cfg.Jobs)
	}
}

func TestExamplePlans(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "examples", "sml-library", "lifeboat.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	if got := strings.Join(cfg.PlanNames, ","); got != "database,pitr,files,application,images,site" {
		t.Fatalf("plans: %s", got)
	}

	files := cfg.Plans["files"].Steps
	if files[0].Kind != StepStop || files[0].Service != "nginx" || files[1].Source != "uploads" || files[1].Owner != "www-data:www-data" || files[1].Mode != "0755" ||
		files[3].URL != "http://127.0.0.1/uploads/" || files[3].Timeout != 30*time.Second {
		t.Fatalf("files plan: %+v %+v %+v", files[0], files[1], files[3])
	}

	site := cfg.Plans["site"]
	if site.Tier != "critical" || site.Drill == "" || site.Steps[0].Plan != "database" || site.Steps[3].Plan != "images" || site.Steps[4].Kind != StepNotify {
		t.Fatalf("site plan: %+v", site)
	}

	// The application plan, the monthly restore test and the assertions.
	if cfg.Plans["application"].Tier != "important" || cfg.Jobs.RestoreTest != "0 5 1 * *" || len(cfg.Sources["database"].Verify.Assertions) != 3 {
		t.Fatalf("application tier %s, restore test %q, assertions %v", cfg.Plans["application"].Tier, cfg.Jobs.RestoreTest, cfg.Sources["database"].Verify.Assertions)
	}
}

func TestExampleCopies(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "examples", "sml-library", "lifeboat.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	off, vault := cfg.Copies["offsite"], cfg.Copies["vault"]
	if strings.Join(cfg.CopyNames, ",") != "offsite,vault" || off.S3 == nil || off.S3.Bucket != "sml-backups-offsite" || off.S3.Prefix != "lifeboat/" ||
		off.S3.ImmutableFor != 30*24*time.Hour || off.S3.LockMode != "compliance" || !off.S3.TLS || !off.Offsite || off.Schedule == "" {
		t.Fatalf("offsite: %+v %+v", off, off.S3)
	}

	if off.S3.UploadLimit != 50e6 || off.S3.UploadHours == nil || off.S3.UploadHours.Text != "Mon-Fri 08:00-18:00" {
		t.Fatalf("offsite upload limit: %v during %v", off.S3.UploadLimit, off.S3.UploadHours)
	}

	if vault.Path != "/mnt/vault/lifeboat" || !vault.Offline || vault.Offsite || vault.Medium() != "removable disk" {
		t.Fatalf("vault: %+v", vault)
	}
}

func TestStorageConfigErrors(t *testing.T) {
	for _, c := range []struct{ repo, want string }{
		{"repository: {path: /b, url: s3://x}", "give path (a folder) or url"},
		{"repository: {url: http://x}", "repository.url: expected s3://bucket"},
		{"repository: {url: s3://b, endpoint: \"https://s3\"}", "without a scheme"},
		{"repository: {url: s3://b, upload_limit: fast}", "repository.upload_limit: expected a rate such as 50MB/s"},
		{"repository: {url: s3://b, upload_limit: {during: 08:00-18:00}}", "repository.upload_limit.rate: missing"},
		{"repository: {url: s3://b, upload_limit: {rate: 1x, during: 08:00-18:00}}", "repository.upload_limit.rate: expected a rate"},
		{"repository: {url: s3://b, upload_limit: {rate: 1MB/s, during: 8-18}}", "repository.upload_limit.during: \"8\" is not a time of day"},
		{"repository: {url: s3://b, upload_limit: {rate: 1MB/s, during: Mon-Fry 08:00-18:00}}", "\"mon-fry\" is not a day"},
		{"repository: {url: s3://b, upload_limit: {rate: 1MB/s, at: 08:00-18:00}}", "repository.upload_limit.at: unknown key"},
		{"repository: {url: s3://b, immutable_for: 2h}", "at least 1d"},
		{"repository: {url: s3://b, lock_mode: legal}", "expected compliance"},
		{"repository: {path: /b, endpoint: s3}", "repository.endpoint: is for an S3 location"},
		{"repository: {path: /b}\ncopies:\n  c: {path: /b}", "copies.c.path: is the repository itself"},
	} {
		_, err := Parse("/etc/lifeboat/lifeboat.yaml", []byte(c.repo+"\nsources:\n  u: {type: files, paths: [/srv]}\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.repo, err, c.want)
		}
	}

	if r, err := ParseRate("2MiB/s"); err != nil || r != 2<<20 {
		t.Errorf("ParseRate: %v %v", r, err)
	}
}

func TestRelativePathsResolveAgainstConfigFolder(t *testing.T) {
	cfg, err := Parse("/etc/lifeboat/lifeboat.yaml", []byte("repository: {path: ../../backups}\nsources:\n  u: {type: files, paths: [data]}\n"))
	if err != nil {
		t.Fatal(err)
	}

	if cfg.Repository.Path != "/backups" || cfg.Sources["u"].Paths[0] != "/etc/lifeboat/data" {
		t.Fatalf("paths: %s %v", cfg.Repository.Path, cfg.Sources["u"].Paths)
	}

	if cfg.Sources["u"].Tier != "important" {
		t.Fatalf("default tier: %s", cfg.Sources["u"].Tier)
	}
}

func TestAllErrorsReportedTogether(t *testing.T) {
	_, err := Parse("c.yaml", []byte("repository: {path: /r, pasword_file: x}\nsources:\n  a: {type: files}\n  b: {type: git, path: /x, paths: [y]}\n  'bad name!': {type: git, path: /x}\n"))

	es, ok := err.(Errors)
	if !ok || len(es) != 4 {
		t.Fatalf("want 4 errors, got %v", err)
	}

	for i, want := range []string{"c.yaml:1: repository.pasword_file", "c.yaml:3: sources.a.paths", "c.yaml:4: sources.b.paths: unknown key", "c.yaml:5: sources.bad name!"} {
		if !strings.HasPrefix(es[i].Error(), want) {
			t.Errorf("error %d: %q, want prefix %q", i, es[i], want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1h": time.Hour, "7d": 168 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}

	for _, bad := range []string{"", "d", "x1d", "soon", "1w"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBinlogSettings(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db: {type: mysql}\n"))
	if err != nil {
		t.Fatal(err)
	}

	if b := cfg.Sources["db"].MySQL.Binlog; b.ServerID != 4242 || b.Interval() != DefaultSegmentInterval || b.Interval() > time.Second || b.SegmentBytes != 16<<20 {
		t.Fatalf("defaults: %+v", b)
	}

	_, err = Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db:\n    type: mysql\n    binlog:\n      server_id: 0\n      segment_seconds: soon\n      segmnt_mb: 1\n"))

	es, ok := err.(Errors)
	if !ok || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}

	for i, want := range []string{"c.yaml:8: sources.db.binlog.segmnt_mb: unknown key", "c.yaml:6: sources.db.binlog.server_id: expected a whole number from 1", "c.yaml:7: sources.db.binlog.segment_seconds"} {
		if !strings.HasPrefix(es[i].Error(), want) {
			t.Errorf("error %d: %q, want prefix %q", i, es[i], want)
		}
	}
}

// TestSegmentInterval reads segment_interval as a duration and the older
// segment_seconds as before, and refuses bad values and the two together.
func TestSegmentInterval(t *testing.T) {
	parse := func(binlog string) (Binlog, error) {
		cfg, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db:\n    type: mysql\n    binlog:\n"+binlog))
		if err != nil {
			return Binlog{}, err
		}

		return cfg.Sources["db"].MySQL.Binlog, nil
	}

	for in, want := range map[string]time.Duration{
		"      segment_interval: 500ms\n": 500 * time.Millisecond,
		"      segment_interval: 2s\n":    2 * time.Second,
		"      segment_interval: 100ms\n": 100 * time.Millisecond,
		"      segment_interval: 1h\n":    time.Hour,
		"      segment_seconds: 3\n":      3 * time.Second,
		"      segment_mb: 4\n":           DefaultSegmentInterval,
	} {
		b, err := parse(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}

		if b.Interval() != want {
			t.Errorf("%q: interval %s, want %s", in, b.Interval(), want)
		}
	}

	for in, want := range map[string]string{
		"      segment_interval: 500\n":                          "c.yaml:6: sources.db.binlog.segment_interval: expected a duration from 100ms to 1h such as 500ms or 2s, found \"500\"",
		"      segment_interval: 10ms\n":                         "c.yaml:6: sources.db.binlog.segment_interval: expected a duration from 100ms to 1h",
		"      segment_interval: 2h\n":                           "c.yaml:6: sources.db.binlog.segment_interval: expected a duration from 100ms to 1h",
		"      segment_interval: -1s\n":                          "c.yaml:6: sources.db.binlog.segment_interval: expected a duration",
		"      segment_interval: [1s]\n":                         "c.yaml:6: sources.db.binlog.segment_interval: expected a duration from 100ms to 1h such as 500ms or 2s, found a list",
		"      segment_seconds: 0.5\n":                           "c.yaml:6: sources.db.binlog.segment_seconds: expected a whole number from 1 to 3600, found \"0.5\" (for less than a second use segment_interval, e.g. 500ms)",
		"      segment_seconds: 0\n":                             "c.yaml:6: sources.db.binlog.segment_seconds: expected a whole number from 1 to 3600",
		"      segment_interval: 1s\n      segment_seconds: 3\n": "c.yaml:7: sources.db.binlog.segment_seconds: give segment_interval or segment_seconds, not both: keep segment_interval",
	} {
		_, err := parse(in)

		es, ok := err.(Errors)
		if !ok || len(es) != 1 {
			t.Errorf("%q: want one error, got %v", in, err)
			continue
		}

		if !strings.HasPrefix(es[0].Error(), want) {
			t.Errorf("%q: error %q, want prefix %q", in, es[0], want)
		}
	}

	// A Binlog built in code with the older field still means whole seconds.
	if got := (Binlog{SegmentSeconds: 2}).Interval(); got != 2*time.Second {
		t.Errorf("SegmentSeconds 2: interval %s", got)
	}
}

func TestScheduleAndRetentionErrors(t *testing.T) {
	_, err := Parse("c.yaml", []byte(`repository: {path: /r}
sources:
  db:
    type: mysql
    schedule: {full: "0 25 * * *", hourly: "@hourly"}
    retention: {daily: -1, within: forever}
  up:
    type: files
    paths: [/u]
    schedule: "every day"
    retention: {daily: 0}
server: {listen: "nowhere"}
notify: {webhook: {url: "ftp://x"}}
`))

	es, ok := err.(Errors)
	if !ok {
		t.Fatalf("want errors, got %v", err)
	}

	want := []string{
		"c.yaml:5: sources.db.schedule.hourly: unknown key",
		"c.yaml:5: sources.db.schedule.full: invalid cron expression \"0 25 * * *\"",
		"c.yaml:6: sources.db.retention.daily: expected how many snapshots to keep",
		"c.yaml:6: sources.db.retention.within: expected a duration such as 90d",
		"c.yaml:10: sources.up.schedule: invalid cron expression \"every day\"",
		"c.yaml:11: sources.up.retention: every rule is 0",
		"c.yaml:12: server.listen: expected host:port",
		"c.yaml:13: notify.webhook.url: expected an http:// or https:// URL",
	}

	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}

	for _, w := range want {
		found := false

		for _, g := range got {
			if strings.HasPrefix(g, w) {
				found = true
			}
		}

		if !found {
			t.Errorf("missing error %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

// A secret's variable must not be one every child process receives: git
// sees only its own source and could not hold it back.
func TestSecretVariableNotPassedToChildren(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"repository: {path: /b}\nsources:\n  db: {type: mysql, socket: /s, user: u, password_env: HOME}\n", "lifeboat.yaml:3: sources.db.password_env: HOME is passed to every program"},
		{"repository: {url: s3://b, endpoint: s3, secret_key_env: LANG}\nsources:\n  u: {type: files, paths: [/srv]}\n", "repository.secret_key_env: LANG is passed"},
		{"repository: {path: /b}\nsources:\n  u: {type: files, paths: [/srv]}\nnotify:\n  email: {smtp: \"m:25\", from: a@b, to: [c@d], password_env: PATH}\n", "notify.email.password_env: PATH is passed"},
	} {
		_, err := Parse("/etc/lifeboat/lifeboat.yaml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.text, err, c.want)
		}
	}

	if _, err := Parse("/etc/lifeboat/lifeboat.yaml", []byte("repository: {path: /b}\nsources:\n  db: {type: mysql, socket: /s, user: u, password_env: DB_PASSWORD}\n")); err != nil {
		t.Errorf("a variable of its own: %v", err)
	}
}

// TestMySQLMode: logical by default, physical when asked, anything else
// refused with the choices.
func TestMySQLMode(t *testing.T) {
	for text, want := range map[string]string{"": ModeLogical, "\n    mode: physical": ModePhysical, "\n    mode: logical": ModeLogical} {
		cfg, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db:\n    type: mysql"+text+"\n"))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}

		if got := cfg.Sources["db"].MySQL.Mode; got != want {
			t.Errorf("%q: mode %q, want %q", text, got, want)
		}
	}

	_, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db:\n    type: mysql\n    mode: hot\n"))
	if err == nil || !strings.Contains(err.Error(), "sources.db.mode") || !strings.Contains(err.Error(), "expected logical or physical") {
		t.Fatalf("mode: hot: %v", err)
	}
}

// TestPhysicalSchedule: a mysql source schedules physical backups beside
// its own; other sources may not.
func TestPhysicalSchedule(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  db:\n    type: mysql\n    schedule: {full: \"0 2 * * *\", physical_full: \"0 3 * * 0\", physical_incremental: \"0 4 * * *\"}\n"))
	if err != nil {
		t.Fatal(err)
	}

	if got := cfg.Sources["db"].Schedule; got["physical_full"] != "0 3 * * 0" || got["full"] != "0 2 * * *" || got["physical_incremental"] != "0 4 * * *" {
		t.Errorf("schedule %v", got)
	}

	_, err = Parse("c.yaml", []byte("repository: {path: /r}\nsources:\n  f:\n    type: files\n    paths: [/srv]\n    schedule: {physical_full: \"0 3 * * 0\"}\n"))
	if err == nil || !strings.Contains(err.Error(), "physical_full") {
		t.Fatalf("a files source with physical_full: %v", err)
	}
}
