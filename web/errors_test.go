package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob"
	"github.com/zoo-bioimage/zoo/repo"
)

// failServer is a server with only what fail needs, logging at Debug.
func failServer() (*server, *syncBuffer) {
	log := &syncBuffer{}
	s := &server{log: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	s.opts.RetryAfter = 7 * time.Second
	return s, log
}

// TestErrorStatusMapping: how an error reaches the client. A store that
// cannot be reached is an outage (503, Retry-After) when the error has no
// other kind, however wrapped; an error with a kind keeps it.
func TestErrorStatusMapping(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name   string
		err    error
		status int
		retry  bool
	}{
		{"unreachable, no kind", fmt.Errorf("catalog: %w", refused), 503, true},
		{"unreachable, internal", zoo.E("repo.Get", zoo.Internal, refused, ""), 503, true},
		{"connection reset, internal", zoo.E("blob.Get", zoo.Internal, syscall.ECONNRESET, ""), 503, true},
		{"unreachable but not found", zoo.E("repo.Get", zoo.NotFound, refused, "model x not found"), 404, false},
		{"unreachable but invalid", zoo.E("repo.Get", zoo.Invalid, refused, "bad"), 400, false},
		{"internal, reachable", zoo.E("repo.Get", zoo.Internal, errors.New("bug"), ""), 500, false},
		{"unavailable", zoo.E("repo.Get", zoo.Unavailable, nil, "busy; try again"), 503, true},
	}
	for _, c := range cases {
		s, _ := failServer()
		rec := httptest.NewRecorder()
		s.fail(rec, httptest.NewRequest("GET", "/api/v1/models", nil), c.err)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.status)
		}
		if got := rec.Header().Get("Retry-After"); (got == "7") != c.retry {
			t.Errorf("%s: Retry-After %q (want it: %v)", c.name, got, c.retry)
		}
	}
}

// TestSizeRefusalNamesTheLimit: a size refusal is logged and counted by the
// operation whose limit refused it (size:OP), and by size:body for the
// request-body limit or a size error without an operation.
func TestSizeRefusalNamesTheLimit(t *testing.T) {
	cases := []struct {
		err    error
		limit  string
		detail string
	}{
		{zoo.E("repo.Upload", zoo.TooLarge, nil, "the package is larger than 5 bytes"), "size:repo.Upload", "larger than 5 bytes"},
		{fmt.Errorf("upload: %w", zoo.E("infer.Submit", zoo.TooLarge, nil, "the input is too large")), "size:infer.Submit", "the input is too large"},
		{zoo.E("", zoo.TooLarge, nil, "too large"), "size:body", "too large"},
		{&http.MaxBytesError{Limit: 1024}, "size:body", "server's limit of 1024 bytes"},
		{fmt.Errorf("decoding: %w", &http.MaxBytesError{Limit: 99}), "size:body", "server's limit of 99 bytes"},
		{zoo.E("repo.Upload", zoo.TooLarge, &http.MaxBytesError{Limit: 99}, "the package is larger than the repository's limit"), "size:repo.Upload", "repository's limit"},
	}
	for _, c := range cases {
		s, log := failServer()
		rec := httptest.NewRecorder()
		s.fail(rec, httptest.NewRequest("POST", "/api/v1/models", nil), c.err)
		if rec.Code != 413 {
			t.Errorf("%v: status %d", c.err, rec.Code)
		}
		if !strings.Contains(log.String(), "limit="+c.limit+" ") {
			t.Errorf("%v: not logged as %s:\n%s", c.err, c.limit, log.String())
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || !strings.Contains(p.Detail, c.detail) {
			t.Errorf("%v: detail %q, want %q (%v)", c.err, p.Detail, c.detail, err)
		}
	}
}

// TestCanceledByClientIsNotAnError: a request its client gave up on is not
// an internal error in the log (an operator would chase nothing); a
// cancellation while the client still waits is one.
func TestCanceledByClientIsNotAnError(t *testing.T) {
	s, log := failServer()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.fail(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil).WithContext(ctx), fmt.Errorf("reading: %w", context.Canceled))
	if strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "request canceled") {
		t.Errorf("a client's cancellation logged as:\n%s", log.String())
	}
	s, log = failServer()
	s.fail(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil), fmt.Errorf("worker: %w", context.Canceled))
	if !strings.Contains(log.String(), `level=ERROR msg="internal error"`) {
		t.Errorf("a cancellation the client did not ask for is not logged as an error:\n%s", log.String())
	}
}

// csrfSession names the user by cookie "s" and fails every CSRF check
// with err.
type csrfSession struct {
	e   *env
	err error
}

func (c csrfSession) User(r *http.Request) (*zoo.User, error) {
	k, err := r.Cookie("s")
	if err != nil {
		return nil, nil
	}
	return c.e.users[k.Value], nil
}
func (c csrfSession) CheckCSRF(*http.Request) error { return c.err }

// TestCSRFFailureKinds: a failed CSRF check is 403 with the "reload the
// page" message, whatever the session says; but a session store that
// cannot answer is its own error (503), not the user's fault.
func TestCSRFFailureKinds(t *testing.T) {
	cases := []struct {
		err    error
		status int
		detail string
	}{
		{errors.New("token mismatch"), 403, "reload the page"},
		{zoo.E("session.CSRF", zoo.Forbidden, nil, "csrf token mismatch"), 403, "reload the page"},
		{zoo.E("session.CSRF", zoo.Unavailable, nil, "the session store is busy; try again"), 503, "try again"},
		{zoo.E("session.CSRF", zoo.Invalid, nil, "the session cookie is malformed"), 400, "malformed"},
	}
	for _, c := range cases {
		var e *env
		e = newEnv(t, Options{Session: sessionFunc(func() Session { return csrfSession{e, c.err} })}, repo.Config{})
		r := e.do(req{method: "POST", path: "/api/v1/models/x/versions/1/submit", header: map[string]string{"Cookie": "s=alice"}})
		p := e.problem(r, c.status)
		if !strings.Contains(p.Detail, c.detail) {
			t.Errorf("CSRF check failing with %v: detail %q, want %q", c.err, p.Detail, c.detail)
		}
	}
}

// TestAnonymousActionRefusedFirst: an anonymous POST to a version's action
// is 401 before its body is looked at (whatever it holds).
func TestAnonymousActionRefusedFirst(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	for _, action := range []string{"review", "submit", "retire"} {
		for _, body := range []string{`{"action":`, `{"action":"accept"}`, strings.Repeat("x", 10000)} {
			r := e.do(req{method: "POST", path: "/api/v1/models/x/versions/1/" + action, body: strings.NewReader(body)})
			e.problem(r, http.StatusUnauthorized)
		}
	}
	// Logged in, a bad version number is the caller's mistake: 400.
	e.problem(e.do(req{as: "alice", method: "POST", path: "/api/v1/models/x/versions/one/submit"}), http.StatusBadRequest)
}

// TestTokenExpiryBounds: 1 to MaxTokenDays days (or none) are accepted;
// MaxTokenDays+1 and negatives are not.
func TestTokenExpiryBounds(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	for i, c := range []struct {
		days   int
		status int
	}{{MaxTokenDays, 201}, {MaxTokenDays + 1, 400}, {1, 201}, {0, 201}, {-1, 400}} {
		r := e.postJSON("alice", "/api/v1/tokens", NewTokenRequest{Name: fmt.Sprintf("t%d", i), ExpiresInDays: c.days})
		if r.StatusCode != c.status {
			t.Errorf("expires_in_days %d: %d, want %d: %s", c.days, r.StatusCode, c.status, r.body)
		}
	}
}

// TestFileInFolderOfLatest: /files/{id}/docs/x.md is docs/x.md of the
// latest version (the first segment is a folder, not dropped).
func TestFileInFolderOfLatest(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	v := e.published("alice", "", addFiles(t, packageZip(t, "upsample-onnx"), map[string]string{"docs/notes.txt": "in the folder", "notes.txt": "at the top"}))
	for _, p := range []string{"/files/" + v.ModelID + "/docs/notes.txt", "/files/" + v.ModelID + "/1/docs/notes.txt", "/files/" + v.ModelID + "/latest/docs/notes.txt"} {
		if r := e.get("", p); r.StatusCode != 200 || string(r.body) != "in the folder" {
			t.Errorf("%s: %d %q", p, r.StatusCode, r.body)
		}
	}
	if r := e.get("", "/files/"+v.ModelID+"/notes.txt"); string(r.body) != "at the top" {
		t.Errorf("top-level notes.txt: %d %q", r.StatusCode, r.body)
	}
}

// fakePresigner signs every download as a URL on a fake store.
type fakePresigner struct{ n *int }

func (f fakePresigner) PresignDownload(_ context.Context, sha string, _ time.Duration, _ blob.Response) (string, error) {
	*f.n++
	return "https://store.invalid/" + sha + "?sig=1", nil
}

// TestRedirectOnlyPublicGET: with a presigner, a GET of a published
// version's file is redirected to the store; a HEAD, a draft's file (the
// store URL would bypass access control) and a server without a presigner
// are served here.
func TestRedirectOnlyPublicGET(t *testing.T) {
	n := 0
	e := newEnv(t, Options{Redirect: Redirect{Presigner: fakePresigner{&n}, MinBytes: 1}}, repo.Config{})
	e.srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	data := packageZip(t, "upsample-onnx")
	pub := e.published("alice", "", data)
	path := "/files/" + pub.ModelID + "/1/rdf.yaml"
	r := e.get("", path)
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "https://store.invalid/") {
		t.Errorf("GET of a published file: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := e.do(req{method: "HEAD", path: path}); r.StatusCode != 200 || r.Header.Get("Location") != "" {
		t.Errorf("HEAD of a published file: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	signed := n
	draft := e.version(e.upload("bob", "?draft=1", editZip(t, data, func(b []byte) []byte {
		return bytes.Replace(b, []byte("name: "), []byte("name: draft "), 1)
	})), http.StatusCreated)
	dp := "/files/" + draft.ModelID + "/" + fmt.Sprint(draft.Number) + "/rdf.yaml"
	if r := e.get("bob", dp); r.StatusCode != 200 || r.Header.Get("Location") != "" || !strings.Contains(string(r.body), "draft") {
		t.Errorf("GET of a draft's file: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if n != signed {
		t.Errorf("a draft's file was signed for the store")
	}
	// No presigner: served here, even over MinBytes.
	plain := newEnv(t, Options{Redirect: Redirect{MinBytes: 1}}, repo.Config{})
	pv := plain.published("alice", "", data)
	if r := plain.get("", "/files/"+pv.ModelID+"/1/rdf.yaml"); r.StatusCode != 200 || len(r.body) == 0 {
		t.Errorf("GET without a presigner: %d", r.StatusCode)
	}
}
