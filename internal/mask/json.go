package mask

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// jsonRule is one path inside a JSON document and the rule for what it
// reaches.
type jsonRule struct {
	path  string
	steps []jsonStep
	rule  *compiled
}

// jsonStep is one step of a path: a member name, an index, or every element
// ([*]).
type jsonStep struct {
	key   string
	index int
	all   bool
	isIdx bool
}

func compilePaths(m map[string]Spec) ([]jsonRule, error) {
	paths := make([]string, 0, len(m))
	for p := range m {
		paths = append(paths, p)
	}

	sort.Strings(paths)

	out := make([]jsonRule, 0, len(paths))

	for _, p := range paths {
		steps, err := parsePath(p)
		if err != nil {
			return nil, err
		}

		if m[p].Kind == "json" {
			return nil, fmt.Errorf("json path %s: a rule inside a JSON document cannot be json again", p)
		}

		r, err := compile(m[p])
		if err != nil {
			return nil, fmt.Errorf("json path %s: %w", p, err)
		}

		out = append(out, jsonRule{path: p, steps: steps, rule: r})
	}

	return out, nil
}

// parsePath reads $.a.b[0].c[*].
func parsePath(p string) ([]jsonStep, error) {
	bad := func() ([]jsonStep, error) {
		return nil, fmt.Errorf("json path %q: expected a path such as $.address or $.contacts[*].phone", p)
	}

	rest, ok := strings.CutPrefix(p, "$")
	if !ok || rest == "" {
		return bad()
	}

	var steps []jsonStep

	for rest != "" {
		switch rest[0] {
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}

			key := rest[1 : 1+end]
			if key == "" {
				return bad()
			}

			steps = append(steps, jsonStep{key: strings.Trim(key, `"`)})
			rest = rest[1+end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return bad()
			}

			in := rest[1:end]
			if in == "*" {
				steps = append(steps, jsonStep{all: true, isIdx: true})
			} else {
				i, err := strconv.Atoi(in)
				if err != nil || i < 0 {
					return bad()
				}

				steps = append(steps, jsonStep{index: i, isIdx: true})
			}

			rest = rest[end+1:]
		default:
			return bad()
		}
	}

	return steps, nil
}

// jsonFn masks what each path reaches inside a JSON document; the rest of
// the document is kept. A document that does not parse is refused rather
// than copied unmasked.
func jsonFn(paths []jsonRule, col Column) maskFn {
	return func(m *Masker, in []byte) ([]byte, bool, error) {
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.UseNumber()

		var doc any
		if err := dec.Decode(&doc); err != nil {
			return nil, false, fmt.Errorf("the value is not a JSON document: %w", err)
		}

		for _, p := range paths {
			var err error
			if doc, err = walk(m, doc, p.steps, p); err != nil {
				return nil, false, fmt.Errorf("json path %s: %w", p.path, err)
			}
		}

		var b bytes.Buffer

		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)

		if err := enc.Encode(doc); err != nil {
			return nil, false, err
		}

		out := bytes.TrimRight(b.Bytes(), "\n")
		if col.Length > 0 && len([]rune(string(out))) > col.Length {
			return nil, false, fmt.Errorf("the masked document is longer than the column's %d characters", col.Length)
		}

		return out, false, nil
	}
}

func walk(m *Masker, v any, steps []jsonStep, p jsonRule) (any, error) {
	if len(steps) == 0 {
		return leaf(m, v, p)
	}

	st := steps[0]

	switch x := v.(type) {
	case map[string]any:
		if st.isIdx {
			return v, nil
		}

		child, ok := x[st.key]
		if !ok {
			return v, nil
		}

		out, err := walk(m, child, steps[1:], p)
		x[st.key] = out

		return x, err
	case []any:
		if !st.isIdx {
			return v, nil
		}

		for i := range x {
			if st.all || i == st.index {
				out, err := walk(m, x[i], steps[1:], p)
				if err != nil {
					return x, err
				}

				x[i] = out
			}
		}

		return x, nil
	}

	return v, nil
}

// leaf masks one value a path reaches: a string as a text column, a number
// as a number column; null stays null, and an object or list reached whole
// is masked as its JSON text when the rule is hash, else refused.
func leaf(m *Masker, v any, p jsonRule) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		fn, err := p.rule.forColumn(Column{Name: p.path, Type: "varchar", Nullable: true})
		if err != nil {
			return nil, err
		}

		out, null, err := fn(m, []byte(x))
		if err != nil || null {
			return nil, err
		}

		return string(out), nil
	case json.Number:
		typ := "double"
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			typ = "bigint"
		}

		fn, err := p.rule.forColumn(Column{Name: p.path, Type: typ, Nullable: true})
		if err != nil {
			return nil, err
		}

		out, null, err := fn(m, []byte(x))
		if err != nil || null {
			return nil, err
		}

		return json.Number(out), nil
	case bool:
		return x, nil
	}

	if p.rule.spec.Kind == "null" {
		return nil, nil
	}

	return nil, fmt.Errorf("reaches an object or a list: name its members (such as %s.field or %s[*])", p.path, p.path)
}
