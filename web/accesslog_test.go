package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/metrics"
	"github.com/zoo-bioimage/zoo/repo"
)

// TestRequestIDAcceptance: a client's X-Request-Id is kept (echoed and
// logged) only when it is 1 to 64 letters, digits, '-', '_' or '.';
// anything else (log-injection and header characters included) is
// replaced by a fresh id. The edges of each character range are tested on
// both sides.
func TestRequestIDAcceptance(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	kept := []string{
		"a", "z", "A", "Z", "0", "9", "-", "_", ".", "azAZ09-_.",
		strings.Repeat("x", 64), strings.Repeat("Z", 63) + "9",
	}
	replaced := []string{
		strings.Repeat("x", 65),
		"/", ":", "@", "[", "`", "{", "a/b", "a:b", "x@y", "[x]", "x`", "x{", ",", "+", "~", "a b", "é", "x\"y",
	}
	for _, id := range kept {
		r := e.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": id}})
		if got := r.Header.Get("X-Request-Id"); got != id {
			t.Errorf("X-Request-Id %q (%d chars) was replaced by %q", id, len(id), got)
		}
	}
	for _, id := range replaced {
		r := e.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": id}})
		got := r.Header.Get("X-Request-Id")
		if got == id || len(got) != 16 {
			t.Errorf("X-Request-Id %q kept or replaced by a malformed id: %q", id, got)
		}
	}
}

// logLine returns the access log line of the request with the given id.
func logLine(t *testing.T, log, id string) string {
	t.Helper()
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "msg=request ") && strings.Contains(l, "request_id="+id+" ") {
			return l
		}
	}
	t.Fatalf("no access log line for request %s:\n%s", id, log)
	return ""
}

// TestAccessLogLine: the one line per request an operator reads: its
// status (as sent), WARN only for 5xx, the query, the user, and the client
// address behind a proxy only when proxies are trusted.
func TestAccessLogLine(t *testing.T) {
	var e *env
	e = newEnv(t, Options{
		TrustedProxies: loopback(t),
		Users: fakeUsers(func(ctx context.Context, token string) (*zoo.User, error) {
			return e.svc.Catalog().UserByToken(ctx, HashToken(token))
		}),
	}, repo.Config{})
	plain := newEnv(t, Options{}, repo.Config{})
	fwd := "203.0.113.9"
	cases := []struct {
		env                 *env
		id, as, token, path string
		want, absent        []string
	}{
		{env: e, id: "ok1", path: "/healthz?probe=1", want: []string{"level=INFO", "status=200", `query="probe=1"`, "client=" + fwd}, absent: []string{"user="}},
		{env: e, id: "nf1", path: "/api/v1/models/none", want: []string{"level=INFO", "status=404"}, absent: []string{"query="}},
		{env: e, id: "au1", as: "alice", path: "/api/v1/models", want: []string{"status=200", fmt.Sprintf("user=%d", e.users["alice"].ID)}},
		{env: e, id: "in1", token: "boom", path: "/api/v1/models", want: []string{"level=WARN", "status=500"}},
		{env: e, id: "un1", token: "busy", path: "/api/v1/models", want: []string{"level=WARN", "status=503"}},
		{env: e, id: "pa1", token: "panic", path: "/api/v1/models", want: []string{"level=WARN", "status=500"}},
		{env: plain, id: "np1", path: "/healthz", want: []string{"status=200"}, absent: []string{"client="}},
	}
	for _, c := range cases {
		h := map[string]string{"X-Request-Id": c.id, "X-Forwarded-For": fwd}
		if c.token != "" {
			h["Authorization"] = "Bearer " + c.token
		}
		c.env.do(req{as: c.as, method: "GET", path: c.path, header: h})
		l := logLine(t, c.env.log.String(), c.id)
		for _, w := range c.want {
			if !strings.Contains(l, " "+w) {
				t.Errorf("%s %s: the log line lacks %q: %s", c.id, c.path, w, l)
			}
		}
		for _, a := range c.absent {
			if strings.Contains(l, " "+a) {
				t.Errorf("%s %s: the log line has %q: %s", c.id, c.path, a, l)
			}
		}
	}
}

// requestCount is zoo_http_requests_total for one route, method and status.
func requestCount(t *testing.T, route, method, status string) float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "zoo_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["route"] == route && l["method"] == method && l["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestRequestMetricsStatus: the request counter records the status sent
// (a 404 is not counted as 200), and a handler that writes nothing counts
// as 200.
func TestRequestMetricsStatus(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	route := "GET /api/v1/models/{id}"
	b404, b200 := requestCount(t, route, "GET", "404"), requestCount(t, route, "GET", "200")
	e.get("", "/api/v1/models/none")
	if got := requestCount(t, route, "GET", "404"); got != b404+1 {
		t.Errorf("a 404 counted %v times as 404", got-b404)
	}
	if got := requestCount(t, route, "GET", "200"); got != b200 {
		t.Errorf("a 404 counted as 200")
	}
}

// TestPanicAfterResponseStarted: a handler that panics before answering
// gets a 500 problem; once the response has started (a status written, a
// body written, or a body copied) the connection is aborted instead, so a
// client never takes "200 + half a body + a problem document" for success.
func TestPanicAfterResponseStarted(t *testing.T) {
	s := &server{log: newTestLogger(&syncBuffer{})}
	s.opts.RetryAfter = 1
	cases := map[string]func(w http.ResponseWriter){
		"status 200":  func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) },
		"status 206":  func(w http.ResponseWriter) { w.WriteHeader(http.StatusPartialContent) },
		"body":        func(w http.ResponseWriter) { w.Write([]byte("partial")) },
		"copied body": func(w http.ResponseWriter) { w.(*statusWriter).ReadFrom(strings.NewReader("partial")) },
	}
	for name, start := range cases {
		rec := httptest.NewRecorder()
		sw := &statusWriter{ResponseWriter: rec}
		h := s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start(w)
			panic("bug")
		}))
		got := func() (v any) {
			defer func() { v = recover() }()
			h.ServeHTTP(sw, httptest.NewRequest("GET", "/x", nil))
			return nil
		}()
		if got != http.ErrAbortHandler {
			t.Errorf("%s then panic: recovered %v, want the connection aborted; body %q", name, got, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), "problem") || strings.Contains(rec.Body.String(), "unexpected error") {
			t.Errorf("%s then panic: a problem document appended to the response: %q", name, rec.Body.String())
		}
	}
	// Before anything is written: a 500 problem.
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("bug") })).
		ServeHTTP(sw, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "unexpected error") {
		t.Errorf("panic before the answer: %d %q", rec.Code, rec.Body.String())
	}
}

// TestBodyLimitEdge: a body of exactly the limit is read whole; one byte
// more is refused, announced or streamed.
func TestBodyLimitEdge(t *testing.T) {
	const n = 100
	for _, size := range []int{0, n - 1, n} {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(strings.Repeat("b", size)))
		if r.ContentLength != int64(size) {
			t.Fatalf("ContentLength %d", r.ContentLength)
		}
		if err := limitBody(httptest.NewRecorder(), r, n); err != nil {
			t.Errorf("a body of %d bytes refused under a limit of %d: %v", size, n, err)
			continue
		}
		if b, err := io.ReadAll(r.Body); err != nil || len(b) != size {
			t.Errorf("a body of %d bytes under a limit of %d: read %d, %v", size, n, len(b), err)
		}
	}
	r := httptest.NewRequest("POST", "/x", strings.NewReader(strings.Repeat("b", n+1)))
	if err := limitBody(httptest.NewRecorder(), r, n); err == nil {
		t.Errorf("a body announced as %d bytes accepted under a limit of %d", n+1, n)
	}
	r = httptest.NewRequest("POST", "/x", strings.NewReader(strings.Repeat("b", n+1)))
	r.ContentLength = -1
	if err := limitBody(httptest.NewRecorder(), r, n); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r.Body)
	total := len(b)
	if total > n || !strings.Contains(fmt.Sprint(err), "too large") {
		t.Errorf("a streamed body of %d bytes under a limit of %d: read %d, %v", n+1, n, total, err)
	}
}
