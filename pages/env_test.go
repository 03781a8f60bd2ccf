package pages_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/compat"
	"github.com/zoo-bioimage/zoo/fair"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/pages"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/search/searchweb"
	"github.com/zoo-bioimage/zoo/session"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/sqlite"
	"github.com/zoo-bioimage/zoo/testview"
	"github.com/zoo-bioimage/zoo/web"
)

// testEnv is an in-process server as cmd/zoo composes it: SQLite and disk
// storage in a temporary folder, the search index (search.Engine, told of
// every version by repo), repo.Service with the real runner as its
// tester (test jobs run in goroutines), the pages, and the session
// manager's cookie sessions (POST /login with a token).
type testEnv struct {
	t       testing.TB
	srv     *httptest.Server
	svc     *repo.Service
	users   map[string]*zoo.User
	tokens  map[string]string
	cookies map[string]*http.Cookie // session cookie per user, made on first use
	wg      sync.WaitGroup
}

// goQueue runs test jobs at once, in goroutines.
type goQueue struct{ e *testEnv }

func (q goQueue) Enqueue(_ context.Context, kind string, args any) (int64, error) {
	a, ok := args.(repo.TestArgs)
	if !ok {
		return 1, nil // conversions wait: no converter here
	}
	q.e.wg.Add(1)
	go func() {
		defer q.e.wg.Done()
		if err := q.e.svc.RunTest(context.Background(), a); err != nil {
			q.e.t.Logf("test job %v: %v", a, err)
		}
	}()
	return 1, nil
}

// pagesOptionsHook, if set, adjusts the pages' options of the next test
// environments (pages tests do not run in parallel).
var pagesOptionsHook func(*pages.Options)

// newTestEnv starts the server with users alice and bob (contributors),
// rita (reviewer); extra routes (e.g. the jobs API) are mounted too.
func newTestEnv(t testing.TB, extra func(e *testEnv) []web.Route) *testEnv {
	t.Helper()
	return newTestEnvWith(t, extra, true)
}

// newTestEnvWith is newTestEnv with or without the search index (without
// it the pages scan the published models).
func newTestEnvWith(t testing.TB, extra func(e *testEnv) []web.Route, withIndex bool) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, users: map[string]*zoo.User{}, tokens: map[string]string{}, cookies: map[string]*http.Cookie{}}
	cfg := repo.Config{TempDir: t.TempDir(), Tester: testview.Tester}
	var idx *search.Engine
	if withIndex {
		idx = search.New(db, blobs, compat.Declared)
		cfg.Index = idx
	}
	e.svc = repo.New(db, blobs, goQueue{e}, cfg)
	for _, u := range []struct {
		name string
		role zoo.Role
	}{{"alice", zoo.RoleContributor}, {"bob", zoo.RoleContributor}, {"rita", zoo.RoleReviewer}} {
		user, err := db.CreateUser(ctx, u.name, u.role)
		if err != nil {
			t.Fatal(err)
		}
		sec := web.NewToken()
		if _, err := db.CreateToken(ctx, user.ID, web.HashToken(sec)); err != nil {
			t.Fatal(err)
		}
		e.users[u.name], e.tokens[u.name] = user, sec
	}
	sess := session.New(db, session.Options{})
	popts := pages.Options{Service: e.svc, CSRF: sess, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CanRun: infer.Runnable,
		JSONLD: func(_ context.Context, v *zoo.Version, desc *spec.Model, base string) ([]byte, error) {
			return fair.JSONLD(fair.Record{Version: v, Desc: desc, Base: base})
		},
		Signposting: func(_ context.Context, v *zoo.Version, desc *spec.Model, base string) string {
			return fair.Signposting(fair.Record{Version: v, Desc: desc, Base: base})
		},
	}
	if idx != nil {
		popts.Search = idx
	}
	if pagesOptionsHook != nil { // browserrun_test.go
		pagesOptionsHook(&popts)
	}
	p, err := pages.New(popts)
	if err != nil {
		t.Fatal(err)
	}
	routes := append(p.Routes(), sess.Routes()...)
	if idx != nil {
		routes = append(routes, searchweb.Route(idx))
	}
	if extra != nil {
		routes = append(routes, extra(e)...)
	}
	h := web.New(e.svc, web.Options{Session: sess, Routes: routes, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		e.srv.Close()
		e.wg.Wait()
		db.Close()
	})
	return e
}

// zipFixture zips a fixture package folder, with its name changed when
// name is not empty (so that two uploads differ).
func zipFixture(t testing.TB, pkg, name string) []byte {
	t.Helper()
	root := fixtures.Path(t, "packages", pkg)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if (rel == "rdf.yaml" || rel == "bioimageio.yaml") && name != "" {
			b = renameYAML(b, name)
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// renameYAML replaces the top-level name: line of a description.
func renameYAML(b []byte, name string) []byte {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "name:") {
			lines[i] = "name: " + name
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// upload stores a package as user (draft or submitted).
func (e *testEnv) upload(user string, zipData []byte, opts repo.UploadOptions) *zoo.Version {
	e.t.Helper()
	v, err := e.svc.Upload(context.Background(), e.users[user], bytes.NewReader(zipData), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// waitTest waits until the version's test has a result.
func (e *testEnv) waitTest(id string, n int) *zoo.Version {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		v, err := e.svc.Catalog().Version(context.Background(), id, n)
		if err != nil {
			e.t.Fatal(err)
		}
		if v.TestStatus != zoo.TestPending {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("the test of %s/%d did not finish", id, n)
	return nil
}

// publish uploads a fixture as alice and has rita accept it once tested.
func (e *testEnv) publish(pkg, name string) *zoo.Version {
	e.t.Helper()
	v := e.upload("alice", zipFixture(e.t, pkg, name), repo.UploadOptions{})
	if tv := e.waitTest(v.ModelID, v.Number); tv.TestStatus != zoo.TestPassed {
		e.t.Fatalf("%s: test %s: %s", pkg, tv.TestStatus, tv.TestReport)
	}
	v, err := e.svc.Review(context.Background(), e.users["rita"], v.ModelID, v.Number, repo.Accept, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// get fetches a path as user ("" = anonymous), returning status and body.
func (e *testEnv) get(user, path string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if user != "" {
		req.AddCookie(e.login(user))
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// login logs user in through POST /login and returns the session cookie.
func (e *testEnv) login(user string) *http.Cookie {
	e.t.Helper()
	if c := e.cookies[user]; c != nil {
		return c
	}
	res, err := noRedirects.PostForm(e.srv.URL+"/login", url.Values{"token": {e.tokens[user]}, "next": {"/"}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == session.CookieName {
			e.cookies[user] = c
			return c
		}
	}
	e.t.Fatalf("login as %s: %s, no session cookie", user, res.Status)
	return nil
}
