package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestProcessLoggerJSONRoleInstance(t *testing.T) {
	var buf bytes.Buffer
	log, err := processLogger(&buf, "worker", "json", "", "")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("one", "a", 1)
	log.With("model", "x").Warn("two")
	log.WithGroup("g").Error("three", "err", "boom")
	lines := jsonLines(t, buf.String())
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	inst := lines[0]["instance"]
	for _, l := range lines {
		if l["role"] != "worker" {
			t.Errorf("line without role=worker: %v", l)
		}
		if s, _ := l["instance"].(string); s == "" || l["instance"] != inst {
			t.Errorf("line without the one instance id %v: %v", inst, l)
		}
	}
	// Another process gets another id.
	var buf2 bytes.Buffer
	log2, _ := processLogger(&buf2, "serve", "json", "", "")
	log2.Info("x")
	if l := jsonLines(t, buf2.String()); l[0]["instance"] == inst || l[0]["role"] != "serve" {
		t.Errorf("second process: %v (first instance %v)", l[0], inst)
	}
	// ZOO_INSTANCE names it.
	var buf3 bytes.Buffer
	log3, _ := processLogger(&buf3, "serve", "json", "", "replica-a")
	log3.Info("x")
	if l := jsonLines(t, buf3.String()); l[0]["instance"] != "replica-a" {
		t.Errorf("instance = %v, want replica-a", l[0]["instance"])
	}
}

func TestProcessLoggerSettings(t *testing.T) {
	var buf bytes.Buffer
	log, err := processLogger(&buf, "serve", "", "warn", "i")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "msg=shown role=serve instance=i") {
		t.Errorf("text log at warn:\n%s", out)
	}
	buf.Reset()
	log, err = processLogger(&buf, "serve", "yaml", "loud", "i")
	if err == nil || !strings.Contains(err.Error(), "ZOO_LOG_FORMAT") || !strings.Contains(err.Error(), "ZOO_LOG_LEVEL") {
		t.Errorf("bad settings: err = %v, want both named", err)
	}
	log.Info("still logs")
	if !strings.Contains(buf.String(), "still logs") {
		t.Errorf("a logger with bad settings does not log at info: %q", buf.String())
	}
}

// An outage failing ~3 requests a second for a minute logs the error once
// and then one "repeated" line, not 180 lines.
func TestRepeatedErrorsFolded(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h := newRepeatHandler(slog.NewJSONHandler(&buf, nil), time.Minute, clock)
	log := slog.New(h.WithAttrs([]slog.Attr{slog.String("role", "serve")}))
	refused := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	for i := 0; i < 180; i++ {
		log.Error("internal error", "request_id", i, "path", "/api/v1/models/"+string(rune('a'+i%26)), "err", refused)
		log.Info("request", "status", 503) // info passes through
		now = now.Add(333 * time.Millisecond)
	}
	var errs, infos int
	for _, l := range jsonLines(t, buf.String()) {
		if l["level"] == "ERROR" {
			errs++
		} else {
			infos++
		}
	}
	if errs != 1 || infos != 180 {
		t.Fatalf("within the window: %d ERROR and %d INFO lines, want 1 and 180", errs, infos)
	}
	// Another error is not folded into the first.
	log.Error("internal error", "err", errors.New("disk full"))
	now = now.Add(time.Second)
	h.Flush(false)
	lines := jsonLines(t, buf.String())
	last := lines[len(lines)-1]
	if last["msg"] != "internal error (repeated)" || last["repeated"] != float64(179) || last["err"] != refused.Error() || last["role"] != "serve" {
		t.Fatalf("after the window: last line %v, want the summary of 179 repeats", last)
	}
	if prev := lines[len(lines)-2]; prev["err"] != "disk full" {
		t.Errorf("a different error was folded: %v", prev)
	}
	// After the summary the error is written again (once).
	buf.Reset()
	log.Error("internal error", "err", refused)
	log.Error("internal error", "err", refused)
	if n := strings.Count(buf.String(), "connection refused"); n != 1 {
		t.Errorf("next window: %d lines, want 1:\n%s", n, buf.String())
	}
	// A folded error with no repeat gets no summary.
	buf.Reset()
	now = now.Add(2 * time.Minute)
	h.Flush(false)
	if strings.Contains(buf.String(), "repeated") && strings.Contains(buf.String(), "disk full") {
		t.Errorf("summary for an error that did not repeat:\n%s", buf.String())
	}
}

// Errors without an err attribute are identical only with equal
// attributes (volatile ones aside).
func TestRepeatKeyWithoutErr(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newRepeatHandler(slog.NewTextHandler(&buf, nil), time.Minute, time.Now))
	log.Error("upload stored but test not queued", "id", "a", "request_id", 1)
	log.Error("upload stored but test not queued", "id", "a", "request_id", 2)
	log.Error("upload stored but test not queued", "id", "b", "request_id", 3)
	if n := strings.Count(buf.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d lines, want 2 (ids a and b):\n%s", n, buf.String())
	}
}

// zoo serve with ZOO_LOG_FORMAT=json writes only JSON lines, each with
// role and instance.
func TestServeLogsJSON(t *testing.T) {
	t.Setenv(logFormatEnv, "json")
	t.Setenv(instanceEnv, "replica-test")
	dir := t.TempDir()
	url, errs := startServe(t, "--data", dir, "--workers", "0")
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(errs.String(), `"path":"/healthz"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	lines := jsonLines(t, errs.String())
	if len(lines) < 3 {
		t.Fatalf("only %d lines:\n%s", len(lines), errs.String())
	}
	for _, l := range lines {
		if l["role"] != "serve" || l["instance"] != "replica-test" {
			t.Errorf("line without role=serve instance=replica-test: %v", l)
		}
	}
}
