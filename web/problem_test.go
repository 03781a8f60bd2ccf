package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// TestKindTable: every zoo.Kind has a row, with its own status and type.
func TestKindTable(t *testing.T) {
	statuses, slugs := map[int]bool{}, map[string]bool{invalidPackage.slug: true}
	for k := zoo.Internal; k <= zoo.Unavailable; k++ {
		pt, ok := kinds[k]
		if !ok {
			t.Errorf("kind %v has no row in the table", k)
			continue
		}
		if statuses[pt.status] || slugs[pt.slug] {
			t.Errorf("kind %v: status %d or type %s used twice", k, pt.status, pt.slug)
		}
		statuses[pt.status], slugs[pt.slug] = true, true
	}
	if len(kinds) != int(zoo.Unavailable)+1 {
		t.Errorf("the table has %d rows for %d kinds", len(kinds), zoo.Unavailable+1)
	}
}

// fakeUsers resolves test tokens that fail in each way a dependency can.
func fakeUsers(real func(ctx context.Context, token string) (*zoo.User, error)) func(ctx context.Context, token string) (*zoo.User, error) {
	return func(ctx context.Context, token string) (*zoo.User, error) {
		switch token {
		case "not-supported":
			return nil, zoo.E("test", zoo.NotSupported, nil, "tokens of this kind are not supported here")
		case "busy":
			return nil, zoo.E("test", zoo.Unavailable, errors.New("pool exhausted"), "the catalog is busy; try again")
		case "boom":
			return nil, errors.New("dial tcp 10.0.0.7:5432: password authentication failed for user zoo_secret")
		case "boom-zoo":
			return nil, zoo.E("test", zoo.Internal, errors.New("disk quota exceeded on /srv/zoo"), "cannot read the user")
		case "panic":
			panic("handler bug")
		}
		return real(ctx, token)
	}
}

// TestProblems: each error kind, produced over HTTP, is a problem document
// with its status, type and headers, and a detail a person can act on.
func TestProblems(t *testing.T) {
	var e *env
	e = newEnv(t, Options{
		MaxUpload: 64 << 10,
		MaxJSON:   1 << 10,
		Users: fakeUsers(func(ctx context.Context, token string) (*zoo.User, error) {
			return e.svc.Catalog().UserByToken(ctx, HashToken(token))
		}),
	}, repo.Config{})
	data := packageZip(t, "upsample-onnx")
	big := bytes.Repeat([]byte("x"), 100<<10)
	small := newEnv(t, Options{}, repo.Config{MaxUpload: 1 << 10}) // repo's limit, not web's

	// A draft of alice's for the conflict.
	v, err := e.svc.Upload(t.Context(), e.users["alice"], bytes.NewReader(data), repo.UploadOptions{Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	vp := versionPath(v)

	type header struct{ k, v string }
	cases := []struct {
		name   string
		env    *env
		req    req
		token  string // raw Authorization token instead of a user's
		status int
		typ    string
		detail string // in the detail
		header header
	}{
		{name: "invalid version number", req: req{method: "GET", path: "/api/v1/models/x/versions/one"}, status: 400, typ: "invalid", detail: "number"},
		{name: "invalid review action", req: req{as: "rita", method: "POST", path: vp + "/review", body: strings.NewReader(`{"action":"approve"}`)}, status: 400, typ: "invalid", detail: "accept, request-changes or reject"},
		{name: "invalid JSON", req: req{as: "rita", method: "POST", path: vp + "/review", body: strings.NewReader(`{"action":`)}, status: 400, typ: "invalid", detail: "JSON"},
		{name: "unknown JSON field", req: req{as: "rita", method: "POST", path: vp + "/review", body: strings.NewReader(`{"action":"reject","coment":"x"}`)}, status: 400, typ: "invalid", detail: `"coment"`},
		{name: "missing body", req: req{as: "alice", method: "POST", path: vp + "/retire"}, status: 400, typ: "invalid", detail: "JSON body"},
		{name: "bad flag", req: req{as: "alice", method: "POST", path: "/api/v1/models?draft=maybe", body: bytes.NewReader(data)}, status: 400, typ: "invalid", detail: "draft=1"},
		{name: "invalid package", req: req{as: "alice", method: "POST", path: "/api/v1/models", body: bytes.NewReader(editZip(t, data, func(d []byte) []byte { return append(d, "\nspeed: fast\n"...) }))}, status: 422, typ: "invalid-package", detail: "report"},
		{name: "unknown model", req: req{method: "GET", path: "/api/v1/models/no-such-model"}, status: 404, typ: "not-found", detail: "no-such-model"},
		{name: "unknown route", req: req{method: "GET", path: "/api/v2/models"}, status: 404, typ: "not-found", detail: "openapi.json"},
		{name: "conflict", req: req{as: "rita", method: "POST", path: vp + "/review", body: strings.NewReader(`{"action":"reject"}`)}, status: 409, typ: "conflict"},
		{name: "not supported", token: "not-supported", req: req{method: "GET", path: "/api/v1/models"}, status: 501, typ: "not-supported", detail: "not supported"},
		{name: "upload announced too large", req: req{as: "alice", method: "POST", path: "/api/v1/models", body: bytes.NewReader(big)}, status: 413, typ: "too-large", detail: "65536 bytes"},
		{name: "upload streamed too large", req: req{as: "alice", method: "POST", path: "/api/v1/models", body: io.MultiReader(bytes.NewReader(big))}, status: 413, typ: "too-large", detail: "65536 bytes"},
		{name: "upload over the repository's limit", env: small, req: req{as: "alice", method: "POST", path: "/api/v1/models", body: bytes.NewReader(data)}, status: 413, typ: "too-large", detail: "1024 bytes"},
		{name: "JSON too large", req: req{as: "rita", method: "POST", path: vp + "/review", body: io.MultiReader(strings.NewReader(`{"action":"reject","comment":"`), bytes.NewReader(big))}, status: 413, typ: "too-large", detail: "1024 bytes"},
		{name: "anonymous upload", req: req{method: "POST", path: "/api/v1/models", body: bytes.NewReader(data)}, status: 401, typ: "unauthorized", detail: "API token", header: header{"WWW-Authenticate", `Bearer realm="zoo"`}},
		{name: "unknown token", token: "zoo_nope", req: req{method: "GET", path: "/api/v1/models"}, status: 401, typ: "unauthorized", detail: "unknown or revoked", header: header{"WWW-Authenticate", `Bearer realm="zoo", error="invalid_token"`}},
		{name: "not a bearer token", req: req{method: "GET", path: "/api/v1/models", header: map[string]string{"Authorization": "Basic YTpi"}}, status: 401, typ: "unauthorized", detail: "Bearer"},
		{name: "forbidden", req: req{as: "alice", method: "GET", path: "/api/v1/review-queue"}, status: 403, typ: "forbidden", detail: "reviewer"},
		{name: "unavailable", token: "busy", req: req{method: "GET", path: "/api/v1/models"}, status: 503, typ: "unavailable", detail: "try again", header: header{"Retry-After", "10"}},
		{name: "internal", token: "boom", req: req{method: "GET", path: "/api/v1/models"}, status: 500, typ: "internal", detail: "logged"},
		{name: "internal with a message", token: "boom-zoo", req: req{method: "GET", path: "/api/v1/models"}, status: 500, typ: "internal", detail: "cannot read the user"},
		{name: "panic", token: "panic", req: req{method: "GET", path: "/api/v1/models"}, status: 500, typ: "internal", detail: "logged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := e
			if c.env != nil {
				env = c.env
			}
			env.t = t
			if c.token != "" {
				if c.req.header == nil {
					c.req.header = map[string]string{}
				}
				c.req.header["Authorization"] = "Bearer " + c.token
			}
			r := env.do(c.req)
			p := env.problem(r, c.status)
			if p.Type != "urn:zoo:problem:"+c.typ {
				t.Errorf("type %q, want %s", p.Type, c.typ)
			}
			if !strings.Contains(p.Detail, c.detail) && !(c.typ == "invalid-package" && p.Report != nil) {
				t.Errorf("detail %q lacks %q", p.Detail, c.detail)
			}
			if c.header.k != "" && r.Header.Get(c.header.k) != c.header.v {
				t.Errorf("%s: %q, want %q", c.header.k, r.Header.Get(c.header.k), c.header.v)
			}
			if c.status == 500 {
				if p.RequestID == "" || p.RequestID != r.Header.Get("X-Request-Id") {
					t.Errorf("request id %q, header %q", p.RequestID, r.Header.Get("X-Request-Id"))
				}
				for _, secret := range []string{"password", "10.0.0.7", "quota", "/srv", "handler bug", "panic"} {
					if strings.Contains(string(r.body), secret) {
						t.Errorf("the internal error leaks %q: %s", secret, r.body)
					}
				}
				if !strings.Contains(env.log.String(), p.RequestID) {
					t.Errorf("request %s not logged", p.RequestID)
				}
			}
		})
	}
	e.t = t
	log := e.log.String()
	for _, want := range []string{"password authentication failed", "disk quota exceeded", "handler bug", "goroutine"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// TestMethodNotAllowed: a known path with another method is 405 with Allow.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/api/v1/models", "GET, HEAD, POST"},
		{"GET", "/api/v1/models/x/versions/1/review", "POST"},
		{"PUT", "/files/x/1/rdf.yaml", "GET, HEAD"},
	} {
		r := e.do(req{method: c.method, path: c.path})
		e.problem(r, http.StatusMethodNotAllowed)
		if r.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, r.Header.Get("Allow"), c.allow)
		}
	}
}

// TestMiddleware: security headers, request ids, health probes.
func TestMiddleware(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	for _, path := range []string{"/healthz", "/api/v1/models", "/api/v1/models/none"} {
		r := e.get("", path)
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if r.Header.Get(k) != v {
				t.Errorf("%s: %s %q", path, k, r.Header.Get(k))
			}
		}
		if !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") || r.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: headers %v", path, r.Header)
		}
	}
	r := e.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "abc-123"}})
	if r.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("client request id not kept: %q", r.Header.Get("X-Request-Id"))
	}
	r = e.do(req{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "<script>"}})
	if r.Header.Get("X-Request-Id") == "<script>" {
		t.Error("a hostile request id was kept")
	}
	if !strings.Contains(e.log.String(), "path=/healthz status=200") {
		t.Errorf("request not logged:\n%s", e.log.String())
	}
	if r := e.get("", "/readyz"); r.StatusCode != 200 || !strings.Contains(string(r.body), "ready") {
		t.Errorf("readyz %d %s", r.StatusCode, r.body)
	}
	// The catalog goes away: not ready (503 with Retry-After), still alive.
	e.cat.Close()
	r = e.get("", "/readyz")
	e.problem(r, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if r := e.get("", "/healthz"); r.StatusCode != 200 {
		t.Errorf("healthz %d", r.StatusCode)
	}
}

// fakeSession is a cookie session: cookie "s" names the user, header
// X-CSRF-Token must repeat it on unsafe methods.
type fakeSession struct{ e *env }

func (f fakeSession) User(r *http.Request) (*zoo.User, error) {
	c, err := r.Cookie("s")
	if err != nil {
		return nil, nil
	}
	return f.e.users[c.Value], nil
}

func (f fakeSession) CheckCSRF(r *http.Request) error {
	c, _ := r.Cookie("s")
	if r.Header.Get("X-CSRF-Token") != c.Value {
		return errors.New("bad csrf token")
	}
	return nil
}

// TestSessionSeam: a session identifies a caller; unsafe methods need the
// CSRF check; a bearer token takes precedence.
func TestSessionSeam(t *testing.T) {
	var e *env
	e = newEnv(t, Options{Session: sessionFunc(func() Session { return fakeSession{e} })}, repo.Config{})
	v, err := e.svc.Upload(t.Context(), e.users["alice"], bytes.NewReader(packageZip(t, "upsample-onnx")), repo.UploadOptions{Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	cookie := map[string]string{"Cookie": "s=alice"}
	if r := e.do(req{method: "GET", path: versionPath(v), header: cookie}); r.StatusCode != 200 {
		t.Errorf("session GET of a draft: %d", r.StatusCode)
	}
	p := e.problem(e.do(req{method: "POST", path: versionPath(v) + "/submit", header: cookie}), http.StatusForbidden)
	if !strings.Contains(p.Detail, "reload the page") || strings.Contains(p.Detail, "csrf") {
		t.Errorf("CSRF detail %q", p.Detail)
	}
	ok := e.do(req{method: "POST", path: versionPath(v) + "/submit", header: map[string]string{"Cookie": "s=alice", "X-CSRF-Token": "alice"}})
	if e.version(ok, 200).State != zoo.StateSubmitted {
		t.Errorf("submit with CSRF token: %s", ok.body)
	}
	// A bearer token needs no CSRF token, whatever the cookies say.
	r := e.do(req{as: "rita", method: "POST", path: versionPath(v) + "/review", body: strings.NewReader(`{"action":"reject"}`), header: map[string]string{"Cookie": "s=bob"}})
	e.version(r, 200)
}

// sessionFunc lets a test build the session after the env exists.
type sessionFunc func() Session

func (f sessionFunc) User(r *http.Request) (*zoo.User, error) { return f().User(r) }
func (f sessionFunc) CheckCSRF(r *http.Request) error         { return f().CheckCSRF(r) }
