package starter

import (
	"fmt"
	"strings"
	"time"

	"lifeboat/internal/config"
)

// Defaults are what a new source gets for its tier: a schedule that meets the
// tier's RPO and the retention the backup guide gives its kind of data, each
// with the reason, written next to it as a comment.
type Defaults struct {
	Schedule, ScheduleWhy   string
	Retention, RetentionWhy string
}

// class is the guide's tier whose objective t meets: a tier of the
// configuration's own is treated as the guide's with the same RPO or the
// next stricter one.
func class(t config.Tier) string {
	switch {
	case t.RPO <= time.Hour:
		return "critical"
	case t.RPO <= 24*time.Hour:
		return "important"
	}

	return "other"
}

// DefaultsFor returns the defaults of a source of kind (config.KindFiles,
// KindGit, KindMySQL) in a tier with objective t.
func DefaultsFor(kind string, t config.Tier) Defaults {
	var d Defaults

	rpo := Duration(t.RPO)
	often := `"0 * * * *"`
	oftenWhy := "hourly"

	if t.RPO < time.Hour {
		often, oftenWhy = `"@every `+rpo+`"`, "every "+rpo
	}

	switch c := class(t); {
	case kind == config.KindMySQL && c == "critical":
		d.Schedule = `{full: "0 2 * * *", incremental: ` + often + `}`
		d.ScheduleWhy = "the guide: a full daily at 2 AM, the binlog " + oftenWhy + " (the server needs log_bin)"
	case kind == config.KindMySQL && c == "important":
		d.Schedule, d.ScheduleWhy = `{full: "0 2 * * *"}`, "a full daily at 2 AM"
	case kind == config.KindMySQL:
		d.Schedule, d.ScheduleWhy = `{full: "0 2 * * 0"}`, "a full weekly, Sunday 2 AM"
	case c == "critical":
		d.Schedule, d.ScheduleWhy = often, oftenWhy
	case c == "important" && kind == config.KindFiles:
		d.Schedule, d.ScheduleWhy = `"0 */6 * * *"`, "every 6 hours, as the guide's user files"
	case c == "important":
		d.Schedule, d.ScheduleWhy = `"0 2 * * *"`, "daily at 2 AM"
	default:
		d.Schedule, d.ScheduleWhy = `"0 3 * * 0"`, "weekly, Sunday 3 AM, as the guide's system configuration"
	}

	d.ScheduleWhy += ": within the tier's RPO of " + rpo + "; `lifeboat daemon` runs it"

	switch {
	case kind == config.KindMySQL:
		d.Retention = "{within: 30d, daily: 30, monthly: 12}"
		d.RetentionWhy = "the guide: databases 30 days, backups 30 daily and 12 monthly"
	case kind == config.KindGit:
		d.Retention, d.RetentionWhy = "{within: 180d}", "the guide: application code 6 months"
	case class(t) == "other":
		d.Retention, d.RetentionWhy = "{within: 180d}", "the guide: system configuration 6 months"
	default:
		d.Retention, d.RetentionWhy = "{within: 90d}", "the guide: user files 90 days"
	}

	d.RetentionWhy += "; `lifeboat prune` applies it"

	return d
}

// Block is the YAML of source s (its Name, Type, Tier and the fields of its
// kind: Paths, Path or MySQL) as an entry of sources:, its key indented by
// indent spaces, with a comment above it and the tier's defaults.
func Block(s *config.Source, t config.Tier, indent int) string {
	pad := strings.Repeat(" ", indent)
	in := pad + "  "

	var b strings.Builder

	fmt.Fprintf(&b, "%s# Added by `lifeboat source add`. Tier %s: back within %s of a loss (RTO),\n", pad, s.Tier, Duration(t.RTO))
	fmt.Fprintf(&b, "%s# at most %s of changes lost (RPO).\n", pad, Duration(t.RPO))
	fmt.Fprintf(&b, "%s%s:\n%stype: %s\n%stier: %s\n", pad, s.Name, in, s.Type, in, Scalar(s.Tier))

	switch s.Type {
	case config.KindFiles:
		fmt.Fprintf(&b, "%spaths: %s\n", in, List(s.Paths))
		fmt.Fprintf(&b, "%s# exclude: [\"*.tmp\", \"cache/\"]   # leave these out; include: [...] keeps only matches\n", in)
	case config.KindGit:
		fmt.Fprintf(&b, "%spath: %s\n", in, Scalar(s.Path))
		fmt.Fprintf(&b, "%s# every branch and tag; run `lifeboat backup %s` from the deploy script too (the guide: on deployment)\n", in, s.Name)
	case config.KindMySQL:
		mysqlFields(&b, in, &s.MySQL)
	}

	d := DefaultsFor(s.Type, t)
	fmt.Fprintf(&b, "%sschedule: %s   # %s\n", in, d.Schedule, d.ScheduleWhy)
	fmt.Fprintf(&b, "%sretention: %s   # %s\n", in, d.Retention, d.RetentionWhy)

	return b.String()
}

func mysqlFields(b *strings.Builder, in string, my *config.MySQL) {
	if my.Socket != "" {
		fmt.Fprintf(b, "%ssocket: %s\n", in, Scalar(my.Socket))
	} else {
		fmt.Fprintf(b, "%shost: %s\n%sport: %d\n", in, Scalar(my.Host), in, my.Port)
	}

	fmt.Fprintf(b, "%suser: %s\n", in, Scalar(my.User))

	switch {
	case my.PasswordEnv != "":
		fmt.Fprintf(b, "%spassword_env: %s   # the variable holding the password, never the password\n", in, my.PasswordEnv)
	case my.PasswordFile != "":
		fmt.Fprintf(b, "%spassword_file: %s   # a file holding the password (chmod 600)\n", in, Scalar(my.PasswordFile))
	default:
		fmt.Fprintf(b, "%s# password_env: DB_PASSWORD   # or password_file: FILE; none: the socket's login (unix_socket)\n", in)
	}

	if my.TLS {
		fmt.Fprintf(b, "%stls: true\n", in)
	}

	if len(my.Databases) > 0 {
		fmt.Fprintf(b, "%sdatabases: %s\n", in, List(my.Databases))
	} else {
		fmt.Fprintf(b, "%s# databases: [app]   # none given: every user database\n", in)
	}

	fmt.Fprintf(b, "%s# The user needs SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, LOCK TABLES,\n", in)
	fmt.Fprintf(b, "%s# REPLICATION CLIENT and REPLICATION SLAVE (MariaDB 10.5+: BINLOG MONITOR).\n", in)
	fmt.Fprintf(b, "%s# binlog: {stream: true, server_id: 4242}   # the daemon archives the binlog: recovery to any instant\n", in)
}

// Duration writes d as the configuration does: 7d, 24h, 30m.
func Duration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}

	return d.String()
}
