package mask

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Spec is one configured rule: a transformer and its argument.
type Spec struct {
	// Kind is the transformer: email, name, first_name, last_name, phone,
	// address, text, hash, null, fixed, date_shift, number_noise, regexp,
	// json or keep.
	Kind string
	// Value is fixed's value, date_shift's span (30d) or number_noise's
	// share (10%).
	Value string
	// Format makes hash keep the value's format: digits stay digits,
	// letters letters.
	Format bool
	// Match and Replace are regexp's expression and replacement.
	Match, Replace string
	// JSON maps paths inside a JSON document ($.a.b, $.list[*].c) to rules.
	JSON map[string]Spec
}

// Kinds are the transformers a rule may name.
var Kinds = []string{"email", "name", "first_name", "last_name", "phone", "address", "text", "hash", "null", "fixed", "date_shift", "number_noise", "regexp", "json", "keep"}

// String is the rule as written in the configuration.
func (s Spec) String() string {
	switch s.Kind {
	case "fixed", "date_shift", "number_noise":
		return s.Kind + ": " + s.Value
	case "hash":
		if s.Format {
			return "hash (format-keeping)"
		}
	case "regexp":
		return fmt.Sprintf("regexp %q -> %q", s.Match, s.Replace)
	case "json":
		paths := make([]string, 0, len(s.JSON))
		for p, r := range s.JSON {
			paths = append(paths, p+": "+r.String())
		}

		sort.Strings(paths)

		return "json {" + strings.Join(paths, ", ") + "}"
	}

	return s.Kind
}

// Check validates a rule without a column: the transformer is known and its
// argument reads.
func (s Spec) Check() error {
	_, err := compile(s)
	return err
}

// compiled is a rule with its argument read.
type compiled struct {
	spec  Spec
	span  time.Duration
	share float64
	re    *regexp.Regexp
	fixed []byte
	paths []jsonRule
}

func compile(s Spec) (*compiled, error) {
	c := &compiled{spec: s}

	switch s.Kind {
	case "email", "name", "first_name", "last_name", "phone", "address", "text", "hash", "null", "keep":
	case "fixed":
		c.fixed = []byte(s.Value)
	case "date_shift":
		d, err := parseSpan(s.Value)
		if err != nil {
			return nil, err
		}

		c.span = d
	case "number_noise":
		v := strings.TrimSpace(s.Value)
		p, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)

		if err != nil || !strings.HasSuffix(v, "%") || p <= 0 || p > 100 {
			return nil, fmt.Errorf("number_noise: expected a share from 0%% to 100%% such as 10%%, found %q", s.Value)
		}

		c.share = p / 100
	case "regexp":
		if s.Match == "" {
			return nil, fmt.Errorf("regexp: expected {match: EXPRESSION, replace: TEXT}, match is missing")
		}

		re, err := regexp.Compile(s.Match)
		if err != nil {
			return nil, fmt.Errorf("regexp: match %q: %w", s.Match, err)
		}

		c.re = re
	case "json":
		if len(s.JSON) == 0 {
			return nil, fmt.Errorf("json: expected paths and their rules, such as {\"$.address\": address}")
		}

		paths, err := compilePaths(s.JSON)
		if err != nil {
			return nil, err
		}

		c.paths = paths
	default:
		return nil, fmt.Errorf("unknown transformer %q; expected one of: %s", s.Kind, strings.Join(Kinds, ", "))
	}

	return c, nil
}

// parseSpan reads date_shift's span: a number of days (30d), hours (12h) or
// a Go duration.
func parseSpan(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)

	var d time.Duration

	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err == nil {
			d = time.Duration(days) * 24 * time.Hour
		}
	} else if p, err := time.ParseDuration(v); err == nil {
		d = p
	}

	if d < time.Second || d > 3650*24*time.Hour {
		return 0, fmt.Errorf("date_shift: expected a span from 1s to 3650d such as 30d or 12h, found %q", v)
	}

	return d, nil
}

// Field compiles spec for column col.
func (m *Masker) Field(spec Spec, col Column) (*Field, error) {
	c, err := compile(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", col.Name, err)
	}

	fn, err := c.forColumn(col)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", col.Name, col.Type, err)
	}

	// Integers are permuted within their digit count and range: distinct
	// values stay distinct by construction, so nothing is recorded.
	permuted := (spec.Kind == "hash" || spec.Kind == "phone") && col.class() == classInt
	checked := col.Unique && !permuted

	switch spec.Kind {
	case "fixed", "null", "keep", "regexp":
		checked = false
	}

	if col.Unique && (spec.Kind == "fixed" || spec.Kind == "null" || spec.Kind == "regexp") {
		return nil, fmt.Errorf("%s: the column is in a unique key, and %s would give different rows the same value: use hash, email, or another keyed transformer", col.Name, spec.Kind)
	}

	return &Field{m: m, col: col, rule: spec.Kind, fn: fn, checked: checked}, nil
}

type maskFn = func(m *Masker, in []byte) ([]byte, bool, error)

// forColumn picks the transformer's implementation for col's type, or says
// why it cannot write that type.
func (c *compiled) forColumn(col Column) (maskFn, error) {
	cl := col.class()
	kind := c.spec.Kind
	stringy := cl == classString || cl == classBinary || cl == classOther

	wrongType := func() (maskFn, error) {
		return nil, fmt.Errorf("%s cannot write a %s column", kind, col.Type)
	}

	switch kind {
	case "keep":
		return func(_ *Masker, in []byte) ([]byte, bool, error) { return in, false, nil }, nil
	case "null":
		if !col.Nullable {
			return nil, fmt.Errorf("null cannot write a NOT NULL column: use fixed or another transformer")
		}

		return func(*Masker, []byte) ([]byte, bool, error) { return nil, true, nil }, nil
	case "fixed":
		return c.fixedFn(col)
	case "email", "name", "first_name", "last_name", "address", "text":
		if !stringy || col.Type == "enum" || col.Type == "set" {
			return wrongType()
		}

		if kind == "text" {
			return shapeFn("text", col), nil
		}

		return stringFn(kind, col), nil
	case "phone":
		if !stringy && cl != classInt && cl != classDecimal {
			return wrongType()
		}

		return digitsFn("phone", col), nil
	case "hash":
		return c.hashFn(col)
	case "date_shift":
		if cl != classDate && cl != classDateTime {
			return wrongType()
		}

		return shiftFn(c.span, col), nil
	case "number_noise":
		if cl != classInt && cl != classDecimal && cl != classFloat {
			return wrongType()
		}

		return noiseFn(c.share, col), nil
	case "regexp":
		if !stringy {
			return wrongType()
		}

		re, repl := c.re, []byte(c.spec.Replace)

		return func(_ *Masker, in []byte) ([]byte, bool, error) {
			out := re.ReplaceAll(in, repl)
			if col.Length > 0 && len([]rune(string(out))) > col.Length {
				return nil, false, fmt.Errorf("the replacement is longer than the column's %d characters", col.Length)
			}

			return out, false, nil
		}, nil
	case "json":
		if cl != classJSON && cl != classString {
			return wrongType()
		}

		return jsonFn(c.paths, col), nil
	}

	return wrongType()
}

func (c *compiled) fixedFn(col Column) (maskFn, error) {
	v := c.fixed

	switch col.class() {
	case classInt, classDecimal, classFloat:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return nil, fmt.Errorf("fixed value %q is not a number", v)
		}
	case classDate, classDateTime:
		if _, err := parseDate(string(v)); err != nil {
			return nil, fmt.Errorf("fixed value %q is not a date (YYYY-MM-DD[ hh:mm:ss])", v)
		}
	default:
		if col.Length > 0 && len([]rune(string(v))) > col.Length {
			return nil, fmt.Errorf("fixed value %q is longer than the column's %d characters", v, col.Length)
		}
	}

	return func(*Masker, []byte) ([]byte, bool, error) { return v, false, nil }, nil
}

func (c *compiled) hashFn(col Column) (maskFn, error) {
	switch col.class() {
	case classInt, classDecimal:
		return digitsFn("hash", col), nil
	case classString, classBinary, classOther, classJSON:
		if col.Type == "enum" || col.Type == "set" {
			return nil, fmt.Errorf("hash cannot write an %s column: its values are a fixed list", col.Type)
		}

		if c.spec.Format {
			return shapeFn("hash", col), nil
		}

		return func(m *Masker, in []byte) ([]byte, bool, error) {
			s := m.stream("hash", in)
			n := 32
			if col.Length > 0 && col.Length < n {
				n = col.Length
			}

			return []byte(s.hex(n)), false, nil
		}, nil
	}

	return nil, fmt.Errorf("hash cannot write a %s column", col.Type)
}
