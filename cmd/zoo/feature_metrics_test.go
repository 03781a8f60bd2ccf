package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// zoo serve exposes Prometheus metrics on a separate address and, with a
// token, on its own; a refusal by a limit shows in them and in the log.
func TestServeMetrics(t *testing.T) {
	const tok = "metrics-token-0123456789"
	t.Setenv("ZOO_METRICS_TOKEN", tok)
	t.Setenv("ZOO_METRICS_ADDR", "127.0.0.1:0")
	t.Setenv("ZOO_CONNS_PER_CLIENT", "2")
	server, log := startServe(t, "--data", t.TempDir(), "--workers", "0")
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get(server+"/healthz", "")
	if st, _ := get(server+"/metrics", ""); st != 401 {
		t.Fatalf("/metrics without the token: %d, want 401", st)
	}
	if st, b := get(server+"/metrics", tok); st != 200 || !strings.Contains(b, "zoo_http_requests_total") {
		t.Fatalf("/metrics with the token: %d %.200s", st, b)
	}
	// Two connections held: the third of this client is refused. (The
	// server closes the connections of the requests above just after
	// answering them: give it the time.)
	time.Sleep(300 * time.Millisecond)
	addr := strings.TrimPrefix(server, "http://")
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.Contains(line, "429") {
		t.Fatalf("third connection: %q, want 429\n%s", line, log.String())
	}

	m := regexp.MustCompile(`metrics.*addr=(http://\S+/metrics)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", log.String())
	}
	st, body := get(m[1], "")
	if st != 200 {
		t.Fatalf("GET %s: %d", m[1], st)
	}
	for _, want := range []string{
		`zoo_http_requests_total{method="GET",route="GET /healthz",status="200"}`,
		`zoo_http_request_duration_seconds_bucket{method="GET",route="GET /healthz"`,
		`zoo_http_requests_in_flight`,
		`zoo_refusals_total{limit="connections_per_client",status="429"}`,
		`process_resident_memory_bytes`,
		`go_memstats_heap_inuse_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the metrics lack %s", want)
		}
	}
	if !strings.Contains(log.String(), "limit=connections_per_client") {
		t.Errorf("the refusal is not in the log with its limit's name")
	}
}
