package config

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

// Copy is a further copy of the repository (the guide's second location and
// offline copy): the same repository, kept up to date by `lifeboat replicate`.
type Copy struct {
	Name string
	Path string
	S3   *S3
	// Offline copies are expected to be missing most of the time (a disk
	// mounted now and then); replicate brings them up to date when present.
	Offline bool
	// Offsite says the copy is in another place; S3 copies are by default.
	Offsite bool
	// Schedule is the daemon's cron for replicating to this copy; AfterBackup
	// replicates after every scheduled backup.
	Schedule    string
	AfterBackup bool
}

// Location names the copy in messages.
func (c *Copy) Location() string {
	return Repository{Path: c.Path, S3: c.S3}.Location()
}

// Medium is the kind of storage the copy is on, for 3-2-1 counting.
func (c *Copy) Medium() string {
	if c.S3 != nil {
		return "object storage"
	}

	if c.Offline {
		return "removable disk"
	}

	return "disk"
}

func (p *parser) copies(n *yaml.Node, cfg *Config) {
	p.named(n, "copies", "copy", func(name, key string, v *yaml.Node) {
		cm := p.mapping(v, key, append([]string{"offline", "offsite", "schedule", "after_backup"}, storageKeys...)...)
		c := &Copy{Name: name}
		c.Path, c.S3 = p.location(v, key, cm)
		c.Offsite = c.S3 != nil

		for _, f := range []struct {
			k   string
			dst *bool
		}{{"offline", &c.Offline}, {"offsite", &c.Offsite}, {"after_backup", &c.AfterBackup}} {
			if b, ok := cm[f.k]; ok {
				val, err := strconv.ParseBool(b.Value)
				if err != nil || b.Kind != yaml.ScalarNode {
					p.fail(b, key+"."+f.k, "expected true or false, found %s", describe(b))
				}

				*f.dst = val
			}
		}

		if s, ok := cm["schedule"]; ok {
			c.Schedule = p.cronSpec(s, key+".schedule")
		}

		if c.Path != "" && c.Path == cfg.Repository.Path {
			p.fail(v, key+".path", "is the repository itself; a copy must be somewhere else")
		}

		cfg.Copies[name] = c
		cfg.CopyNames = append(cfg.CopyNames, name)
	})
}
