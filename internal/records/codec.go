package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// A field's tag is `record:"key[,option...]"`. The options:
//
//	omitempty  leave the key out when the value is zero
//	seconds    a time to the second (RFC 3339), not to the nanosecond
//	prec=N     a float with N decimals (default: as few as round-trip)
//	json       the value as JSON text (nested values)
//
// A nil pointer leaves its key out; a key that is absent decodes as zero.
// Times are written in UTC.
type field struct {
	key       string
	omitempty bool
	seconds   bool
	json      bool
	prec      int
	index     int
}

var timeType = reflect.TypeFor[time.Time]()

func fields(t reflect.Type) ([]field, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("a record is a struct, not %s", t)
	}

	var out []field

	for i := range t.NumField() {
		tag, ok := t.Field(i).Tag.Lookup("record")
		if !ok || tag == "-" {
			continue
		}

		parts := strings.Split(tag, ",")
		f := field{key: parts[0], prec: -1, index: i}

		for _, o := range parts[1:] {
			switch {
			case o == "omitempty":
				f.omitempty = true
			case o == "seconds":
				f.seconds = true
			case o == "json":
				f.json = true
			case strings.HasPrefix(o, "prec="):
				n, err := strconv.Atoi(strings.TrimPrefix(o, "prec="))
				if err != nil {
					return nil, fmt.Errorf("field %s: bad option %q", t.Field(i).Name, o)
				}

				f.prec = n
			default:
				return nil, fmt.Errorf("field %s: unknown option %q", t.Field(i).Name, o)
			}
		}

		out = append(out, f)
	}

	return out, nil
}

// Encode spells v (a struct or a pointer to one) as the repository stores it.
func Encode(v any) (map[string]string, error) {
	rv := reflect.Indirect(reflect.ValueOf(v))

	fs, err := fields(rv.Type())
	if err != nil {
		return nil, err
	}

	m := map[string]string{}

	for _, f := range fs {
		fv := rv.Field(f.index)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}

			fv = fv.Elem()
		}

		if f.omitempty && fv.IsZero() {
			continue
		}

		s, err := f.format(fv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}

		m[f.key] = s
	}

	return m, nil
}

func (f field) format(v reflect.Value) (string, error) {
	if f.json {
		if v.CanAddr() {
			v = v.Addr() // methods on the pointer count too
		}

		b, err := json.Marshal(v.Interface())
		return string(b), err
	}

	if v.Type() == timeType {
		layout := time.RFC3339Nano
		if f.seconds {
			layout = time.RFC3339
		}

		return v.Interface().(time.Time).UTC().Format(layout), nil
	}

	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return strconv.FormatUint(v.Uint(), 10), nil
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', f.prec, 64), nil
	}

	return "", fmt.Errorf("no spelling for %s", v.Type())
}

// Decode reads a stored record into v (a pointer to a struct). Every field
// that can be read is; the error names those that could not.
func Decode(m map[string]string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("decode a record into a non-nil pointer")
	}

	rv = rv.Elem()

	fs, err := fields(rv.Type())
	if err != nil {
		return err
	}

	var errs []error

	for _, f := range fs {
		s, ok := m[f.key]
		if !ok {
			continue
		}

		fv := rv.Field(f.index)
		if fv.Kind() == reflect.Pointer {
			fv.Set(reflect.New(fv.Type().Elem()))
			fv = fv.Elem()
		}

		if err := f.parse(s, fv); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", f.key, s, err))
		}
	}

	return errors.Join(errs...)
}

func (f field) parse(s string, v reflect.Value) error {
	if f.json {
		return json.Unmarshal([]byte(s), v.Addr().Interface())
	}

	if v.Type() == timeType {
		// RFC3339Nano reads times to the second too.
		t, err := time.Parse(time.RFC3339Nano, s)
		v.Set(reflect.ValueOf(t))

		return err
	}

	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
		return nil
	case reflect.Bool:
		// Readers have always taken anything but "true" as false.
		v.SetBool(s == "true")
		return nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		v.SetInt(n)

		return err
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		v.SetUint(n)

		return err
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		v.SetFloat(n)

		return err
	}

	return fmt.Errorf("no reading for %s", v.Type())
}
