package dashboard_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lifeboat/internal/api"
	"lifeboat/internal/audit"
	"lifeboat/internal/repo"
	"lifeboat/internal/testenv"
)

// keepAndPrune pins the newest snapshot from the snapshot browser with a
// reason, previews a prune, then prunes once the session's second factor
// has grown old: the page asks for a code (a wrong one is refused in the
// dialog), the prune runs, the pinned snapshot is still there; then it is
// unpinned. Each is checked in the API and the audit trail.
func (s *site) keepAndPrune(t *testing.T, b *browser, newest *repo.Snapshot) {
	b.open("/browse?source=data&snapshot=" + newest.ID)
	b.wait(`document.getElementById("pin-state").textContent.startsWith("Not pinned")`, "the snapshot's pin state")

	b.do("pin the snapshot", chromedp.SendKeys(chromedp.CSS("#pin-reason"), "legal hold 42"), chromedp.Click(chromedp.CSS("#pin")))
	b.wait(`document.getElementById("pin-state").textContent.startsWith("Pinned by")`, "the snapshot shown pinned")

	var pins map[string]api.PinInfo
	s.get(t, "/api/v1/pins", &pins)

	if p, ok := pins[newest.ID]; !ok || p.Reason != "legal hold 42" || !strings.Contains(p.By, "admin") {
		t.Fatalf("after pinning from the page the API's pins are %+v", pins)
	}

	if got := b.text(`document.getElementById("pin-state").textContent`); !strings.Contains(got, "legal hold 42") {
		t.Fatalf("the pin state says %q, want the reason", got)
	}

	b.shot("browse-pinned")

	// A dry run needs no second factor.
	b.do("preview a prune", chromedp.Click(chromedp.CSS("#prune-preview")))
	s.jobEnded(t, b, "the prune's preview")

	// Six minutes later the session's second factor is too old for a
	// prune that deletes: the page asks for a code.
	s.clock.Advance(6 * time.Minute)
	b.open("/browse?source=data&snapshot=" + newest.ID)
	b.do("prune", chromedp.Click(chromedp.CSS("#prune-run")))
	b.wait(`document.getElementById("stepup").open`, "the step-up dialog")

	if why := b.text(`document.getElementById("stepup-why").textContent`); !strings.Contains(why, "needs a second factor from the last 5 minutes") {
		t.Fatalf("the step-up dialog says %q", why)
	}

	b.do("a wrong code", chromedp.SendKeys(chromedp.CSS("#stepup-code"), wrongCode(s.code(t, 0))), chromedp.Click(chromedp.CSS("#stepup-ok")))
	b.wait(`!document.getElementById("stepup-error").hidden`, "the wrong code refused in the dialog")

	if msg := b.text(`document.getElementById("stepup-error").textContent`); !strings.Contains(msg, "step-up refused") {
		t.Fatalf("a wrong code shows %q", msg)
	}

	b.shot("prune-step-up")

	// The code of a step the login did not use.
	loginStep := s.loginAt.Unix() / 30
	testenv.Eventually(t, 35*time.Second, func() bool { return time.Now().Unix()/30 != loginStep }, "a new one-time code")

	b.text(`(() => { document.getElementById("stepup-code").value = ""; return "" })()`)
	b.do("the right code", chromedp.SendKeys(chromedp.CSS("#stepup-code"), s.code(t, 0)),
		chromedp.Click(chromedp.CSS("#stepup-ok")))
	job := s.jobEnded(t, b, "the prune")

	if job.Action != "prune" || job.State != api.JobSucceeded {
		t.Fatalf("the prune's job: %+v", job)
	}

	var snaps []*repo.Snapshot
	s.get(t, "/api/v1/snapshots?source=data", &snaps)

	kept := false
	for _, sn := range snaps {
		kept = kept || sn.ID == newest.ID
	}

	if !kept {
		t.Fatalf("the pinned snapshot %s is gone after the prune", newest.ID)
	}

	b.open("/browse?source=data&snapshot=" + newest.ID)
	b.wait(`document.getElementById("pin-state").textContent.startsWith("Pinned by")`, "the snapshot still pinned")
	b.do("unpin", chromedp.Click(chromedp.CSS("#unpin")))
	b.wait(`document.getElementById("pin-state").textContent.startsWith("Not pinned")`, "the snapshot shown unpinned")

	pins = nil
	s.get(t, "/api/v1/pins", &pins)

	if len(pins) != 0 {
		t.Fatalf("after unpinning from the page the API's pins are %+v", pins)
	}

	recs, err := audit.Read(s.exec.Audit.(*audit.Log).Path)
	if err != nil {
		t.Fatal(err)
	}

	var seen []string

	for _, r := range recs {
		if strings.HasPrefix(r.Actor, "user:admin ") && (r.Action == "pin" || r.Action == "unpin" || r.Action == "prune" || r.Action == "step-up needed") {
			seen = append(seen, fmt.Sprintf("%s %s", r.Action, r.Outcome))
		}
	}

	if got := strings.Join(seen, ", "); got != "pin ok, prune ok, step-up needed refused, prune ok, unpin ok" {
		t.Fatalf("the audit trail's pins and prunes by the admin: %s", got)
	}
}

// jobEnded waits on the jobs page the browser was sent to until the job
// ends, and returns it as the API tells it.
func (s *site) jobEnded(t *testing.T, b *browser, what string) api.Job {
	t.Helper()

	b.wait(`location.pathname === "/jobs" && location.search.startsWith("?job=")`, what+"'s job page")
	id := strings.TrimPrefix(b.location(), "/jobs?job=")

	var job api.Job

	testenv.Eventually(t, 30*time.Second, func() bool {
		s.get(t, "/api/v1/jobs/"+id, &job)
		return job.State != api.JobRunning
	}, what+" ended")

	return job
}
