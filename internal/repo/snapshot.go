package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
)

// Backup types.
const (
	TypeFull         = "full"
	TypeIncremental  = "incremental"
	TypeDifferential = "differential"
)

// Roles: a regular backup, or the copy of what a restore was about to overwrite.
const (
	RoleBackup = "backup"
	RoleSafety = "safety"
)

// Layouts of a snapshot's root.
const (
	// LayoutDir: the root is the one directory the source names.
	LayoutDir = "dir"
	// LayoutAbs: the root mirrors absolute paths ("etc/nginx/...").
	LayoutAbs = "abs"
)

// Label keys. kopia reserves bare keys (type, hostname, path, username), so ours
// carry its "tag:" prefix.
const (
	labelSource  = "tag:source"
	labelKind    = "tag:kind"
	labelType    = "tag:type"
	labelRole    = "tag:role"
	labelHost    = "tag:host"
	labelVersion = "tag:version"
	labelStart   = "tag:start"
	labelEnd     = "tag:end"
	labelFiles   = "tag:files"
	labelBytes   = "tag:bytes"
	labelDigest  = "tag:digest"
	labelBase    = "tag:base"
	labelLayout  = "tag:layout"
	labelPaths   = "tag:paths"
	labelRead    = "tag:read-files"
	labelReused  = "tag:reused-files"
	labelSkipped = "tag:skipped-errors"
	labelMarker  = "tag:lifeboat"
	labelPrefix  = "tag:x-"
)

// Snapshot is what Lifeboat records about one backup.
type Snapshot struct {
	ID      string    `json:"id"`
	Source  string    `json:"source"`
	Kind    string    `json:"kind"`
	Type    string    `json:"type"`
	Role    string    `json:"role"`
	Time    time.Time `json:"time"`
	End     time.Time `json:"end"`
	Host    string    `json:"host"`
	Version string    `json:"version"`
	Files   int64     `json:"files"`
	Bytes   int64     `json:"bytes"`
	Digest  string    `json:"digest"`
	Base    string    `json:"base,omitempty"`
	// ReadFiles were read and hashed; ReusedFiles were unchanged since the
	// base and taken from it without reading.
	ReadFiles   int64 `json:"read_files"`
	ReusedFiles int64 `json:"reused_files"`
	// SkippedErrors counts unreadable entries left out under ignore_unreadable.
	SkippedErrors int64    `json:"skipped_errors,omitempty"`
	Layout        string   `json:"layout"`
	Paths         []string `json:"paths"`
	// Extra holds source-specific labels (e.g. a git bundle's HEAD).
	Extra map[string]string `json:"extra,omitempty"`
}

func sourceInfo(source string) snapshot.SourceInfo {
	// A fixed host and user keep one chain per source whatever machine runs the
	// backup, so a rebuilt host continues the chain it restored from.
	return snapshot.SourceInfo{Host: "lifeboat", UserName: "lifeboat", Path: "/" + source}
}

func (s *Snapshot) labels() map[string]string {
	paths, _ := json.Marshal(s.Paths)
	l := map[string]string{
		labelMarker:  "1",
		labelSource:  s.Source,
		labelKind:    s.Kind,
		labelType:    s.Type,
		labelRole:    s.Role,
		labelHost:    s.Host,
		labelVersion: s.Version,
		labelStart:   s.Time.UTC().Format(time.RFC3339Nano),
		labelEnd:     s.End.UTC().Format(time.RFC3339Nano),
		labelFiles:   strconv.FormatInt(s.Files, 10),
		labelBytes:   strconv.FormatInt(s.Bytes, 10),
		labelDigest:  s.Digest,
		labelLayout:  s.Layout,
		labelPaths:   string(paths),
		labelRead:    strconv.FormatInt(s.ReadFiles, 10),
		labelReused:  strconv.FormatInt(s.ReusedFiles, 10),
		labelSkipped: strconv.FormatInt(s.SkippedErrors, 10),
	}

	if s.Base != "" {
		l[labelBase] = s.Base
	}

	for k, v := range s.Extra {
		l[labelPrefix+k] = v
	}

	return l
}

func fromManifest(m *snapshot.Manifest) *Snapshot {
	t := m.Tags
	s := &Snapshot{
		ID:      string(m.ID),
		Source:  t[labelSource],
		Kind:    t[labelKind],
		Type:    t[labelType],
		Role:    t[labelRole],
		Host:    t[labelHost],
		Version: t[labelVersion],
		Digest:  t[labelDigest],
		Base:    t[labelBase],
		Layout:  t[labelLayout],
	}
	s.Time, _ = time.Parse(time.RFC3339Nano, t[labelStart])
	s.End, _ = time.Parse(time.RFC3339Nano, t[labelEnd])
	s.Files, _ = strconv.ParseInt(t[labelFiles], 10, 64)
	s.Bytes, _ = strconv.ParseInt(t[labelBytes], 10, 64)
	s.ReadFiles, _ = strconv.ParseInt(t[labelRead], 10, 64)
	s.ReusedFiles, _ = strconv.ParseInt(t[labelReused], 10, 64)
	s.SkippedErrors, _ = strconv.ParseInt(t[labelSkipped], 10, 64)
	_ = json.Unmarshal([]byte(t[labelPaths]), &s.Paths)

	for k, v := range t {
		if strings.HasPrefix(k, labelPrefix) {
			if s.Extra == nil {
				s.Extra = map[string]string{}
			}

			s.Extra[strings.TrimPrefix(k, labelPrefix)] = v
		}
	}

	return s
}

// Snapshots lists the complete snapshots of a source ("" for all), oldest first.
// Checkpoints of unfinished or killed backups are never listed.
func (r *Repository) Snapshots(ctx context.Context, source string) ([]*Snapshot, error) {
	man, err := r.manifests(ctx, source, false)
	if err != nil {
		return nil, err
	}

	out := make([]*Snapshot, 0, len(man))
	for _, m := range man {
		out = append(out, fromManifest(m))
	}

	return out, nil
}

func (r *Repository) manifests(ctx context.Context, source string, incomplete bool) ([]*snapshot.Manifest, error) {
	filter := map[string]string{"type": "snapshot", labelMarker: "1"}
	if source != "" {
		filter[labelSource] = source
	}

	ids, err := snapshot.ListSnapshotManifests(ctx, r.rep, nil, filter)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}

	all, err := snapshot.LoadSnapshots(ctx, r.rep, ids)
	if err != nil {
		return nil, fmt.Errorf("load snapshots: %w", err)
	}

	var out []*snapshot.Manifest

	for _, m := range all {
		if (m.IncompleteReason != "") == incomplete {
			out = append(out, m)
		}
	}

	sort.Slice(out, func(i, j int) bool {
		return out[i].StartTime.ToTime().Before(out[j].StartTime.ToTime())
	})

	return out, nil
}

// Find resolves "latest", a full ID or a unique ID prefix of at least six
// characters to a snapshot of source.
func (r *Repository) Find(ctx context.Context, source, id string) (*Snapshot, error) {
	snaps, err := r.Snapshots(ctx, source)
	if err != nil {
		return nil, err
	}

	if id == "" || id == "latest" {
		for i := len(snaps) - 1; i >= 0; i-- {
			if snaps[i].Role != RoleSafety {
				return snaps[i], nil
			}
		}

		return nil, fmt.Errorf("source %s: %w: it has no backups yet; run `lifeboat backup %s`", source, ErrSnapshotNotFound, source)
	}

	found, err := MatchID(snaps, id)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source, err)
	}

	if found == nil {
		return nil, fmt.Errorf("source %s: %w: no snapshot with ID %q; list them with `lifeboat snapshots %s`", source, ErrSnapshotNotFound, id, source)
	}

	return found, nil
}

// MinPrefix is the shortest ID prefix taken for a snapshot: shorter ones
// match too many snapshots to be typed safely from memory.
const MinPrefix = 6

// AmbiguousError is an ID prefix that names more than one snapshot. It
// lists every candidate, so the user can pick one without another command.
// It is an ErrSnapshotNotFound: no snapshot was chosen.
type AmbiguousError struct {
	Prefix     string
	Candidates []*Snapshot
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder

	fmt.Fprintf(&b, "snapshot ID prefix %q matches %d snapshots; give more characters of one of them:", e.Prefix, len(e.Candidates))

	for _, s := range e.Candidates {
		fmt.Fprintf(&b, "\n  %s  %s  %s", s.ID, s.Source, s.Time.Local().Format(time.DateTime))
	}

	return b.String()
}

// Unwrap makes an ambiguous prefix an ErrSnapshotNotFound.
func (e *AmbiguousError) Unwrap() error { return ErrSnapshotNotFound }

// MatchID picks the snapshot among snaps whose ID is id or starts with it.
// It returns nil and no error when none does; an *AmbiguousError when
// several do; and refuses a prefix shorter than MinPrefix even when it is
// unique, naming the snapshot it matches.
func MatchID(snaps []*Snapshot, id string) (*Snapshot, error) {
	var match []*Snapshot

	for _, s := range snaps {
		if s.ID == id {
			return s, nil
		}

		if id != "" && strings.HasPrefix(s.ID, id) {
			match = append(match, s)
		}
	}

	switch {
	case len(match) > 1:
		return nil, &AmbiguousError{Prefix: id, Candidates: match}
	case len(match) == 1 && len(id) < MinPrefix:
		s := match[0]

		return nil, fmt.Errorf("%w: ID prefix %q is shorter than %d characters (it matches %s  %s  %s); give at least %d",
			ErrSnapshotNotFound, id, MinPrefix, s.ID, s.Source, s.Time.Local().Format(time.DateTime), MinPrefix)
	case len(match) == 1:
		return match[0], nil
	}

	return nil, nil
}

// Base returns the snapshot an incremental (latest backup of any type) or a
// differential (latest full) builds on, or nil when there is none.
func (r *Repository) Base(ctx context.Context, source, typ string) (*Snapshot, error) {
	snaps, err := r.Snapshots(ctx, source)
	if err != nil {
		return nil, err
	}

	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		if s.Role != RoleBackup {
			continue
		}

		if typ == TypeIncremental || s.Type == TypeFull {
			return s, nil
		}
	}

	return nil, nil
}

func (r *Repository) loadManifest(ctx context.Context, id string) (*snapshot.Manifest, error) {
	m, err := snapshot.LoadSnapshot(ctx, r.rep, manifest.ID(id))
	if err != nil {
		if errors.Is(err, snapshot.ErrSnapshotNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrSnapshotNotFound, id)
		}

		return nil, fmt.Errorf("load snapshot %s: %w", id, err)
	}

	return m, nil
}
