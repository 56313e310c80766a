package plan

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/records"
	"lifeboat/internal/repo"
	"lifeboat/internal/source"
	"lifeboat/internal/sources"
)

// KindPoint is the record kind of recovery points.
const KindPoint = "point"

// Point is a recovery point: one backup of several sources taken together,
// so restoring all of them to it gives back data that belongs together (the
// rows and the uploads they reference).
type Point struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Snapshots maps each source to its snapshot in the point.
	Snapshots map[string]string `json:"snapshots"`
	// Details say what each snapshot pins down: a database's binlog
	// position, a repository's HEAD commit, a folder's file count.
	Details map[string]string `json:"details,omitempty"`
}

// Sources lists the point's sources in name order.
func (p *Point) Sources() []string {
	out := make([]string, 0, len(p.Snapshots))
	for s := range p.Snapshots {
		out = append(out, s)
	}

	sort.Strings(out)

	return out
}

// NewPoint records a recovery point from the snapshots just taken, dated on clk.
func NewPoint(ctx context.Context, clk clock.Clock, r *repo.Repository, snaps []*repo.Snapshot) (*Point, error) {
	now := clock.Or(clk).Now()
	p := &Point{ID: newID(now), Time: now.UTC(), Snapshots: map[string]string{}, Details: map[string]string{}}

	for _, s := range snaps {
		p.Snapshots[s.Source] = s.ID

		chain, chained := sources.ChainOf(s.Kind)

		switch {
		case chained:
			p.Details[s.Source] = chain.Describe(s)
		case s.Extra["head"] != "":
			p.Details[s.Source] = "HEAD " + s.Extra["head"]
		default:
			p.Details[s.Source] = fmt.Sprintf("%d files", s.Files)
		}
	}

	return p, records.Put(ctx, r, KindPoint, p.ID, pointRecord{Point: p})
}

// pointRecord is how a recovery point is stored: as JSON.
type pointRecord struct {
	Point *Point `record:"json,json"`
}

// Points returns every recovery point, oldest first.
func Points(ctx context.Context, r *repo.Repository) ([]*Point, error) {
	recs, err := records.All[pointRecord](ctx, r, KindPoint)
	if err != nil {
		return nil, err
	}

	var out []*Point

	for _, v := range recs {
		if v.Point != nil {
			out = append(out, v.Point)
		}
	}

	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })

	return out, nil
}

// FindPoint returns the point with id (or a unique prefix, or "latest").
func FindPoint(ctx context.Context, r *repo.Repository, id string) (*Point, error) {
	pts, err := Points(ctx, r)
	if err != nil {
		return nil, err
	}

	if id == "latest" && len(pts) > 0 {
		return pts[len(pts)-1], nil
	}

	var match []*Point

	for _, p := range pts {
		if p.ID == id {
			return p, nil
		}

		if id != "" && strings.HasPrefix(p.ID, id) {
			match = append(match, p)
		}
	}

	if len(match) > 1 {
		var b strings.Builder

		fmt.Fprintf(&b, "recovery point prefix %q matches %d points; give more characters of one of them:", id, len(match))

		for _, p := range match {
			fmt.Fprintf(&b, "\n  %s  %s  %s", p.ID, strings.Join(p.Sources(), ","), p.Time.Local().Format(time.DateTime))
		}

		return nil, ambiguousError(b.String())
	}

	if len(match) == 0 {
		return nil, fmt.Errorf("%w: no recovery point %q; list them with `lifeboat points`", repo.ErrSnapshotNotFound, id)
	}

	return match[0], nil
}

// ambiguousError is a prefix that names several points: no point was
// chosen, so it is an ErrSnapshotNotFound (a usage error).
type ambiguousError string

func (e ambiguousError) Error() string { return string(e) }
func (e ambiguousError) Unwrap() error { return repo.ErrSnapshotNotFound }

// PointOrder puts the database sources first: every upload a row references
// was written before the row, so files read after the database hold every
// file the restored rows can name.
func PointOrder(cfg *config.Config, names []string) []string {
	out := make([]string, 0, len(names))

	for _, pass := range []bool{true, false} {
		for _, n := range names {
			if sc, ok := cfg.Sources[n]; ok && isDatabase(sc) == pass {
				out = append(out, n)
			} else if !ok && !pass {
				out = append(out, n)
			}
		}
	}

	return out
}

// isDatabase reports whether the source sc configures restores into a
// database server.
func isDatabase(sc *config.Source) bool {
	src, ok := sources.New(sc, nil)
	if !ok {
		return false
	}

	_, ok = src.(source.DatabaseRestorer)

	return ok
}
