package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// TestDownloadCounting checks the rule of the package documentation: the
// package and weights count; the description, test tensors and docs do
// not; nor do ?silent=1, HEAD, 304, later ranges and unpublished versions.
// Each step comes from another client (behind a trusted proxy), so that
// the once-per-client rule does not hide the rule tested here.
func TestDownloadCounting(t *testing.T) {
	e := newEnv(t, Options{TrustedProxies: loopback(t)}, repo.Config{})
	data := packageZip(t, "upsample-onnx")
	v := e.published("alice", "", data)
	id := v.ModelID
	draft := e.version(e.upload("alice", "?draft=1&model="+id, data), http.StatusCreated)
	weights := "/files/" + id + "/1/weights.onnx"

	steps := []struct {
		what   string
		method string
		path   string
		header map[string]string
		status int
		count  int64 // downloads of version 1 afterwards
	}{
		{"the package", "GET", "/packages/" + id + "/1", nil, 200, 1},
		{"the weights", "GET", weights, nil, 200, 2},
		{"the description", "GET", "/files/" + id + "/1/rdf.yaml", nil, 200, 2},
		{"a test tensor", "GET", "/files/" + id + "/1/test_input.npy", nil, 200, 2},
		{"the documentation", "GET", "/files/" + id + "/1/docs.md", nil, 200, 2},
		{"the package, silently", "GET", "/packages/" + id + "/1?silent=1", nil, 200, 2},
		{"the weights, silently", "GET", weights + "?silent=1", nil, 200, 2},
		{"HEAD of the package", "HEAD", "/packages/" + id, nil, 200, 2},
		{"HEAD of the weights", "HEAD", weights, nil, 200, 2},
		{"a later range of the weights", "GET", weights, map[string]string{"Range": "bytes=100-199"}, 206, 2},
		{"a suffix range of the weights", "GET", weights, map[string]string{"Range": "bytes=-100"}, 206, 2},
		{"the first range of the weights", "GET", weights, map[string]string{"Range": "bytes=0-99"}, 206, 3},
		{"an unsatisfiable range", "GET", weights, map[string]string{"Range": "bytes=99999999-"}, 416, 3},
		{"a conditional GET that matches", "GET", weights, map[string]string{"If-None-Match": `"` + fileSHA(t, v, "weights.onnx") + `"`}, 304, 3},
		{"the latest package", "GET", "/packages/" + id, nil, 200, 4},
		{"the latest package by /latest", "GET", "/packages/" + id + "/latest", nil, 200, 5},
		{"the latest weights", "GET", "/files/" + id + "/latest/weights.onnx", nil, 200, 6},
		{"the draft's package (by its uploader)", "GET", fmt.Sprintf("/packages/%s/%d", id, draft.Number), nil, 200, 6},
		{"the draft's weights (by its uploader)", "GET", fmt.Sprintf("/files/%s/%d/weights.onnx", id, draft.Number), nil, 200, 6},
	}
	for i, s := range steps {
		h := map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1)}
		for k, v := range s.header {
			h[k] = v
		}
		r := e.do(req{as: "alice", method: s.method, path: s.path, header: h})
		if r.StatusCode != s.status {
			t.Fatalf("%s: status %d, want %d: %s", s.what, r.StatusCode, s.status, r.body)
		}
		got, err := e.cat.Version(t.Context(), id, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got.Downloads != s.count {
			t.Errorf("after %s: %d downloads, want %d", s.what, got.Downloads, s.count)
		}
	}
	if d, _ := e.cat.Version(t.Context(), id, draft.Number); d.Downloads != 0 {
		t.Errorf("the draft counted %d downloads", d.Downloads)
	}
	// The version and the model list report the counts.
	if got := e.version(e.get("", "/api/v1/models/"+id+"/versions/1"), 200); got.Downloads != 6 {
		t.Errorf("version downloads %d", got.Downloads)
	}
	var list struct {
		Models []ModelSummary `json:"models"`
	}
	json.Unmarshal(e.get("", "/api/v1/models").body, &list)
	if len(list.Models) != 1 || list.Models[0].Downloads != 6 {
		t.Errorf("model list %+v", list.Models)
	}
}

func fileSHA(t *testing.T, v *zoo.Version, p string) string {
	t.Helper()
	f, err := repo.FileOf(v, p)
	if err != nil {
		t.Fatal(err)
	}
	return f.SHA256
}

// TestWhole: the "whole response" part of the rule, including transfers
// that end early (which an HTTP client cannot easily cause).
func TestWhole(t *testing.T) {
	s := &server{}
	for _, c := range []struct {
		method, target, rng string
		status              int
		length              string
		sent                int64
		want                bool
	}{
		{"GET", "/p", "", 200, "100", 100, true},
		{"GET", "/p", "", 200, "100", 60, false}, // aborted
		{"GET", "/p?silent=1", "", 200, "100", 100, false},
		{"GET", "/p?silent=0", "", 200, "100", 100, true},
		{"HEAD", "/p", "", 200, "100", 0, false},
		{"GET", "/p", "bytes=0-9", 206, "10", 10, true},
		{"GET", "/p", "bytes=0-", 206, "100", 100, true},
		{"GET", "/p", "bytes=10-19", 206, "10", 10, false},
		{"GET", "/p", "bytes=-10", 206, "10", 10, false},
		{"GET", "/p", "bytes=5-9", 200, "100", 100, true}, // If-Range failed: the whole file
		{"GET", "/p", "", 304, "", 0, false},
		{"GET", "/p", "", 416, "", 0, false},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if c.rng != "" {
			r.Header.Set("Range", c.rng)
		}
		rec := httptest.NewRecorder()
		if c.length != "" {
			rec.Header().Set("Content-Length", c.length)
		}
		sw := &statusWriter{ResponseWriter: rec, status: c.status, bytes: c.sent}
		if got := s.whole(r, sw); got != c.want {
			t.Errorf("%s %s Range %q → %d, %d of %s bytes: counts %v, want %v", c.method, c.target, c.rng, c.status, c.sent, c.length, got, c.want)
		}
	}
}

func loopback(t *testing.T) []netip.Prefix {
	p, err := ParseTrustedProxies("127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A client that downloads a version again and again counts once a day
// (issue 15: anyone could inflate the counts that order search results);
// another client, or the next day, counts again. IPv6 clients count by
// their /64.
func TestDownloadCountedOncePerClientPerDay(t *testing.T) {
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	e := newEnv(t, Options{TrustedProxies: loopback(t)}, repo.Config{Now: func() time.Time { return now }})
	v := e.published("alice", "", packageZip(t, "upsample-onnx"))
	count := func() int64 {
		t.Helper()
		got, err := e.cat.Version(t.Context(), v.ModelID, 1)
		if err != nil {
			t.Fatal(err)
		}
		return got.Downloads
	}
	get := func(client string) {
		t.Helper()
		if r := e.do(req{method: "GET", path: "/packages/" + v.ModelID + "/1", header: map[string]string{"X-Forwarded-For": client}}); r.StatusCode != 200 {
			t.Fatalf("download: %d", r.StatusCode)
		}
	}
	for range 5 {
		get("198.51.100.7")
	}
	if n := count(); n != 1 {
		t.Fatalf("5 downloads by one client: counted %d, want 1", n)
	}
	get("198.51.100.8")
	get("2001:db8:1:2::1")
	get("2001:db8:1:2::99") // the same /64
	if n := count(); n != 3 {
		t.Fatalf("then another IPv4 client and two addresses of one IPv6 /64: counted %d, want 3", n)
	}
	now = now.Add(24 * time.Hour)
	get("198.51.100.7")
	get("198.51.100.7")
	if n := count(); n != 4 {
		t.Fatalf("the next day, the first client twice: counted %d, want 4", n)
	}
}
