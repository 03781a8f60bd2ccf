package web

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/repo"
)

// rawPost opens a connection and sends the headers of an upload that
// announces n bytes of body, but not the body.
func rawPost(t *testing.T, e *env, n int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /api/v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/zip\r\nContent-Length: %d\r\n\r\n", e.tokens["alice"], n)
	return c
}

// closedWithin reports whether the server ends c (an answer then EOF, or a
// reset) within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil || !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// A client that sends headers and then no body (or a trickle) is cut off
// after the grace period; today such connections stayed open for ever.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := newEnv(t, Options{Body: BodyLimits{Grace: 300 * time.Millisecond, MinRate: 1 << 20, Idle: time.Second}}, repo.Config{})
	silent := rawPost(t, e, 1<<20)
	trickle := rawPost(t, e, 1<<20)
	go func() {
		for range 20 {
			if _, err := trickle.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start := time.Now()
	if !closedWithin(silent, 3*time.Second) {
		t.Fatal("a connection that sent headers but no body was still open after 3 s")
	}
	if !closedWithin(trickle, 3*time.Second) {
		t.Fatal("a body trickling at 10 bytes/s was still being read after 3 s")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("cut off after %v, before the grace period", d)
	}
	if !strings.Contains(e.log.String(), "limit=body_min_rate") {
		t.Errorf("the refusal is not logged with the limit's name:\n%s", e.log.String())
	}
	// The server still answers.
	if r := e.get("", "/healthz"); r.StatusCode != 200 {
		t.Fatalf("healthz: %d", r.StatusCode)
	}
}

// A body that keeps arriving at the minimum rate is read whole, however
// long it takes; a body that stops for longer than Idle is cut off.
func TestBodyAtMinimumRateIsRead(t *testing.T) {
	e := newEnv(t, Options{Body: BodyLimits{Grace: 200 * time.Millisecond, MinRate: 64 << 10, Idle: 400 * time.Millisecond}}, repo.Config{})
	const chunk, chunks = 16 << 10, 12 // 192 KiB at ~160 KiB/s: 1.2 s, past the grace period
	pr, pw := io.Pipe()
	go func() {
		for range chunks {
			pw.Write([]byte(strings.Repeat("z", chunk)))
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/models", pr)
	req.ContentLength = chunk * chunks
	req.Header.Set("Authorization", "Bearer "+e.tokens["alice"])
	req.Header.Set("Content-Type", "application/zip")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	<-e.handled
	if strings.Contains(string(b), "too slowly") || res.StatusCode == 500 {
		t.Fatalf("a body arriving at 160 KiB/s (limit 64 KiB/s) was refused: %d %s", res.StatusCode, b)
	}

	// Fast, then silent past Idle: cut off although the average rate is high.
	c := rawPost(t, e, 1<<20)
	c.Write([]byte(strings.Repeat("z", 512<<10)))
	if !closedWithin(c, 3*time.Second) {
		t.Fatal("a body that stopped arriving was still being read after 3 s")
	}
}

// A client holding PerClient connections is answered 429 on the next and
// disconnected; others are not affected, and a closed connection frees its
// place.
func TestConnectionsPerClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	lln := LimitListener(ln, ConnLimits{PerClient: 3}, newTestLogger(log))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(lln)
	defer srv.Close()
	addr := ln.Addr().String()
	dial := func(local string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var held []net.Conn
	for range 3 {
		held = append(held, dial("127.0.0.1"))
	}
	time.Sleep(50 * time.Millisecond) // let the server accept them
	get := func(c net.Conn) (string, error) {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		return line, err
	}
	if line, _ := get(dial("127.0.0.1")); !strings.Contains(line, "429") {
		t.Fatalf("the 4th connection of one client: %q, want 429", line)
	}
	if line, err := get(dial("127.0.0.2")); !strings.Contains(line, "200") {
		t.Fatalf("another client: %q %v, want 200", line, err)
	}
	held[0].Close()
	time.Sleep(100 * time.Millisecond)
	if line, err := get(dial("127.0.0.1")); !strings.Contains(line, "200") {
		t.Fatalf("after closing one: %q %v, want 200", line, err)
	}
	// Three open again: the client's count was kept, not reset.
	if line, _ := get(dial("127.0.0.1")); !strings.Contains(line, "429") {
		t.Fatalf("a 4th connection after one closed and one opened: %q, want 429", line)
	}
	// When all are closed the client is forgotten (the table stays small).
	for _, c := range held {
		c.Close()
	}
	srv.Close()
	time.Sleep(100 * time.Millisecond)
	l := lln.(*limitListener)
	l.mu.Lock()
	left := len(l.open)
	l.mu.Unlock()
	if left != 0 {
		t.Errorf("%d clients still counted after every connection closed", left)
	}
	if !strings.Contains(log.String(), "limit=connections_per_client") {
		t.Errorf("the refusal is not logged with the limit's name:\n%s", log.String())
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":             "127.0.0.1",
		"[::ffff:10.0.0.1]:1":        "10.0.0.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"garbage":                    "garbage",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func newTestLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// A refusal by a size limit is logged with the limit's name.
func TestSizeRefusalIsLogged(t *testing.T) {
	e := newEnv(t, Options{MaxUpload: 100}, repo.Config{})
	r := e.upload("alice", "", []byte(strings.Repeat("z", 1000)))
	if r.StatusCode != 413 {
		t.Fatalf("upload over the limit: %d %s", r.StatusCode, r.body)
	}
	if !strings.Contains(e.log.String(), "refused by a limit") || !strings.Contains(e.log.String(), "limit=size:") {
		t.Fatalf("the refusal is not logged with its limit:\n%s", e.log.String())
	}
}

// TestConnectionLimitsDefault: zero limits mean the defaults (64 per
// client), not "no connection at all".
func TestConnectionLimitsDefault(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lln := LimitListener(ln, ConnLimits{}, newTestLogger(&syncBuffer{}))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(lln)
	defer srv.Close()
	for i := range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); !strings.Contains(line, "200") {
			t.Fatalf("connection %d with default limits: %q %v, want 200", i+1, line, err)
		}
	}
}

// TestConnectionsTotal: past Total open connections any client is answered
// 429; a closed connection frees its place.
func TestConnectionsTotal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	lln := LimitListener(ln, ConnLimits{PerClient: 10, Total: 2}, newTestLogger(log))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(lln)
	defer srv.Close()
	dial := func(local string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(c net.Conn) string {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	a, b := dial("127.0.0.1"), dial("127.0.0.2")
	if !strings.Contains(get(a), "200") || !strings.Contains(get(b), "200") {
		t.Fatal("the first two connections were not served")
	}
	if line := get(dial("127.0.0.3")); !strings.Contains(line, "429") {
		t.Fatalf("a third connection past Total 2: %q, want 429", line)
	}
	a.Close()
	time.Sleep(100 * time.Millisecond)
	if line := get(dial("127.0.0.4")); !strings.Contains(line, "200") {
		t.Fatalf("after one closed: %q, want 200", line)
	}
	if !strings.Contains(log.String(), "limit=connections_total") {
		t.Errorf("the refusal is not logged with the limit's name:\n%s", log.String())
	}
}
