package metrics

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	Handler("secret-token-123456").ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestRefuseCountsAndLogsOnce(t *testing.T) {
	var log bytes.Buffer
	Refuse(context.Background(), slog.New(slog.NewTextHandler(&log, nil)), "test_limit", 429, "client", "127.0.0.9")
	if n := strings.Count(log.String(), "refused by a limit"); n != 1 || !strings.Contains(log.String(), "limit=test_limit") || !strings.Contains(log.String(), "client=127.0.0.9") {
		t.Fatalf("log: %q", log.String())
	}
	ObserveRequest("GET /x/{id}", "BREW", 200, 3*time.Millisecond)
	done := RequestStarted()
	AddInFlightBytes("oip", 1024)
	TestOutcome("passed")
	TestOutcome("")
	st, body := scrape(t, "secret-token-123456")
	if st != 200 {
		t.Fatalf("with the token: %d", st)
	}
	for _, want := range []string{
		`zoo_refusals_total{limit="test_limit",status="429"} 1`,
		`zoo_http_requests_total{method="other",route="GET /x/{id}",status="200"} 1`,
		`zoo_http_requests_in_flight 1`,
		`zoo_inflight_bytes{what="oip"} 1024`,
		`zoo_test_outcomes_total{status="error"} 1`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
	done()
	AddInFlightBytes("oip", -1024)
}

func TestHandlerToken(t *testing.T) {
	for _, tok := range []string{"", "wrong", "secret-token-12345"} {
		if st, _ := scrape(t, tok); st != 401 {
			t.Errorf("token %q: %d, want 401", tok, st)
		}
	}
}

func TestCollect(t *testing.T) {
	Collect("test_gauge", "a test gauge", []string{"kind"}, func(ctx context.Context) ([]GaugeFunc, error) {
		return []GaugeFunc{{Labels: []string{"a"}, Value: 3}}, nil
	})
	if _, body := scrape(t, "secret-token-123456"); !strings.Contains(body, `zoo_test_gauge{kind="a"} 3`) {
		t.Errorf("collected gauge missing")
	}
}

// A collector that fails drops its own family, not the scrape.
func TestFailingCollector(t *testing.T) {
	Collect("test_failing", "fails", nil, func(ctx context.Context) ([]GaugeFunc, error) {
		return nil, context.DeadlineExceeded
	})
	if st, body := scrape(t, "secret-token-123456"); st != 200 || !strings.Contains(body, "zoo_http_requests_in_flight") {
		t.Fatalf("scrape with a failing collector: %d", st)
	}
}
