package config

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

func (p *parser) s3(key string, m map[string]*yaml.Node) *S3 {
	s := &S3{AccessKeyEnv: "AWS_ACCESS_KEY_ID", SecretKeyEnv: "AWS_SECRET_ACCESS_KEY", TLS: true, Endpoint: "s3.amazonaws.com"}

	u := m["url"]
	rest, ok := strings.CutPrefix(u.Value, "s3://")
	bucket, prefix, _ := strings.Cut(rest, "/")

	if !ok || bucket == "" || u.Kind != yaml.ScalarNode {
		p.fail(u, key+".url", "expected s3://bucket or s3://bucket/prefix, found %s", describe(u))
	}

	s.Bucket = bucket
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		s.Prefix = prefix + "/"
	}

	str := func(k string, dst *string) {
		if v, ok := m[k]; ok {
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				p.fail(v, key+"."+k, "expected a non-empty string, found %s", describe(v))
				return
			}

			*dst = v.Value
		}
	}

	str("endpoint", &s.Endpoint)
	str("region", &s.Region)
	str("access_key_env", &s.AccessKeyEnv)
	str("secret_key_env", &s.SecretKeyEnv)
	p.secretVar(m["access_key_env"], key+".access_key_env")
	p.secretVar(m["secret_key_env"], key+".secret_key_env")

	if strings.Contains(s.Endpoint, "://") {
		p.fail(m["endpoint"], key+".endpoint", "expected host or host:port without a scheme (TLS is set with tls:), found %q", s.Endpoint)
	} else if _, _, err := net.SplitHostPort(s.Endpoint); err != nil && strings.Contains(s.Endpoint, ":") {
		p.fail(m["endpoint"], key+".endpoint", "expected host or host:port, found %q", s.Endpoint)
	}

	if v, ok := m["access_key_file"]; ok {
		s.AccessKeyFile = p.absPath(v, key+".access_key_file")
	}

	if v, ok := m["secret_key_file"]; ok {
		s.SecretKeyFile = p.absPath(v, key+".secret_key_file")
	}

	if v, ok := m["tls"]; ok {
		b, err := strconv.ParseBool(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode {
			p.fail(v, key+".tls", "expected true or false, found %s", describe(v))
		}

		s.TLS = b
	}

	if v, ok := m["ca_file"]; ok {
		s.CAFile = p.absPath(v, key+".ca_file")

		if !s.TLS {
			p.fail(v, key+".ca_file", "a CA is for TLS, and tls is false")
		}
	}

	if v, ok := m["upload_limit"]; ok {
		s.UploadLimit, s.UploadHours = p.uploadLimit(v, key+".upload_limit")
	}

	if v, ok := m["immutable_for"]; ok {
		d, err := ParseDuration(v.Value)
		if err != nil || d < 24*time.Hour || v.Kind != yaml.ScalarNode {
			p.fail(v, key+".immutable_for", "expected a duration of at least 1d, such as 30d, found %s", describe(v))
		}

		s.ImmutableFor, s.LockMode = d, "compliance"
	}

	if v, ok := m["lock_mode"]; ok {
		if v.Value != "compliance" && v.Value != "governance" {
			p.fail(v, key+".lock_mode", "expected compliance (nobody can delete, not even the bucket's owner) or governance (a privileged user can), found %s", describe(v))
		}

		if s.ImmutableFor == 0 {
			p.fail(v, key+".lock_mode", "set immutable_for (e.g. 30d) too: the mode says how, immutable_for how long")
		}

		s.LockMode = v.Value
	}

	return s
}

// uploadLimit reads `upload_limit: 50MB/s` (always) or
// `upload_limit: {rate: 50MB/s, during: "Mon-Fri 08:00-18:00"}` (in those
// hours only: business hours, when the uplink is needed for other work).
func (p *parser) uploadLimit(v *yaml.Node, key string) (float64, *Window) {
	rate := v

	var during *Window

	if v.Kind == yaml.MappingNode {
		m := p.mapping(v, key, "rate", "during")

		if rate = m["rate"]; rate == nil {
			p.fail(v, key+".rate", "missing: the cap, such as 50MB/s")
			return 0, nil
		}

		if d, ok := m["during"]; ok {
			w, err := ParseWindow(d.Value)
			if err != nil || d.Kind != yaml.ScalarNode {
				if err == nil {
					err = errors.New("expected a string")
				}

				p.fail(d, key+".during", "%v (found %s)", err, describe(d))
			}

			during = w
		}

		key += ".rate"
	}

	bps, err := ParseRate(rate.Value)
	if err != nil || rate.Kind != yaml.ScalarNode {
		p.fail(rate, key, "expected a rate such as 50MB/s or 2MiB/s, or {rate: 50MB/s, during: \"Mon-Fri 08:00-18:00\"}, found %s", describe(rate))
	}

	return bps, during
}

// ParseRate reads a bandwidth such as "50MB/s", "2MiB/s" or "800KB/s" in
// bytes per second.
func ParseRate(s string) (float64, error) {
	v := strings.TrimSpace(s)

	num, ok := strings.CutSuffix(v, "/s")
	if !ok {
		return 0, strconv.ErrSyntax
	}

	mult := 1.0

	for _, u := range []struct {
		suffix string
		m      float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = n, u.m
			break
		}
	}

	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || f <= 0 {
		return 0, strconv.ErrSyntax
	}

	return f * mult, nil
}
