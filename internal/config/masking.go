package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"lifeboat/internal/mask"
)

// Masking is how a database source's masked restores and exports replace
// personal data: the key every masked value is derived from, the mode and
// the rules by column.
type Masking struct {
	// KeyEnv or KeyFile holds the masking key (never the file itself).
	KeyEnv  string
	KeyFile string
	// Mode is MaskStrict (refuse a column that looks personal and has no
	// rule, or that appeared since the rules were written) or
	// MaskPermissive.
	Mode string
	// Rules maps db.table.column to its transformer.
	Rules map[string]mask.Spec
}

// Masking modes.
const (
	MaskStrict     = "strict"
	MaskPermissive = "permissive"
)

// Key reads the masking key from its variable or file, with getenv.
func (m *Masking) Key(getenv func(string) string) ([]byte, error) {
	var key []byte

	switch {
	case m.KeyEnv != "":
		v := getenv(m.KeyEnv)
		if v == "" {
			return nil, fmt.Errorf("masking: the masking key's variable %s is not set: export it (at least %d characters) or name a key_file", m.KeyEnv, mask.MinKeyBytes)
		}

		key = []byte(v)
	case m.KeyFile != "":
		b, err := os.ReadFile(m.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("masking: read the masking key file: %w", err)
		}

		key = []byte(strings.TrimRight(string(b), "\r\n"))
	default:
		return nil, fmt.Errorf("masking: no key_env or key_file")
	}

	if len(key) < mask.MinKeyBytes {
		return nil, fmt.Errorf("masking: the masking key is %d bytes; it must be at least %d (e.g. `openssl rand -hex 32`)", len(key), mask.MinKeyBytes)
	}

	return key, nil
}

func (p *parser) masking(n *yaml.Node, key string) *Masking {
	m := p.mapping(n, key, "key_env", "key_file", "mode", "rules")
	out := &Masking{Mode: MaskStrict, Rules: map[string]mask.Spec{}}

	if v, ok := m["key_env"]; ok {
		out.KeyEnv = v.Value
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			p.fail(v, key+".key_env", "expected the name of an environment variable, found %s", describe(v))
		}

		p.secretVar(v, key+".key_env")
	}

	if v, ok := m["key_file"]; ok {
		out.KeyFile = p.absPath(v, key+".key_file")
	}

	switch {
	case out.KeyEnv != "" && out.KeyFile != "":
		p.fail(n, key, "give key_env or key_file, not both")
	case out.KeyEnv == "" && out.KeyFile == "" && n.Kind == yaml.MappingNode:
		p.fail(n, key+".key_env", "missing: masked copies need a masking key; name the variable (key_env: LIFEBOAT_MASKING_KEY) or file (key_file) holding it, never the key itself")
	}

	if v, ok := m["mode"]; ok {
		out.Mode = v.Value
		if v.Value != MaskStrict && v.Value != MaskPermissive {
			p.fail(v, key+".mode", "expected strict or permissive, found %s", describe(v))
		}
	}

	if v, ok := m["rules"]; ok {
		p.maskRules(v, key+".rules", out)
	}

	return out
}

func (p *parser) maskRules(n *yaml.Node, key string, out *Masking) {
	if n.Kind != yaml.MappingNode {
		p.fail(n, key, "expected a mapping of db.table.column to a transformer, found %s", describe(n))
		return
	}

	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		full := key + "." + k.Value

		parts := strings.Split(k.Value, ".")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			p.fail(k, full, "expected a column as database.table.column, such as sml_library.users.email")
			continue
		}

		if _, dup := out.Rules[k.Value]; dup {
			p.fail(k, full, "rule given twice; keep one")
			continue
		}

		spec, ok := p.maskSpec(v, full)
		if !ok {
			continue
		}

		out.Rules[k.Value] = spec
	}
}

// maskSpec reads one rule: a transformer's name, or a mapping of one
// transformer to its argument ({fixed: V}, {date_shift: 30d},
// {number_noise: 10%}, {hash: {format: true}}, {regexp: {match, replace}},
// {json: {PATH: RULE}}).
func (p *parser) maskSpec(v *yaml.Node, key string) (mask.Spec, bool) {
	var spec mask.Spec

	switch v.Kind {
	case yaml.ScalarNode:
		spec.Kind = v.Value
	case yaml.MappingNode:
		if len(v.Content) != 2 {
			p.fail(v, key, "expected one transformer, such as email or {fixed: VALUE}, found %d", len(v.Content)/2)
			return spec, false
		}

		spec.Kind = v.Content[0].Value
		if !p.maskArg(v.Content[1], key+"."+spec.Kind, &spec) {
			return spec, false
		}
	default:
		p.fail(v, key, "expected a transformer (%s), found %s", strings.Join(mask.Kinds, ", "), describe(v))
		return spec, false
	}

	if spec.Kind == "json" && v.Kind == yaml.ScalarNode {
		p.fail(v, key, "json needs its paths: {json: {\"$.address\": address}}")
		return spec, false
	}

	if err := spec.Check(); err != nil {
		p.fail(v, key, "%s", err)
		return spec, false
	}

	return spec, true
}

// maskArg reads the argument of a transformer given as a mapping.
func (p *parser) maskArg(a *yaml.Node, key string, spec *mask.Spec) bool {
	switch spec.Kind {
	case "fixed", "date_shift", "number_noise":
		if a.Kind != yaml.ScalarNode {
			p.fail(a, key, "expected a value, found %s", describe(a))
			return false
		}

		spec.Value = a.Value
	case "hash":
		m := p.mapping(a, key, "format")
		if f, ok := m["format"]; ok {
			b, err := strconv.ParseBool(f.Value)
			if err != nil {
				p.fail(f, key+".format", "expected true or false, found %s", describe(f))
				return false
			}

			spec.Format = b
		}
	case "regexp":
		m := p.mapping(a, key, "match", "replace")
		spec.Match, spec.Replace = scalar(m["match"]), scalar(m["replace"])
	case "json":
		if a.Kind != yaml.MappingNode {
			p.fail(a, key, "expected paths and their rules, such as {\"$.address\": address}, found %s", describe(a))
			return false
		}

		spec.JSON = map[string]mask.Spec{}

		for i := 0; i+1 < len(a.Content); i += 2 {
			path := a.Content[i].Value

			inner, ok := p.maskSpec(a.Content[i+1], key+"."+path)
			if !ok {
				return false
			}

			spec.JSON[path] = inner
		}
	default:
		if !contains(mask.Kinds, spec.Kind) {
			return true // Check names it as unknown
		}

		p.fail(a, key, "%s takes no argument: write it alone, as `%s`", spec.Kind, spec.Kind)

		return false
	}

	return true
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}

	return n.Value
}

// RuleColumns lists the columns with rules, sorted.
func (m *Masking) RuleColumns() []string {
	out := make([]string, 0, len(m.Rules))
	for c := range m.Rules {
		out = append(out, c)
	}

	sort.Strings(out)

	return out
}
