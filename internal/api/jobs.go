package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"lifeboat/internal/access"
	"lifeboat/internal/clock"
	"lifeboat/internal/ops"
)

// Job states.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// keepJobs is how many finished jobs are kept for GET /api/v1/jobs.
const keepJobs = 200

// Job is one action started through the API, running in the background.
type Job struct {
	ID     string    `json:"id"`
	Action string    `json:"action"`
	Source string    `json:"source,omitempty"`
	By     string    `json:"by"`
	State  string    `json:"state"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end,omitzero"`
	Error  string    `json:"error,omitempty"`
	// Result is the action's result once it succeeded.
	Result any `json:"result,omitempty"`
}

type job struct {
	mu     sync.Mutex
	Job    Job
	events []ops.Event
	// changed is closed and replaced whenever an event arrives or the job
	// ends, waking the event streams.
	changed chan struct{}
	cancel  context.CancelFunc
}

type jobs struct {
	mu   sync.Mutex
	seq  int
	byID map[string]*job
}

// start runs fn in the background as a new job with its own cancellable
// context (a request's ends with the request).
func (s *Server) start(p access.Principal, action, src string, fn func(ctx context.Context, obs ops.Observer) (any, error)) *job {
	ctx, cancel := context.WithCancel(context.Background())
	now := clock.Or(s.Clock).Now()

	s.jobs.mu.Lock()
	s.jobs.seq++
	j := &job{
		Job:     Job{ID: fmt.Sprintf("%s-%d", now.UTC().Format("20060102T150405"), s.jobs.seq), Action: action, Source: src, By: actor(p), State: JobRunning, Start: now},
		changed: make(chan struct{}),
		cancel:  cancel,
	}
	s.jobs.byID[j.Job.ID] = j
	s.jobs.prune()
	s.jobs.mu.Unlock()

	go func() {
		defer cancel()

		res, err := fn(ctx, j.observe)

		// Reads after the job's end see what it did.
		s.reads.invalidate()

		if s.AfterJob != nil {
			s.AfterJob(context.Background())
		}

		j.finish(clock.Or(s.Clock).Now(), res, err, ctx.Err() != nil)

		// And an answer that counted the job running while it ended is
		// not kept either.
		s.reads.invalidate()
	}()

	return j
}

// prune forgets the oldest finished jobs beyond keepJobs; the caller holds
// the lock.
func (js *jobs) prune() {
	if len(js.byID) <= keepJobs {
		return
	}

	var done []*job

	for _, j := range js.byID {
		if j.snapshot().State != JobRunning {
			done = append(done, j)
		}
	}

	sort.Slice(done, func(a, b int) bool { return done[a].Job.Start.Before(done[b].Job.Start) })

	for i := 0; i < len(done) && len(js.byID) > keepJobs; i++ {
		delete(js.byID, done[i].Job.ID)
	}
}

func (j *job) observe(ev ops.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()

	j.events = append(j.events, ev)
	j.wake()
}

// wake tells the streams something changed; the caller holds the lock.
func (j *job) wake() {
	close(j.changed)
	j.changed = make(chan struct{})
}

func (j *job) finish(at time.Time, res any, err error, cancelled bool) {
	j.mu.Lock()
	defer j.mu.Unlock()

	j.Job.End = at

	switch {
	case cancelled:
		j.Job.State = JobCancelled
	case err != nil:
		j.Job.State = JobFailed
	default:
		j.Job.State = JobSucceeded
	}

	if err != nil {
		j.Job.Error = err.Error()
	}

	if err == nil {
		j.Job.Result = res
	}

	j.wake()
}

func (j *job) snapshot() Job {
	j.mu.Lock()
	defer j.mu.Unlock()

	return j.Job
}

func (s *Server) job(id string) (*job, error) {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()

	j, ok := s.jobs.byID[id]
	if !ok {
		return nil, fail(http.StatusNotFound, "no job %q: list them with GET /api/v1/jobs", id)
	}

	return j, nil
}

func accepted(w http.ResponseWriter, j *job) error {
	w.Header().Set("Location", "/api/v1/jobs/"+j.Job.ID)
	return writeJSON(w, http.StatusAccepted, j.snapshot())
}

func listJobs(s *Server, w http.ResponseWriter, _ *http.Request, _ access.Principal) error {
	s.jobs.mu.Lock()
	out := make([]Job, 0, len(s.jobs.byID))

	for _, j := range s.jobs.byID {
		out = append(out, j.snapshot())
	}
	s.jobs.mu.Unlock()

	sort.Slice(out, func(a, b int) bool { return out[a].Start.After(out[b].Start) })

	return writeJSON(w, http.StatusOK, out)
}

func getJob(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	j, err := s.job(r.PathValue("id"))
	if err != nil {
		return err
	}

	return writeJSON(w, http.StatusOK, j.snapshot())
}

// cancelJob cancels a running job: its operation stops as an interrupted
// command does (an aborted backup saves nothing).
func cancelJob(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	j, err := s.job(r.PathValue("id"))
	if err != nil {
		return err
	}

	j.cancel()
	s.record(p, auditRecord("api cancel job", j.Job.Source, "job "+j.Job.ID+" ("+j.Job.Action+")"))

	return writeJSON(w, http.StatusAccepted, j.snapshot())
}

// sseEvent is an ops event as a job's stream sends it (the error as text).
type sseEvent struct {
	ops.Event
	Error string `json:"error,omitempty"`
}

// jobEvents streams a job's events as Server-Sent Events, typed by their
// kind, from the first (or after Last-Event-ID), then an "end" event with
// the job once it is over.
func jobEvents(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	j, err := s.job(r.PathValue("id"))
	if err != nil {
		return err
	}

	rc := http.NewResponseController(w)
	// A stream lasts as long as the job: the write timeout is for answers.
	_ = rc.SetWriteDeadline(time.Time{})

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	next := 0
	if id, err := strconv.Atoi(r.Header.Get("Last-Event-ID")); err == nil && id > 0 {
		next = id
	}

	for {
		j.mu.Lock()
		evs, done, changed, snap := j.events[min(next, len(j.events)):], j.Job.State != JobRunning, j.changed, j.Job
		j.mu.Unlock()

		for _, ev := range evs {
			next++

			out := sseEvent{Event: ev}
			if ev.Err != nil {
				out.Error = ev.Err.Error()
			}

			if err := sse(w, strconv.Itoa(next), string(ev.Kind), out); err != nil {
				return nil
			}
		}

		if done {
			_ = sse(w, "", "end", snap)
			return nil
		}

		if err := rc.Flush(); err != nil {
			return nil
		}

		select {
		case <-changed:
		case <-r.Context().Done():
			return nil
		}
	}
}

func sse(w http.ResponseWriter, id, kind string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}

	if id != "" {
		if _, err := fmt.Fprintf(w, "id: %s\n", id); err != nil {
			return err
		}
	}

	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", kind, b)
	if err == nil {
		err = http.NewResponseController(w).Flush()
	}

	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}

	return err
}

// runningJobs counts the jobs still running.
func (s *Server) runningJobs() int {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()

	n := 0

	for _, j := range s.jobs.byID {
		if j.snapshot().State == JobRunning {
			n++
		}
	}

	return n
}
