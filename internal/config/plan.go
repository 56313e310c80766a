package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Step kinds of a recovery plan.
const (
	StepStop    = "stop"
	StepStart   = "start"
	StepRestore = "restore"
	StepRun     = "run"
	StepCheck   = "check"
	StepNotify  = "notify"
	StepPlan    = "plan"
)

// How a database restore step restores (its mode:): from a physical
// backup into a data directory, from a logical one into the server, or
// (auto, a drill's default) the faster way by estimate.
const (
	RestorePhysical = "physical"
	RestoreLogical  = "logical"
	RestoreAuto     = "auto"
)

// RestoreModes are the modes a database restore step takes.
var RestoreModes = map[string]bool{RestorePhysical: true, RestoreLogical: true, RestoreAuto: true}

// StepKinds lists the step kinds in the order the documentation gives them.
var StepKinds = []string{StepStop, StepStart, StepRestore, StepRun, StepCheck, StepNotify, StepPlan}

// Plan is a recovery procedure: ordered steps, the guide's recovery scripts
// made executable, timed and rehearsed.
type Plan struct {
	Name string
	// Tier gives the plan's RTO and RPO objectives.
	Tier string
	// Drill is the daemon's cron for rehearsing the plan ("" = not scheduled).
	Drill string
	Steps []*Step
}

// Step is one step of a plan. Kind says which fields matter.
type Step struct {
	Kind string
	// Label names the step in output and reports ("" = derived).
	Label string
	// stop/start: a systemd unit, or a command.
	Service string
	// stop/start/run: the shell command; run: in Dir.
	Command string
	Dir     string
	// restore: the source and its options; check: the database source an
	// SQL assertion runs on.
	Source   string
	Snapshot string
	ToTime   string
	Target   string
	Owner    string
	Mode     string
	// Masked makes a drill of a database restore step restore a masked
	// copy (the source's masking rules).
	Masked bool
	// check: an HTTP URL that must answer 2xx, or an SQL assertion.
	URL string
	SQL string
	// notify: the message.
	Message string
	// plan: the nested plan.
	Plan string
	// Timeout bounds the step (0: no limit, the default for restores).
	Timeout time.Duration
	// Drill is what a drill does with the step: "" (the default for the
	// kind), "skip", or a command to run instead (a sandboxed stand-in).
	Drill string
	// DrillURL is the URL a drill checks instead of URL (a copy of the service).
	DrillURL string

	line int
}

// Title is how output and reports name the step.
func (s *Step) Title() string {
	if s.Label != "" {
		return s.Label
	}

	switch s.Kind {
	case StepStop, StepStart:
		if s.Service != "" {
			return s.Kind + " " + s.Service
		}

		return s.Kind + ": " + s.Command
	case StepRestore:
		return "restore " + s.Source
	case StepRun:
		return "run: " + s.Command
	case StepCheck:
		if s.URL != "" {
			if u, err := url.Parse(s.URL); err == nil {
				return "check " + u.Redacted()
			}

			return "check " + s.URL
		}

		return "check " + s.Source + ": " + s.SQL
	case StepNotify:
		return "notify"
	case StepPlan:
		return "plan " + s.Plan
	}

	return s.Kind
}

// Verify is how a source's restore test checks what it restored.
type Verify struct {
	// Assertions are SQL expressions that must be true in the restored copy.
	Assertions []string
	// Server, when set, is another MariaDB/MySQL server the restore test
	// restores into, so the production server carries no scratch copy.
	Server *MySQL
	// Masked makes restore tests and drills of the source restore a
	// masked copy (the source's masking rules).
	Masked bool
}

func (p *parser) plans(n *yaml.Node, cfg *Config) {
	p.named(n, "plans", "plan", func(name, key string, v *yaml.Node) {
		pm := p.mapping(v, key, "tier", "drill", "steps")
		pl := &Plan{Name: name}

		if t, ok := pm["tier"]; ok {
			pl.Tier = t.Value
			if _, known := cfg.Tiers[pl.Tier]; !known {
				p.fail(t, key+".tier", "unknown tier %q; expected one of: %s", pl.Tier, strings.Join(sortedKeys(cfg.Tiers), ", "))
			}
		}

		if d, ok := pm["drill"]; ok {
			pl.Drill = p.cronSpec(d, key+".drill")
		}

		sn, ok := pm["steps"]
		if !ok || sn.Kind != yaml.SequenceNode || len(sn.Content) == 0 {
			at := v
			if ok {
				at = sn
			}

			p.fail(at, key+".steps", "expected a list of steps, each one of: %s", strings.Join(StepKinds, ", "))
		} else {
			for j, stn := range sn.Content {
				if st := p.step(stn, fmt.Sprintf("%s.steps[%d]", key, j)); st != nil {
					pl.Steps = append(pl.Steps, st)
				}
			}
		}

		cfg.Plans[name] = pl
		cfg.PlanNames = append(cfg.PlanNames, name)
	})
}

// named calls each for every entry of a mapping of names (plans, copies) in
// file order, after checking the name.
func (p *parser) named(n *yaml.Node, section, what string, each func(name, key string, v *yaml.Node)) {
	m := p.mapping(n, section)

	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value

		v, ok := m[name]
		if !ok {
			continue // a duplicate, already reported
		}

		key := section + "." + name
		if !validName(name) {
			p.fail(n.Content[i], key, "%s names may hold letters, digits, '-', '_' and '.', and start with a letter or digit", what)
			continue
		}

		each(name, key, v)
	}
}

func (p *parser) step(n *yaml.Node, key string) *Step {
	if n.Kind != yaml.MappingNode {
		p.fail(n, key, "expected a mapping such as {restore: database} with one of: %s; found %s", strings.Join(StepKinds, ", "), describe(n))
		return nil
	}

	kind, kindNode := p.stepKind(n, key)
	if kind == "" {
		return nil
	}

	st := &Step{Kind: kind}

	before := len(p.errs)
	m := p.mapping(n, key, append([]string{st.Kind, "name", "timeout", "drill"}, stepKeys(st.Kind)...)...)

	st.Label = p.stepString(m, key, "name")
	st.Drill = p.stepString(m, key, "drill")
	st.Timeout = stepTimeout(st.Kind)

	if v, ok := m["timeout"]; ok {
		d, err := ParseDuration(v.Value)
		if err != nil || d <= 0 {
			p.fail(v, key+".timeout", "expected a positive duration such as 30s or 10m, found %s", describe(v))
		} else {
			st.Timeout = d
		}
	}

	kk := key + "." + st.Kind

	switch st.Kind {
	case StepStop, StepStart:
		p.serviceStep(st, kindNode, kk)
	case StepRestore:
		p.restoreStep(st, kindNode, m, key)
	case StepRun:
		if kindNode.Kind != yaml.ScalarNode || kindNode.Value == "" {
			p.fail(kindNode, kk, "expected a shell command, found %s", describe(kindNode))
		}

		st.Command, st.Dir = kindNode.Value, p.stepString(m, key, "dir")
	case StepCheck:
		p.checkStep(st, kindNode, m, key)
	case StepNotify:
		if kindNode.Kind != yaml.ScalarNode || kindNode.Value == "" {
			p.fail(kindNode, kk, "expected the message to send, found %s", describe(kindNode))
		}

		st.Message = kindNode.Value
	case StepPlan:
		if kindNode.Kind != yaml.ScalarNode || kindNode.Value == "" {
			p.fail(kindNode, kk, "expected the name of another plan, found %s", describe(kindNode))
		}

		st.Plan = kindNode.Value
	}

	if st.Drill != "" && st.Kind != StepStop && st.Kind != StepStart && st.Kind != StepRun && st.Drill != "skip" {
		p.fail(m["drill"], key+".drill", "only stop, start and run steps take a drill command; other steps accept only \"skip\"")
	}

	if len(p.errs) > before {
		return nil
	}

	// Remember the line so cross-checks can point at it.
	st.line = n.Line

	return st
}

// stepKind finds the one key of step n that names its kind, and that key's
// value; it returns "" when the step has none or more than one.
func (p *parser) stepKind(n *yaml.Node, key string) (string, *yaml.Node) {
	var (
		kind     string
		kindNode *yaml.Node
	)

	for i := 0; i+1 < len(n.Content); i += 2 {
		if contains(StepKinds, n.Content[i].Value) {
			if kind != "" {
				p.fail(n.Content[i], key, "a step has one kind; found %s and %s: split it into two steps", kind, n.Content[i].Value)
				return "", nil
			}

			kind, kindNode = n.Content[i].Value, n.Content[i+1]
		}
	}

	if kind == "" {
		p.fail(n, key, "unknown step kind; expected one of: %s", strings.Join(StepKinds, ", "))
	}

	return kind, kindNode
}

// stepKeys are the keys a step of kind takes besides its kind, name,
// timeout and drill.
func stepKeys(kind string) []string {
	switch kind {
	case StepRestore:
		return []string{"snapshot", "to_time", "target", "owner", "mode", "masked"}
	case StepRun:
		return []string{"dir"}
	case StepCheck:
		return []string{"drill_url"}
	}

	return nil
}

// stepTimeout is how long a step of kind may take unless it says otherwise.
// A restore takes as long as the data needs: cutting it short would leave
// the target half-written, so it has no limit unless given one.
func stepTimeout(kind string) time.Duration {
	switch kind {
	case StepCheck:
		return 30 * time.Second
	case StepNotify:
		return time.Minute
	case StepRun:
		return time.Hour
	case StepStop, StepStart:
		return 10 * time.Minute
	}

	return 0
}

// stepString is the value of the step's key k, which must be a non-empty
// string when present; "" when absent or wrong.
func (p *parser) stepString(m map[string]*yaml.Node, key, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}

	if v.Kind != yaml.ScalarNode || v.Value == "" {
		p.fail(v, key+"."+k, "expected a non-empty string, found %s", describe(v))
		return ""
	}

	return v.Value
}

// serviceStep reads a stop or start step: a systemd unit, or a command.
func (p *parser) serviceStep(st *Step, kindNode *yaml.Node, kk string) {
	if kindNode.Kind == yaml.ScalarNode && kindNode.Value != "" {
		st.Service = kindNode.Value
		return
	}

	cm := p.mapping(kindNode, kk, "service", "command")
	if v, ok := cm["service"]; ok {
		st.Service = v.Value
	}

	if v, ok := cm["command"]; ok {
		st.Command = v.Value
	}

	if (st.Service == "") == (st.Command == "") {
		p.fail(kindNode, kk, "expected a systemd unit (%s: nginx) or {command: \"...\"}", st.Kind)
	}
}

// restoreStep reads a restore step: the source, and where and how its data
// is restored.
func (p *parser) restoreStep(st *Step, kindNode *yaml.Node, m map[string]*yaml.Node, key string) {
	if kindNode.Kind != yaml.ScalarNode || kindNode.Value == "" {
		p.fail(kindNode, key+"."+st.Kind, "expected the name of a source, found %s", describe(kindNode))
	}

	st.Source = kindNode.Value
	st.Snapshot, st.ToTime, st.Owner, st.Mode = p.stepString(m, key, "snapshot"), p.stepString(m, key, "to_time"), p.stepString(m, key, "owner"), p.stepString(m, key, "mode")

	if v, ok := m["target"]; ok {
		st.Target = v.Value
	}

	if v, ok := m["masked"]; ok {
		b, err := strconv.ParseBool(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode {
			p.fail(v, key+".masked", "expected true or false, found %s", describe(v))
		}

		st.Masked = b
	}

	if st.Owner != "" && !validOwner(st.Owner) {
		p.fail(m["owner"], key+".owner", "expected user:group such as www-data:www-data, found %q", st.Owner)
	}

	if st.Mode != "" && !RestoreModes[st.Mode] {
		if _, err := strconv.ParseUint(st.Mode, 8, 32); err != nil {
			p.fail(m["mode"], key+".mode", "expected an octal mode such as \"0755\" (quote it), found %q", st.Mode)
		}
	}
}

// checkStep reads a check step: a URL that must answer, or an SQL query
// run on a database source.
func (p *parser) checkStep(st *Step, kindNode *yaml.Node, m map[string]*yaml.Node, key string) {
	kk := key + "." + st.Kind
	cm := p.mapping(kindNode, kk, "url", "sql", "source")

	if v, ok := cm["url"]; ok {
		st.URL = v.Value
		if u, err := url.Parse(v.Value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.fail(v, kk+".url", "expected an http:// or https:// URL, found %s", describe(v))
		}
	}

	if v, ok := cm["sql"]; ok {
		st.SQL = v.Value
	}

	if v, ok := cm["source"]; ok {
		st.Source = v.Value
	}

	if (st.URL == "") == (st.SQL == "") {
		p.fail(kindNode, kk, "expected {url: http://...} or {sql: \"SELECT ...\", source: DATABASE_SOURCE}")
	}

	if st.SQL != "" && st.Source == "" {
		p.fail(kindNode, kk+".source", "missing; an SQL check names the database source it runs on")
	}

	st.DrillURL = p.stepString(m, key, "drill_url")
}

// checkPlans resolves the names plans use, once every source and plan is
// known, so `config check` catches them before anything runs.
func (p *parser) checkPlans(cfg *Config) {
	for _, name := range cfg.PlanNames {
		pl := cfg.Plans[name]

		for i, st := range pl.Steps {
			key := fmt.Sprintf("plans.%s.steps[%d]", name, i)
			at := &yaml.Node{Line: st.line}

			switch {
			case st.Kind == StepRestore || (st.Kind == StepCheck && st.SQL != ""):
				sc, ok := cfg.Sources[st.Source]
				if !ok {
					p.fail(at, key+"."+st.Kind, "source %q does not exist; expected one of: %s", st.Source, strings.Join(cfg.SourceNames, ", "))
					continue
				}

				if st.Kind == StepCheck && sc.Type != KindMySQL {
					p.fail(at, key+".check.source", "source %q is not a database; an SQL check needs a mysql source", st.Source)
				}

				if st.Kind == StepRestore && sc.Type == KindMySQL && (st.Owner != "" || st.Mode != "" && !RestoreModes[st.Mode]) {
					p.fail(at, key, "owner and an octal mode are for files and git sources; a database restore's mode is physical, logical or auto")
				}

				if st.Kind == StepRestore && sc.Type != KindMySQL && RestoreModes[st.Mode] {
					p.fail(at, key+".mode", "mode %s is for database sources; files and git sources take an octal mode such as \"0755\"", st.Mode)
				}

				if st.Kind == StepRestore && st.Mode == RestorePhysical && st.Target != "" && !filepath.IsAbs(st.Target) {
					p.fail(at, key+".target", "a physical restore's target is a data directory: an absolute path, found %q", st.Target)
				}

				if st.ToTime != "" && sc.Type != KindMySQL {
					p.fail(at, key+".to_time", "a point in time is for database sources; files restore a snapshot")
				}
			case st.Kind == StepPlan:
				if _, ok := cfg.Plans[st.Plan]; !ok {
					p.fail(at, key+".plan", "plan %q does not exist; expected one of: %s", st.Plan, strings.Join(cfg.PlanNames, ", "))
				}
			}
		}

		if pl.Tier == "" {
			pl.Tier = planTier(cfg, pl, map[string]bool{})
		}
	}

	for _, name := range cfg.PlanNames {
		if cyc := planCycle(cfg, name, nil); cyc != "" {
			p.fail(nil, "plans."+name, "plans include each other in a loop: %s", cyc)
		}
	}
}

// planTier is the strictest tier among the sources a plan restores, so a
// plan's objective is its most demanding data's.
func planTier(cfg *Config, pl *Plan, seen map[string]bool) string {
	best := ""

	if seen[pl.Name] {
		return best
	}

	seen[pl.Name] = true

	for _, st := range pl.Steps {
		var t string

		switch st.Kind {
		case StepRestore:
			if sc, ok := cfg.Sources[st.Source]; ok {
				t = sc.Tier
			}
		case StepPlan:
			if sub, ok := cfg.Plans[st.Plan]; ok {
				t = sub.Tier
				if t == "" {
					t = planTier(cfg, sub, seen)
				}
			}
		}

		if t != "" && (best == "" || cfg.Tiers[t].RTO < cfg.Tiers[best].RTO) {
			best = t
		}
	}

	if best == "" {
		best = "important"
	}

	return best
}

func planCycle(cfg *Config, name string, path []string) string {
	for _, p := range path {
		if p == name {
			return strings.Join(append(path, name), " → ")
		}
	}

	pl, ok := cfg.Plans[name]
	if !ok {
		return ""
	}

	for _, st := range pl.Steps {
		if st.Kind == StepPlan {
			if c := planCycle(cfg, st.Plan, append(path, name)); c != "" {
				return c
			}
		}
	}

	return ""
}

func validOwner(s string) bool {
	u, g, ok := strings.Cut(s, ":")
	return ok && u != "" && g != "" && !strings.ContainsAny(s, " /")
}

func (p *parser) verify(n *yaml.Node, key string, s *Source) {
	m := p.mapping(n, key, "assertions", "server", "masked")

	if v, ok := m["masked"]; ok {
		b, err := strconv.ParseBool(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode {
			p.fail(v, key+".masked", "expected true or false, found %s", describe(v))
		}

		s.Verify.Masked = b
		if b && s.MySQL.Masking == nil {
			p.fail(v, key+".masked", "a masked restore test needs the source's masking rules: add masking: {key_env: ..., rules: {...}} to the source")
		}
	}

	if v, ok := m["assertions"]; ok {
		s.Verify.Assertions = p.stringList(v, key+".assertions")
	}

	if v, ok := m["server"]; ok {
		if s.Type != KindMySQL {
			p.fail(v, key+".server", "a verify server is for database sources")
			return
		}

		sm := p.mapping(v, key+".server", "host", "port", "socket", "user", "password_env", "password_file", "tls", "tls_ca")
		my := &MySQL{}
		p.mysql(v, key+".server", sm, my)
		s.Verify.Server = my
	}

	if len(s.Verify.Assertions) > 0 && s.Type != KindMySQL {
		p.fail(m["assertions"], key+".assertions", "assertions are SQL, for database sources")
	}
}
