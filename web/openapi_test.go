package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/repo"
)

type openAPIDocument struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components map[string]map[string]json.RawMessage `json:"components"`
}

var pathParam = regexp.MustCompile(`\{([a-z]+)(\.\.\.)?\}`)

// docPath turns a ServeMux pattern's path into the OpenAPI form
// ({path...} → {path}).
func docPath(pattern string) string {
	return pathParam.ReplaceAllString(pattern, "{$1}")
}

// concrete fills a path template with sample values.
func concrete(p string) string {
	return pathParam.ReplaceAllStringFunc(p, func(m string) string {
		switch strings.Trim(m, "{}.") {
		case "n":
			return "3"
		case "path":
			return "sub/dir/file.txt"
		}
		return "affable-shark"
	})
}

// TestOpenAPIMatchesRoutes walks the routes registered in the live mux and
// the operations of the served document: each must have the other.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, Options{}, repo.Config{})
	s := newServer(e.svc, Options{})

	r := e.get("", "/api/openapi.json")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, openAPIDoc) {
		t.Fatalf("GET /api/openapi.json: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	var doc openAPIDocument
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}

	// Routes → document. A route's method must be an operation of its path;
	// the mux must really answer the route's concrete form with it.
	documented := map[string]bool{}
	for _, rt := range s.routes() {
		method, p, _ := strings.Cut(rt.pattern, " ")
		dp := docPath(p)
		ops, ok := doc.Paths[dp]
		if !ok {
			t.Errorf("route %s: path %s is not in the OpenAPI document", rt.pattern, dp)
			continue
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("route %s: no %s operation for %s in the document", rt.pattern, method, dp)
		}
		req := httptest.NewRequest(method, concrete(p), nil)
		if _, got := s.mux.Handler(req); got != rt.pattern {
			t.Errorf("the mux answers %s %s with %q, not %q", method, req.URL.Path, got, rt.pattern)
		}
		documented[method+" "+dp] = true
	}

	// Document → routes: every operation is answered by a route of the same
	// path template (HEAD by the GET route, as ServeMux does).
	var ops []string
	for p, methods := range doc.Paths {
		for m := range methods {
			switch m {
			case "get", "head", "post", "put", "patch", "delete", "options", "trace":
			default:
				continue // parameters, summary, …
			}
			ops = append(ops, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(ops)
	for _, op := range ops {
		method, p, _ := strings.Cut(op, " ")
		req := httptest.NewRequest(method, concrete(p), nil)
		_, pattern := s.mux.Handler(req)
		if pattern == "" || pattern == "/" {
			t.Errorf("documented %s is not a route", op)
			continue
		}
		rm, rp, _ := strings.Cut(pattern, " ")
		if docPath(rp) != p || !(rm == method || rm == "GET" && method == "HEAD") {
			t.Errorf("documented %s is answered by route %q", op, pattern)
		}
		if method != "HEAD" && !documented[op] {
			t.Errorf("documented %s matched no route", op)
		}
	}
	if len(ops) < len(s.routes()) {
		t.Errorf("%d operations for %d routes", len(ops), len(s.routes()))
	}

	// Every internal $ref resolves.
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/([A-Za-z]+)/([A-Za-z]+)"`).FindAllStringSubmatch(string(openAPIDoc), -1)
	for _, m := range refs {
		if _, ok := doc.Components[m[1]][m[2]]; !ok {
			t.Errorf("unresolved $ref #/components/%s/%s", m[1], m[2])
		}
	}
	// The download counting rule is documented.
	if !bytes.Contains(openAPIDoc, []byte("silent=1")) || !bytes.Contains(openAPIDoc, []byte("Download counting")) {
		t.Error("the OpenAPI description does not state the download counting rule")
	}
}
