package notify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
	"lifeboat/internal/testenv"
)

// receiver is a webhook endpoint on loopback that keeps what it is sent.
type receiver struct {
	mu   sync.Mutex
	got  []map[string]any
	srv  *httptest.Server
	fail int // answer 500 to this many requests first
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()

		if r.fail > 0 {
			r.fail--
			http.Error(w, "try later", http.StatusInternalServerError)

			return
		}

		var m map[string]any
		json.NewDecoder(req.Body).Decode(&m)
		r.got = append(r.got, m)
	}))
	t.Cleanup(r.srv.Close)

	return r
}

// endMark is the subject of the message wait queues after the test's own:
// delivery is in order, so once it arrives every earlier message has too.
const endMark = "end of the test's messages"

// wait waits for at least count messages, then for the end mark, and returns
// the messages before it: so a message too many is counted, without
// guessing how long it could take to arrive.
func (r *receiver) wait(t *testing.T, n *Notifier, count int) []map[string]any {
	t.Helper()

	received := func() []map[string]any {
		r.mu.Lock()
		defer r.mu.Unlock()

		return append([]map[string]any(nil), r.got...)
	}

	testenv.Eventually(t, 10*time.Second, func() bool { return len(received()) >= count }, fmt.Sprintf("%d messages", count))
	n.Observe(endMark, "", false, Failure, "the end mark")

	var got []map[string]any

	testenv.Eventually(t, 10*time.Second, func() bool {
		all := received()

		for i, m := range all {
			if m["subject"] == endMark || strings.Contains(fmt.Sprint(m["text"]), endMark) {
				got = all[:i]
				return true
			}
		}

		return false
	}, "the end mark after the test's messages")

	return got
}

func start(t *testing.T, n *Notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	go n.Run(ctx)
}

// TestOneNotificationPerEpisode: three failures in a row are one message,
// the success after them one recovery; a delivery that fails once is retried.
func TestOneNotificationPerEpisode(t *testing.T) {
	rcv := newReceiver(t)
	rcv.fail = 1

	n := New(config.Notify{Webhook: &config.Webhook{URL: rcv.srv.URL, Format: "json"}}, nil, nil)
	n.Retry = []time.Duration{10 * time.Millisecond}
	start(t, n)

	for _, ok := range []bool{false, false, false, true, true, false, false, true} {
		n.Observe("backup database full", "database", ok, Failure, map[bool]string{false: "server unreachable", true: "backup succeeded"}[ok])
	}

	got := rcv.wait(t, n, 4)

	var kinds []string
	for _, m := range got {
		kinds = append(kinds, m["event"].(string))
	}

	if strings.Join(kinds, ",") != "failure,recovery,failure,recovery" {
		t.Fatalf("messages: %v", kinds)
	}

	if got[0]["subject"] != "backup database full" || got[0]["message"] != "server unreachable" || got[0]["source"] != "database" {
		t.Errorf("first message: %v", got[0])
	}
}

// TestFlappingIsRateLimited: with an hour between messages, a job that fails,
// recovers and fails again gets one failure message, and the next one says
// how many were held back.
func TestFlappingIsRateLimited(t *testing.T) {
	rcv := newReceiver(t)
	n := New(config.Notify{Webhook: &config.Webhook{URL: rcv.srv.URL, Format: "slack"}, Interval: time.Hour}, nil, nil)

	now := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	n.Clock = now
	start(t, n)

	for i := 0; i < 5; i++ {
		n.Observe("backup uploads incremental", "uploads", false, Failure, "disk full")
		n.Observe("backup uploads incremental", "uploads", true, Failure, "ok")
		now.Advance(5 * time.Minute)
	}

	now.Advance(time.Hour)
	n.Observe("backup uploads incremental", "uploads", false, Failure, "disk full")

	got := rcv.wait(t, n, 3)
	if len(got) != 3 {
		t.Fatalf("%d messages, want a failure, its recovery, and one failure an hour later: %v", len(got), got)
	}

	last, _ := got[2]["text"].(string)
	if !strings.Contains(got[0]["text"].(string), "failure") || !strings.Contains(last, "4 earlier failures were not notified") {
		t.Errorf("slack texts: %v", got)
	}
}

// TestUnreachableWebhookNeverBlocks: observing returns at once; delivery is
// retried and then logged as failed.
func TestUnreachableWebhookNeverBlocks(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()

	var logs bytes.Buffer

	var mu sync.Mutex

	n := New(config.Notify{Webhook: &config.Webhook{URL: "http://" + addr + "/hook"}}, nil, slog.New(slog.NewTextHandler(lockedWriter{&logs, &mu}, nil)))
	n.Retry = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
	start(t, n)

	began := time.Now()
	n.Observe("backup code full", "code", false, Failure, "git failed")

	if d := time.Since(began); d > 50*time.Millisecond {
		t.Fatalf("Observe took %s", d)
	}

	logged := func() string {
		mu.Lock()
		defer mu.Unlock()

		return logs.String()
	}

	testenv.Eventually(t, 10*time.Second, func() bool { return strings.Contains(logged(), "notification not delivered") },
		"the delivery failure to be logged")

	if s := logged(); strings.Count(s, "retrying") != 2 {
		t.Errorf("want 2 retries logged:\n%s", s)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.w.Write(p)
}

// TestEmail sends through an SMTP conversation on loopback.
func TestEmail(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	mail := make(chan string, 1)

	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()

		r := bufio.NewReader(c)
		say := func(s string) { io.WriteString(c, s+"\r\n") }

		say("220 test ESMTP")

		var data strings.Builder

		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}

			cmd := strings.ToUpper(strings.TrimSpace(line))

			switch {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				say("250 test")
			case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
				data.WriteString(line)
				say("250 ok")
			case cmd == "DATA":
				say("354 go on")

				for {
					l, err := r.ReadString('\n')
					if err != nil || l == ".\r\n" {
						break
					}

					data.WriteString(l)
				}

				say("250 queued")
			case cmd == "QUIT":
				say("221 bye")
				mail <- data.String()

				return
			default:
				say("502 no")
			}
		}
	}()

	n := New(config.Notify{Email: &config.Email{SMTP: l.Addr().String(), From: "lifeboat@example.org", To: []string{"ops@example.org"}}}, nil, nil)
	start(t, n)
	n.Observe("rpo database", "database", false, RPOBreach, "RPO 2h01m is above the critical tier's objective of 1h")

	select {
	case m := <-mail:
		for _, want := range []string{"RCPT TO:<ops@example.org>", "Subject: [lifeboat] rpo breach: rpo database", "above the critical tier's objective"} {
			if !strings.Contains(m, want) {
				t.Errorf("mail lacks %q:\n%s", want, m)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no mail arrived")
	}
}

// lockedBuffer is a log destination read while the notifier writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.b.String()
}

// TestWebhookFailureLogHidesToken: a webhook that redirects to another secret
// path and then drops the connection is retried and given up on; the log
// (the daemon's) and the error a plan's notify step gets name the host but
// neither token.
func TestWebhookFailureLogHidesToken(t *testing.T) {
	const token, moved = "T0KEN-first-7f3a", "T0KEN-moved-c41d"

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/services/") {
			http.Redirect(w, r, "/moved/"+moved, http.StatusTemporaryRedirect)
			return
		}

		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()

	var log lockedBuffer

	n := New(config.Notify{Webhook: &config.Webhook{URL: srv.URL + "/services/" + token, Format: "json"}}, func(string) string { return "" },
		slog.New(slog.NewTextHandler(&log, nil)))
	n.Retry = []time.Duration{time.Millisecond}
	start(t, n)

	n.Observe("backup db full", "db", false, Failure, "dump failed")

	testenv.Eventually(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "notification not delivered") },
		"the delivery failure to be logged")

	err := n.Send(context.Background(), "plan site", "recovered")
	shown := log.String() + "\n" + fmt.Sprint(err)

	if !strings.Contains(shown, "notification not delivered") || !strings.Contains(shown, "retrying") || err == nil {
		t.Fatalf("the failure was not logged and returned:\n%s", shown)
	}

	if !strings.Contains(shown, srv.Listener.Addr().String()+RedactedPath) {
		t.Fatalf("the log does not name the hook's host:\n%s", shown)
	}

	if strings.Contains(shown, token) || strings.Contains(shown, moved) {
		t.Fatalf("a webhook token reached the log or the error:\n%s", shown)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/XyZ": "https://hooks.slack.com" + RedactedPath,
		"http://user:pw@10.0.0.1:8080/x?token=abc":   "http://10.0.0.1:8080" + RedactedPath,
		"not a url at all":                           "[redacted URL]",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
