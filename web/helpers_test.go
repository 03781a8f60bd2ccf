package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// env is a repository on the embedded backends (SQLite + disk) behind an
// httptest server, with a fake queue that records test jobs, and one user
// (with a token) of each kind.
type env struct {
	t   *testing.T
	svc *repo.Service
	cat zoo.Catalog
	srv *httptest.Server
	log *syncBuffer

	mu   sync.Mutex
	jobs []repo.TestArgs

	users  map[string]*zoo.User // alice, bob (contributors), rita (reviewer), root (admin)
	tokens map[string]string

	// handled counts requests whose handler has returned: a client has its
	// answer before the handler ends (download counting comes after the
	// last byte), so do waits for the handler before the test looks.
	handled chan struct{}
}

type recQueue struct{ e *env }

func (q recQueue) Enqueue(_ context.Context, kind string, args any) (int64, error) {
	q.e.mu.Lock()
	defer q.e.mu.Unlock()
	q.e.jobs = append(q.e.jobs, args.(repo.TestArgs))
	return int64(len(q.e.jobs)), nil
}

// syncBuffer collects the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func passTester(ctx context.Context, dir, out string) (*repo.TestResult, error) {
	if _, err := os.Stat(filepath.Join(dir, "rdf.yaml")); err != nil {
		return nil, err
	}
	return &repo.TestResult{Status: zoo.TestPassed, Report: json.RawMessage(`{"status":"passed"}`)}, nil
}

func newEnv(t *testing.T, opts Options, cfg repo.Config) *env {
	t.Helper()
	blobs, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return newEnvBlobs(t, opts, cfg, blobs)
}

// newEnvBlobs is newEnv with the given blob store.
func newEnvBlobs(t *testing.T, opts Options, cfg repo.Config, blobs zoo.BlobStore) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, cat: db, log: &syncBuffer{}, users: map[string]*zoo.User{}, tokens: map[string]string{}}
	cfg.TempDir = t.TempDir()
	if cfg.Tester == nil {
		cfg.Tester = passTester
	}
	e.svc = repo.New(db, blobs, recQueue{e}, cfg)
	for name, role := range map[string]zoo.Role{"alice": zoo.RoleContributor, "bob": zoo.RoleContributor, "rita": zoo.RoleReviewer, "root": zoo.RoleAdmin} {
		u, err := db.CreateUser(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		secret := NewToken()
		if _, err := db.CreateToken(ctx, u.ID, HashToken(secret)); err != nil {
			t.Fatal(err)
		}
		e.users[name], e.tokens[name] = u, secret
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h := New(e.svc, opts)
	e.handled = make(chan struct{}, 1000)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { e.handled <- struct{}{} }()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// runTests runs the queued test jobs (as a worker would).
func (e *env) runTests() {
	e.t.Helper()
	e.mu.Lock()
	jobs := e.jobs
	e.jobs = nil
	e.mu.Unlock()
	for _, j := range jobs {
		if err := e.svc.RunTest(context.Background(), j); err != nil {
			e.t.Fatal(err)
		}
	}
}

// req is one HTTP request: who ("" anonymous), what and with which body.
type req struct {
	as     string
	method string
	path   string
	body   io.Reader
	header map[string]string
}

// resp is an answer with its body read.
type resp struct {
	*http.Response
	body []byte
}

func (e *env) do(r req) resp {
	e.t.Helper()
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, r.body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.as != "" {
		hr.Header.Set("Authorization", "Bearer "+e.tokens[r.as])
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	select {
	case <-e.handled:
	case <-time.After(10 * time.Second):
		e.t.Fatalf("%s %s: the handler did not return", r.method, r.path)
	}
	return resp{res, b}
}

func (e *env) get(as, path string) resp { return e.do(req{as: as, method: "GET", path: path}) }

func (e *env) postJSON(as, path string, v any) resp {
	b, _ := json.Marshal(v)
	return e.do(req{as: as, method: "POST", path: path, body: bytes.NewReader(b), header: map[string]string{"Content-Type": "application/json"}})
}

func (e *env) upload(as string, query string, zipData []byte) resp {
	return e.do(req{as: as, method: "POST", path: "/api/v1/models" + query, body: bytes.NewReader(zipData),
		header: map[string]string{"Content-Type": "application/zip"}})
}

// version decodes a version answer, failing the test unless status is want.
func (e *env) version(r resp, want int) *zoo.Version {
	e.t.Helper()
	if r.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
	var v zoo.Version
	if err := json.Unmarshal(r.body, &v); err != nil {
		e.t.Fatalf("not a version: %v: %s", err, r.body)
	}
	return &v
}

// problem decodes a problem document and checks its status, content type
// and that type, title and detail are filled.
func (e *env) problem(r resp, want int) Problem {
	e.t.Helper()
	if r.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		e.t.Errorf("problem Content-Type %q", ct)
	}
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		e.t.Fatalf("not a problem: %v: %s", err, r.body)
	}
	if p.Status != want || p.Type == "" || p.Title == "" || p.Detail == "" {
		e.t.Errorf("incomplete problem %+v", p)
	}
	return p
}

// published uploads a package as who, runs its test and has rita accept it.
func (e *env) published(who string, query string, data []byte) *zoo.Version {
	e.t.Helper()
	v := e.version(e.upload(who, query, data), http.StatusCreated)
	e.runTests()
	reviewer := "rita"
	if who == "rita" {
		reviewer = "root"
	}
	return e.version(e.postJSON(reviewer, versionPath(v)+"/review", ReviewRequest{Action: "accept"}), http.StatusOK)
}

var zipCache sync.Map

// packageZip builds the deterministic zip of a fixture package.
func packageZip(t *testing.T, name string) []byte {
	t.Helper()
	dir := fixtures.Path(t, "packages", name)
	if b, ok := zipCache.Load(dir); ok {
		return b.([]byte)
	}
	pkg, _, err := bundle.Build(dir, bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	zipCache.Store(dir, buf.Bytes())
	return buf.Bytes()
}

// editZip returns a copy of a zip with the description changed by edit.
func editZip(t *testing.T, data []byte, edit func(desc []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, _ := zw.Create(f.Name)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "rdf.yaml" {
			b = edit(b)
		}
		w.Write(b)
	}
	zw.Close()
	return buf.Bytes()
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
