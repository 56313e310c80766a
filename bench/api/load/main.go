// Command load is the API benchmark's load generator (bench/api/run.sh):
// -clients concurrent clients, each sending GET requests to the routes in
// turn with a bearer token for -duration, over HTTPS trusting -cacert. It
// prints each route's requests, errors, p50, p99 and max latency and the
// requests per second, and writes them as JSON to -json.
//
//	LIFEBOAT_TOKEN=lbt_... load -url https://127.0.0.1:9750 -cacert api-cert.pem -json load.json
//
// A request counts as an error when it fails, answers other than 200, or
// its body is not JSON; the first few errors are printed. A request still
// waiting when the run ends is counted as unfinished and enters the
// percentiles with the time it had waited (a lower bound).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type options struct {
	url, cacert, jsonOut, routes string
	clients                      int
	duration, timeout            time.Duration
}

// RouteResult is one route's figures.
type RouteResult struct {
	Route    string `json:"route"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	// Unfinished are requests still waiting when the run ended; they are
	// in the percentiles with the time they had waited, not in Requests.
	Unfinished int     `json:"unfinished"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Maxms      float64 `json:"max_ms"`
	RPS        float64 `json:"rps"`
}

// Result is the whole run's figures; All is every route together.
type Result struct {
	Clients  int           `json:"clients"`
	Seconds  float64       `json:"seconds"`
	Routes   []RouteResult `json:"routes"`
	All      RouteResult   `json:"all"`
	Examples []string      `json:"error_examples,omitempty"`
}

func main() {
	var o options

	flag.StringVar(&o.url, "url", "https://127.0.0.1:9750", "the daemon's endpoint")
	flag.StringVar(&o.cacert, "cacert", "", "PEM certificate to trust (the daemon's api-cert.pem)")
	flag.StringVar(&o.routes, "routes", "/api/v1/status,/api/v1/snapshots,/api/v1/sources", "comma-separated paths to GET")
	flag.StringVar(&o.jsonOut, "json", "", "write the results as JSON to this file")
	flag.IntVar(&o.clients, "clients", 50, "concurrent clients")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send requests")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "one request's limit")
	flag.Parse()

	token := os.Getenv("LIFEBOAT_TOKEN")
	if token == "" {
		fmt.Fprintln(os.Stderr, "load: set LIFEBOAT_TOKEN to the bearer token")
		os.Exit(1)
	}

	res, err := run(o, token)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}

	report(res)

	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
	}
}

func client(o options) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}

	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return nil, err
		}

		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", o.cacert)
		}

		cfg.RootCAs = pool
	}

	// One kept-alive connection per client, as a dashboard or a script
	// polling the API holds.
	tr := &http.Transport{TLSClientConfig: cfg, MaxIdleConns: o.clients, MaxIdleConnsPerHost: o.clients, MaxConnsPerHost: o.clients}

	return &http.Client{Transport: tr, Timeout: o.timeout}, nil
}

// sample is one request's outcome.
type sample struct {
	route      int
	took       time.Duration
	err        error
	unfinished bool
}

func run(o options, token string) (*Result, error) {
	c, err := client(o)
	if err != nil {
		return nil, err
	}

	routes := strings.Split(o.routes, ",")
	base := strings.TrimRight(o.url, "/")

	// Every route answers once before the clock starts, so a wrong token
	// or certificate stops here with its message.
	for _, r := range routes {
		if _, err := get(context.Background(), c, base+r, token, new(bytes.Buffer)); err != nil {
			return nil, fmt.Errorf("GET %s: %w", r, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()

	var (
		mu  sync.Mutex
		all []sample
		wg  sync.WaitGroup
	)

	start := time.Now()

	for i := range o.clients {
		wg.Go(func() {
			var (
				mine []sample
				buf  bytes.Buffer
			)

			for n := i; ctx.Err() == nil; n++ {
				r := n % len(routes)
				t0 := time.Now()
				_, err := get(ctx, c, base+routes[r], token, &buf)

				if ctx.Err() != nil && err != nil {
					// Cut off by the end of the run: not an answer, but
					// it took at least this long.
					mine = append(mine, sample{route: r, took: time.Since(t0), unfinished: true})
					break
				}

				mine = append(mine, sample{route: r, took: time.Since(t0), err: err})
			}

			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}

	wg.Wait()

	return summarize(o, routes, all, time.Since(start)), nil
}

// get sends one request and reads its whole answer into buf (a client's
// own, reused: the load generator shares the cores with the daemon, so it
// allocates and checks as little as it can while still reading and
// checking every byte).
func get(ctx context.Context, c *http.Client, url, token string, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}

	req.Header.Set("Authorization", "Bearer "+token)

	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()

	buf.Reset()

	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, err
	}

	body := buf.Bytes()

	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}

	if !validJSON(body) {
		return 0, errors.New("the answer is not JSON")
	}

	return len(body), nil
}

func summarize(o options, routes []string, all []sample, took time.Duration) *Result {
	res := &Result{Clients: o.clients, Seconds: took.Seconds()}
	secs := took.Seconds()

	var everything []time.Duration

	errs := 0

	for i, r := range routes {
		var ds []time.Duration

		rr := RouteResult{Route: r}

		for _, s := range all {
			if s.route != i {
				continue
			}

			ds = append(ds, s.took)

			if s.unfinished {
				rr.Unfinished++
				continue
			}

			if s.err != nil {
				rr.Errors++

				if len(res.Examples) < 5 {
					res.Examples = append(res.Examples, r+": "+s.err.Error())
				}
			}
		}

		fill(&rr, ds, secs)
		res.Routes = append(res.Routes, rr)
		everything = append(everything, ds...)
		errs += rr.Errors
	}

	res.All = RouteResult{Route: "all", Errors: errs}
	for _, rr := range res.Routes {
		res.All.Unfinished += rr.Unfinished
	}

	fill(&res.All, everything, secs)

	return res
}

// fill sets the counts and percentiles (nearest rank) of ds, which holds
// rr.Unfinished requests beside the answered ones.
func fill(rr *RouteResult, ds []time.Duration, secs float64) {
	rr.Requests = len(ds) - rr.Unfinished
	rr.RPS = float64(rr.Requests) / secs

	if len(ds) == 0 {
		return
	}

	slices.Sort(ds)

	rank := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.999999) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

	rr.P50ms, rr.P99ms, rr.Maxms = ms(rank(0.50)), ms(rank(0.99)), ms(ds[len(ds)-1])
}

func report(res *Result) {
	fmt.Printf("%d clients for %.1f s\n", res.Clients, res.Seconds)
	fmt.Printf("  %-20s %9s %7s %10s %9s %9s %9s %8s\n", "route", "requests", "errors", "unfinished", "p50 ms", "p99 ms", "max ms", "req/s")

	for _, r := range append(slices.Clone(res.Routes), res.All) {
		fmt.Printf("  %-20s %9d %7d %10d %9.1f %9.1f %9.1f %8.1f\n", r.Route, r.Requests, r.Errors, r.Unfinished, r.P50ms, r.P99ms, r.Maxms, r.RPS)
	}

	for _, e := range res.Examples {
		fmt.Printf("  error: %s\n", e)
	}
}
