// Package metrics is zoo's Prometheus instrumentation: one registry per
// process (Registry) holding the HTTP, limit, job and test metrics below
// plus the Go runtime's and the process's own (resident memory, open file
// descriptors, CPU), and the handler that serves them (Handler).
//
// The metrics are package-level so that any package can count without
// wiring: web counts requests, oip and jobs/infer count in-flight work,
// every limit reports its refusals through Refuse (which also logs the
// refusal once, with the limit's name). cmd/zoo decides where /metrics is
// served (a separate listen address, or the main one behind a token) and
// registers the collectors that need a store (queue depth, job ages).
//
// Metric names (all prefixed zoo_):
//
//	http_requests_total{route,method,status}        counter
//	http_request_duration_seconds{route,method}     histogram
//	http_requests_in_flight                         gauge
//	inflight_bytes{what}                            gauge (bytes held by requests being served: "oip", "upload", …)
//	refusals_total{limit,status}                    counter (429, 413, 408, 411, connection refused …)
//	queue_jobs{kind,state}                          gauge (from the queue at scrape time)
//	queue_oldest_job_age_seconds{kind,state}        gauge
//	infer_jobs_active{client_kind}                  gauge (inference jobs queued or running, admitted by this process: anonymous, user)
//	test_outcomes_total{status}                     counter (reproducibility tests: passed, failed, not-supported, error)
package metrics

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every zoo metric of this process, the Go runtime's and
// the process's (process_resident_memory_bytes, …).
var Registry = prometheus.NewRegistry()

var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "zoo", Name: "http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status code.",
	}, []string{"route", "method", "status"})
	durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "zoo", Name: "http_request_duration_seconds",
		Help:    "Time from the request's headers to the end of its answer, by route pattern and method.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"route", "method"})
	inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "zoo", Name: "http_requests_in_flight",
		Help: "HTTP requests being served.",
	})
	inFlightBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "zoo", Name: "inflight_bytes",
		Help: "Bytes reserved by requests being served (request bodies and the tensors decoded from and produced for them), by what holds them.",
	}, []string{"what"})
	refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "zoo", Name: "refusals_total",
		Help: "Requests or connections refused by a limit, by the limit's name and the status answered (0: connection closed).",
	}, []string{"limit", "status"})
	tests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "zoo", Name: "test_outcomes_total",
		Help: "Reproducibility tests of uploaded versions run by this process, by outcome (passed, failed, not-supported, error).",
	}, []string{"status"})
)

func init() {
	Registry.MustRegister(requests, durations, inFlight, inFlightBytes, refusals, tests,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// ObserveRequest counts one answered request. route is the ServeMux
// pattern that matched ("" becomes "unmatched"), so that label values stay
// few whatever paths clients send.
func ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		method = "other"
	}
	requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	durations.WithLabelValues(route, method).Observe(d.Seconds())
}

// RequestStarted counts a request in flight until the returned function
// is called.
func RequestStarted() (done func()) {
	inFlight.Inc()
	return inFlight.Dec
}

// AddInFlightBytes adds n (negative to release) to the bytes held by
// requests of kind what.
func AddInFlightBytes(what string, n int64) { inFlightBytes.WithLabelValues(what).Add(float64(n)) }

// Refuse counts one refusal by the limit named limit, answered with
// status (0 when the connection was closed without an answer), and logs
// it once on log (slog.Default() if nil) at level Warn, with the limit's
// name and attrs (e.g. "client", the address).
func Refuse(ctx context.Context, log *slog.Logger, limit string, status int, attrs ...any) {
	refusals.WithLabelValues(limit, strconv.Itoa(status)).Inc()
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(ctx, "refused by a limit", append([]any{"limit", limit, "status", status}, attrs...)...)
}

// TestOutcome counts one finished reproducibility test (status as stored:
// passed, failed, not-supported; "error" for a run that did not finish).
func TestOutcome(status string) {
	if status == "" {
		status = "error"
	}
	tests.WithLabelValues(status).Inc()
}

// Handler serves the registry in Prometheus' text format. A non-empty
// token is required as "Authorization: Bearer TOKEN" (compared in
// constant time); other requests get 401.
func Handler(token string) http.Handler {
	// A collector that fails (e.g. the database is unreachable) drops its
	// own family from the scrape, not the whole scrape.
	h := promhttp.HandlerFor(Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="zoo metrics"`)
			http.Error(w, "send the metrics token as 'Authorization: Bearer <token>' (ZOO_METRICS_TOKEN)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// GaugeFunc is one sample of a collector made by NewCollector.
type GaugeFunc struct {
	Labels []string // values of the collector's labels, in order
	Value  float64
}

// Collect registers a gauge family whose samples are computed at each
// scrape by fn (e.g. the queue's depth by kind and state, read from the
// database). fn gets a context bounded to 5 s; its error drops the scrape
// of that family only. Registering the same name twice panics.
func Collect(name, help string, labels []string, fn func(ctx context.Context) ([]GaugeFunc, error)) {
	Registry.MustRegister(&funcCollector{desc: prometheus.NewDesc("zoo_"+name, help, labels, nil), fn: fn})
}

type funcCollector struct {
	desc *prometheus.Desc
	fn   func(ctx context.Context) ([]GaugeFunc, error)
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	samples, err := c.fn(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range samples {
		m, err := prometheus.NewConstMetric(c.desc, prometheus.GaugeValue, s.Value, s.Labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.desc, err)
		}
		ch <- m
	}
}
