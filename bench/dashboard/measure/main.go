// Command measure loads the dashboard's overview in headless Chromium and
// prints, for each load, Chromium's load event, the time until the page
// has drawn every source from the API, and the bytes transferred (the
// page, its assets and its API calls, as the browser's resource timing
// counts them, compressed as sent). The first loads run with the
// browser's cache off (a first visit), the rest with it on (a return).
//
//	measure -url https://127.0.0.1:19760 -user admin -password-env BENCH_USER_PASSWORD -sources 101 -runs 5
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

type options struct {
	url, user, passwordEnv string
	sources, runs          int
	out, spki              string
}

// Load is one load of the overview.
type Load struct {
	Cache    bool    `json:"cache"`
	LoadMS   float64 `json:"load_ms"`
	ReadyMS  float64 `json:"ready_ms"`
	Bytes    float64 `json:"bytes"`
	Requests int     `json:"requests"`
	Rows     int     `json:"rows"`
}

// Result is every load and the medians.
type Result struct {
	Loads          []Load  `json:"loads"`
	ColdLoadMS     float64 `json:"cold_load_ms"`
	ColdReadyMS    float64 `json:"cold_ready_ms"`
	ColdBytes      float64 `json:"cold_bytes"`
	WarmLoadMS     float64 `json:"warm_load_ms"`
	WarmReadyMS    float64 `json:"warm_ready_ms"`
	WarmBytes      float64 `json:"warm_bytes"`
	FirstReadyMS   float64 `json:"first_ready_ms"`
	ExpectedSource int     `json:"sources"`
}

func main() {
	var o options

	flag.StringVar(&o.url, "url", "", "the daemon's address (https://host:port)")
	flag.StringVar(&o.user, "user", "admin", "the user to log in as")
	flag.StringVar(&o.passwordEnv, "password-env", "BENCH_USER_PASSWORD", "the environment variable holding the user's password")
	flag.IntVar(&o.sources, "sources", 0, "the sources the overview must show")
	flag.IntVar(&o.runs, "runs", 5, "loads with the cache off, then as many with it on")
	flag.StringVar(&o.out, "json", "", "write the figures here too")
	flag.StringVar(&o.spki, "spki", "", "the daemon's certificate's public key hash (base64 SHA-256 of its SPKI): the browser trusts it, and so caches what it serves")
	flag.Parse()

	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}

	for i, l := range res.Loads {
		fmt.Printf("load %2d  cache %-5v  load event %6.0f ms  rendered %6.0f ms  %8.1f KB in %2d requests  %d rows\n",
			i+1, l.Cache, l.LoadMS, l.ReadyMS, l.Bytes/1024, l.Requests, l.Rows)
	}

	if o.out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.out, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
			os.Exit(1)
		}
	}
}

func chromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}

	return "", errors.New("chromium is not installed: apt-get install chromium")
}

func run(o options) (*Result, error) {
	bin, err := chromium()
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "lifeboat-measure-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// A certificate accepted despite an error is never cached from:
	// trusting the daemon's key instead lets the return visits use the
	// cache as a user's browser (which trusts the certificate) would.
	trust := chromedp.Flag("ignore-certificate-errors", true)
	if o.spki != "" {
		trust = chromedp.Flag("ignore-certificate-errors-spki-list", o.spki)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		trust, chromedp.WindowSize(1280, 900), chromedp.UserDataDir(dir))

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()

	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	ctx, stop := context.WithTimeout(ctx, 10*time.Minute)
	defer stop()

	if err := login(ctx, o); err != nil {
		return nil, err
	}

	res := &Result{ExpectedSource: o.sources}

	for i := 0; i < 2*o.runs; i++ {
		l, err := load(ctx, o, i >= o.runs)
		if err != nil {
			return nil, fmt.Errorf("load %d: %w", i+1, err)
		}

		res.Loads = append(res.Loads, l)
	}

	res.FirstReadyMS = res.Loads[0].ReadyMS
	res.ColdLoadMS, res.ColdReadyMS, res.ColdBytes = medians(res.Loads[:o.runs])
	res.WarmLoadMS, res.WarmReadyMS, res.WarmBytes = medians(res.Loads[o.runs:])

	return res, nil
}

// login logs in through the login page's form, as a user does, onto the
// account page: the first load measured is the overview's first.
func login(ctx context.Context, o options) error {
	pw := os.Getenv(o.passwordEnv)
	if pw == "" {
		return fmt.Errorf("%s is empty: the user's password is read from it", o.passwordEnv)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(o.url+"/login?next=%2Faccount")); err != nil {
		return err
	}

	if err := until(ctx, `document.body && document.body.dataset.ready === "true"`); err != nil {
		return fmt.Errorf("the login page: %w", err)
	}

	err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#user"), o.user),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	if err != nil {
		return fmt.Errorf("log in as %s: %w", o.user, err)
	}

	if err := until(ctx, `(document.body && document.body.dataset.page === "account" && document.body.dataset.ready === "true") || !document.getElementById("error").hidden`); err != nil {
		return fmt.Errorf("log in as %s: %w", o.user, err)
	}

	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("error").hidden ? "" : document.getElementById("error").textContent`))
	if err != nil {
		return err
	}

	if msg != "" {
		return fmt.Errorf("log in as %s: the page says: %s", o.user, msg)
	}

	return nil
}

// until waits for the expression to hold in the page (30 s at most).
func until(ctx context.Context, expr string) error {
	for deadline := time.Now().Add(30 * time.Second); ; { //nolint:forbidigo // the measurement's own timeout
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return nil
		}

		if time.Now().After(deadline) { //nolint:forbidigo // as above
			return fmt.Errorf("not within 30 s: %s (%v)", expr, err)
		}

		if err := chromedp.Do(ctx, chromedp.Sleep(10*time.Millisecond)); err != nil {
			return err
		}
	}
}

// load opens the overview afresh and reads its timings once it has drawn
// the sources.
func load(ctx context.Context, o options, cache bool) (Load, error) {
	l := Load{Cache: cache}

	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
				return err
			}

			_, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: !cache})

			return err
		}),
		chromedp.Navigate("about:blank"),
		chromedp.Navigate(o.url+"/"),
	)
	if err != nil {
		return l, err
	}

	// The load event may come after the page has drawn (it waits for
	// nothing the API sends): wait for both.
	if err := until(ctx, `document.body && document.body.dataset.page === "overview" && document.body.dataset.ready === "true" &&
		performance.getEntriesByType("navigation")[0].loadEventEnd > 0`); err != nil {
		return l, err
	}

	type figs struct {
		Load, Ready, Bytes float64
		Requests, Rows     int
		Error              string
	}

	figures, err := chromedp.Run(ctx, chromedp.Evaluate[figs](`(() => {
		const nav = performance.getEntriesByType("navigation")[0];
		const res = performance.getEntriesByType("resource");
		return {
			Load: nav.loadEventEnd, Ready: Number(document.body.dataset.readyMs),
			Bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
			Requests: 1 + res.length,
			Rows: document.querySelectorAll("#sources-table tbody tr").length,
			Error: document.getElementById("error").hidden ? "" : document.getElementById("error").textContent,
		};
	})()`))
	if err != nil {
		return l, err
	}

	if figures.Error != "" {
		return l, fmt.Errorf("the overview says: %s", figures.Error)
	}

	if o.sources > 0 && figures.Rows != o.sources {
		return l, fmt.Errorf("the overview drew %d sources, want %d", figures.Rows, o.sources)
	}

	l.LoadMS, l.ReadyMS, l.Bytes, l.Requests, l.Rows = math.Round(figures.Load), figures.Ready, figures.Bytes, figures.Requests, figures.Rows

	return l, nil
}

func medians(ls []Load) (load, ready, bytes float64) {
	pick := func(f func(Load) float64) float64 {
		v := make([]float64, len(ls))
		for i, l := range ls {
			v[i] = f(l)
		}

		sort.Float64s(v)

		return v[len(v)/2]
	}

	return pick(func(l Load) float64 { return l.LoadMS }), pick(func(l Load) float64 { return l.ReadyMS }), pick(func(l Load) float64 { return l.Bytes })
}
