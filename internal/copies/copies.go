// Package copies says, from the repository's records of each replication,
// where every source can be restored from: the 3-2-1 count (copies, kinds of
// media, copies off site) and the newest instant each copy can give back.
package copies

import (
	"sort"
	"time"

	"lifeboat/internal/config"
	"lifeboat/internal/records"
)

// Kind is the record kind of each copy's last replication.
const Kind = records.KindCopy

// Copy is one copy's state as last recorded.
type Copy struct {
	Name       string               `json:"name"`
	Location   string               `json:"location"`
	Medium     string               `json:"medium"`
	Offsite    bool                 `json:"offsite"`
	Offline    bool                 `json:"offline"`
	Replicated time.Time            `json:"replicated,omitzero"`
	Restorable map[string]time.Time `json:"restorable,omitempty"`
	// OldPassword: the copy was last replicated before the repository's
	// password changed, so it still opens with the old one.
	OldPassword bool `json:"old_password,omitempty"`
	// OldKey: the copy was last replicated before a rekey, so it holds the
	// retired key's repository until the next replication re-seeds it.
	OldKey bool `json:"old_key,omitempty"`
}

// Summary is one source's 3-2-1 count: the repository plus every copy that
// holds a restorable instant of it.
type Summary struct {
	Copies  int      `json:"copies"`
	Media   int      `json:"media"`
	Offsite int      `json:"offsite"`
	Where   []string `json:"where"`
	// Meets is the 3-2-1 rule: three copies, two media, one off site.
	Meets bool `json:"meets_3_2_1"`
}

// Load reads every configured copy's last replication from the records.
func Load(cfg *config.Config, recs map[string]records.Copy) []*Copy {
	var out []*Copy

	for _, name := range cfg.CopyNames {
		c := cfg.Copies[name]
		cp := &Copy{Name: name, Location: c.Location(), Medium: c.Medium(), Offsite: c.Offsite, Offline: c.Offline}

		if v, ok := recs[name]; ok && v.OK {
			cp.Replicated, cp.Restorable = v.At, v.Restorable
		}

		out = append(out, cp)
	}

	return out
}

// Summarize counts, for a source, the repository and the copies that can
// restore it. primaryMedium and primaryOffsite describe the repository.
func Summarize(source string, primaryMedium string, primaryOffsite bool, cps []*Copy) Summary {
	s := Summary{Copies: 1, Offsite: map[bool]int{true: 1, false: 0}[primaryOffsite], Where: []string{"repository"}}
	media := map[string]bool{primaryMedium: true}

	for _, c := range cps {
		if _, ok := c.Restorable[source]; !ok {
			continue
		}

		s.Copies++
		media[c.Medium] = true
		s.Where = append(s.Where, c.Name)

		if c.Offsite {
			s.Offsite++
		}
	}

	s.Media = len(media)
	sort.Strings(s.Where[1:])
	s.Meets = s.Copies >= 3 && s.Media >= 2 && s.Offsite >= 1

	return s
}

// PrimaryMedium is the kind of storage of the repository itself.
func PrimaryMedium(cfg *config.Config) (string, bool) {
	if cfg.Repository.S3 != nil {
		return "object storage", true
	}

	return "disk", false
}

// RetiredKind is the record kind, by repository ID, of the repositories a
// rekey replaced: a copy holding one of them is of the old key.
const RetiredKind = "retired-key"
