package main

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDaemonHTTPTimeoutsAndExposure: a daemon bound to every interface warns
// at start that the endpoint is reachable beyond loopback, and a slowloris
// client trickling its request headers is cut off by the header timeout
// while a normal request is answered.
func TestDaemonHTTPTimeoutsAndExposure(t *testing.T) {
	port := freePort(t)[len("127.0.0.1:"):]
	in := newInstallation(t, "server: {listen: \"0.0.0.0:"+port+"\"}\n")
	in.mustRun("init")

	addr := "127.0.0.1:" + port
	d := in.startDaemon(t, "https://"+addr)

	if out := d.out.String(); !strings.Contains(out, "HTTPS certificate") || !strings.Contains(out, "SHA-256 fingerprint ") {
		t.Errorf("the daemon did not print its certificate's fingerprint at start:\n%s", out)
	}

	if out := d.out.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "server.listen 0.0.0.0:"+port+" is not a loopback address") {
		t.Fatalf("no warning about the exposed endpoint at start:\n%s", out)
	}

	// Both at once: headers never completed (cut by the header timeout), and
	// a body trickled after complete headers (cut by the read timeout).
	headers := make(chan time.Duration, 1)
	go func() { headers <- slowloris(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n") }()
	body := slowloris(t, addr, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")

	if took := <-headers; took > 8*time.Second {
		t.Errorf("a client trickling its headers was cut off only after %s", took)
	}

	if body > 15*time.Second {
		t.Errorf("a client trickling its request body was cut off only after %s", body)
	}

	resp, err := insecureClient.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}

	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	if !strings.Contains(string(got), "ok") {
		t.Fatalf("/healthz: %q", got)
	}

	// Beyond loopback the endpoint speaks HTTPS only: plain HTTP is told so.
	if got := get(t, "http://"+addr+"/healthz"); !strings.Contains(got, "HTTPS only") {
		t.Fatalf("plain /healthz beyond loopback: %q", got)
	}

	d.stop(t)
}

// insecureClient trusts any certificate: the daemon's self-signed one.
var insecureClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// slowloris connects to addr over TLS, sends preamble and then a byte every 200 ms
// until the server closes the connection, and returns how long that took.
func slowloris(t *testing.T, addr, preamble string) time.Duration {
	conn, err := tls.Dial("tcp", addr, insecureClient.Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer conn.Close()

	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)

	go func() {
		io.WriteString(conn, preamble)

		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := conn.Write([]byte("X")); err != nil {
					return
				}
			}
		}
	}()

	// The server closing the connection ends this read (the condition
	// waited on); the deadline only bounds the test if it never does.
	conn.SetReadDeadline(time.Now().Add(25 * time.Second))

	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return time.Since(start) + time.Hour
	}

	return time.Since(start)
}
