// Package notify tells people when something breaks and when it mends: a
// webhook (JSON, or Slack's shape) and email over SMTP. It thinks in
// episodes: a subject (a job, a source's RPO) that fails notifies once, stays
// quiet while it keeps failing, and notifies again when it recovers; at most
// one failure message per subject per interval, so a flapping job cannot
// flood. Delivery runs in the background with retries and never blocks a
// backup; a failed delivery is logged.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"lifeboat/internal/clock"
	"lifeboat/internal/config"
)

// Kinds of event.
const (
	Failure   = "failure"
	Recovery  = "recovery"
	RPOBreach = "rpo_breach"
	RPOOK     = "rpo_recovered"
)

// Event is one message.
type Event struct {
	Kind    string    `json:"event"`
	Subject string    `json:"subject"`
	Source  string    `json:"source,omitempty"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	// Suppressed counts failures since the last message that were not sent.
	Suppressed int `json:"suppressed,omitempty"`
}

type episode struct {
	failing    bool
	notified   bool
	lastSent   time.Time
	suppressed int
}

// Notifier sends events.
type Notifier struct {
	cfg    config.Notify
	getenv func(string) string
	log    *slog.Logger
	client *http.Client
	queue  chan Event
	// Clock dates episodes and messages; nil is the wall clock.
	Clock clock.Clock
	// Retry is the wait before each retry of a failed delivery.
	Retry []time.Duration

	mu       sync.Mutex
	episodes map[string]*episode
}

// New returns a notifier; Run delivers what it queues.
func New(cfg config.Notify, getenv func(string) string, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	return &Notifier{
		cfg: cfg, getenv: getenv, log: log,
		client:   &http.Client{Timeout: 10 * time.Second},
		queue:    make(chan Event, 256),
		Retry:    []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
		episodes: map[string]*episode{},
	}
}

// Enabled reports whether any channel is configured.
func (n *Notifier) Enabled() bool { return n.cfg.Webhook != nil || n.cfg.Email != nil }

// Observe reports a subject's state: ok false is a failure (msg says what),
// true a success. It queues a message when an episode starts or ends.
func (n *Notifier) Observe(subject, source string, ok bool, kind, msg string) {
	if !n.Enabled() {
		return
	}

	n.mu.Lock()
	defer n.mu.Unlock()

	e := n.episodes[subject]
	if e == nil {
		e = &episode{}
		n.episodes[subject] = e
	}

	now := clock.Or(n.Clock).Now()
	failKind, okKind := Failure, Recovery

	if kind == RPOBreach {
		failKind, okKind = RPOBreach, RPOOK
	}

	switch {
	case !ok && !e.failing:
		e.failing = true

		if !e.lastSent.IsZero() && now.Sub(e.lastSent) < n.cfg.Interval {
			e.suppressed++
			e.notified = false

			return
		}

		n.send(Event{Kind: failKind, Subject: subject, Source: source, Message: msg, Time: now, Suppressed: e.suppressed})
		e.lastSent, e.notified, e.suppressed = now, true, 0
	case !ok:
		// Still failing: the episode was told already.
	case e.failing:
		e.failing = false

		if e.notified {
			n.send(Event{Kind: okKind, Subject: subject, Source: source, Message: msg, Time: now})
		}
	}
}

func (n *Notifier) send(ev Event) {
	ev.Host, _ = os.Hostname()

	select {
	case n.queue <- ev:
	default:
		n.log.Error("notification queue full: dropped", "subject", ev.Subject, "event", ev.Kind)
	}
}

// Run delivers queued events until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-n.queue:
			n.deliver(ctx, ev)
		}
	}
}

func (n *Notifier) deliver(ctx context.Context, ev Event) {
	try := func(name string, f func(context.Context, Event) error) {
		for attempt := 0; ; attempt++ {
			err := f(ctx, ev)
			if err == nil {
				return
			}

			if attempt >= len(n.Retry) || ctx.Err() != nil {
				n.log.Error("notification not delivered", "channel", name, "subject", ev.Subject, "event", ev.Kind, "err", err)
				return
			}

			n.log.Warn("notification delivery failed; retrying", "channel", name, "err", err, "retry_in", n.Retry[attempt])

			select {
			case <-ctx.Done():
				return
			case <-time.After(n.Retry[attempt]):
			}
		}
	}

	if n.cfg.Webhook != nil {
		try("webhook", n.webhook)
	}

	if n.cfg.Email != nil {
		try("email", n.email)
	}
}

func (ev Event) text() string {
	s := fmt.Sprintf("[lifeboat %s] %s on %s: %s", strings.ReplaceAll(ev.Kind, "_", " "), ev.Subject, ev.Host, ev.Message)
	if ev.Suppressed > 0 {
		s += fmt.Sprintf(" (%d earlier failures were not notified)", ev.Suppressed)
	}

	return s
}

// RedactedPath replaces a webhook URL's path wherever Lifeboat shows it.
const RedactedPath = "/[redacted]"

// RedactURL returns a webhook URL fit to show: its scheme and host, with the
// path (often the secret token itself), query and user info replaced by
// RedactedPath. Every place that shows a webhook URL goes through it.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted URL]"
	}

	return u.Scheme + "://" + u.Host + RedactedPath
}

// redactErr keeps a webhook URL out of an error: net/http's *url.Error
// carries the whole URL (also a redirect's), and anything else that quotes
// its secret parts has them replaced.
func redactErr(err error, raw string) error {
	if err == nil {
		return nil
	}

	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = RedactURL(ue.URL)
	}

	msg := err.Error()
	scrubbed := strings.ReplaceAll(msg, raw, RedactURL(raw))

	if u, perr := url.Parse(raw); perr == nil {
		for _, secret := range []string{u.User.String(), u.RawQuery, u.EscapedPath(), u.Path} {
			if len(secret) > 1 {
				scrubbed = strings.ReplaceAll(scrubbed, secret, RedactedPath)
			}
		}
	}

	if scrubbed != msg {
		return errors.New(scrubbed)
	}

	return err
}

func (n *Notifier) webhook(ctx context.Context, ev Event) error {
	return redactErr(n.postWebhook(ctx, ev), n.cfg.Webhook.URL)
}

func (n *Notifier) postWebhook(ctx context.Context, ev Event) error {
	var body any = ev
	if n.cfg.Webhook.Format == "slack" {
		body = map[string]string{"text": ev.text()}
	}

	b, _ := json.Marshal(body)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.Webhook.URL, bytes.NewReader(b))
	if err != nil {
		return err
	}

	req.Header.Set("Content-Type", "application/json")

	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}

	return nil
}

func (n *Notifier) email(ctx context.Context, ev Event) error {
	e := n.cfg.Email

	host, _, _ := net.SplitHostPort(e.SMTP)

	d := net.Dialer{Timeout: 10 * time.Second}

	conn, err := d.DialContext(ctx, "tcp", e.SMTP)
	if err != nil {
		return err
	}

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()

	if e.StartTLS {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}

	if e.Username != "" {
		pw := n.getenv(e.PasswordEnv)
		if e.PasswordFile != "" {
			b, err := os.ReadFile(e.PasswordFile)
			if err != nil {
				return fmt.Errorf("notify.email.password_file: %w", err)
			}

			pw = strings.TrimRight(string(b), "\r\n")
		}

		if err := c.Auth(smtp.PlainAuth("", e.Username, pw, host)); err != nil {
			return err
		}
	}

	if err := c.Mail(e.From); err != nil {
		return err
	}

	for _, to := range e.To {
		if err := c.Rcpt(to); err != nil {
			return err
		}
	}

	w, err := c.Data()
	if err != nil {
		return err
	}

	subject := fmt.Sprintf("[lifeboat] %s: %s", strings.ReplaceAll(ev.Kind, "_", " "), ev.Subject)
	fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		e.From, strings.Join(e.To, ", "), subject, ev.Time.Format(time.RFC1123Z), ev.text())

	if err := w.Close(); err != nil {
		return err
	}

	return c.Quit()
}

// Notice is the event kind of a recovery plan's notify step.
const Notice = "notice"

// Send delivers one message now, on every configured channel, and returns
// what failed: a recovery plan's notify step must know it was delivered.
func (n *Notifier) Send(ctx context.Context, subject, msg string) error {
	host, _ := os.Hostname()
	ev := Event{Kind: Notice, Subject: subject, Message: msg, Time: clock.Or(n.Clock).Now(), Host: host}

	var errs []error

	if n.cfg.Webhook != nil {
		if err := n.webhook(ctx, ev); err != nil {
			errs = append(errs, fmt.Errorf("webhook: %w", err))
		}
	}

	if n.cfg.Email != nil {
		if err := n.email(ctx, ev); err != nil {
			errs = append(errs, fmt.Errorf("email: %w", err))
		}
	}

	return errors.Join(errs...)
}
