package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
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

// concrete fills a path template with sample values.
func concrete(p string) string {
	return pathParam.ReplaceAllStringFunc(p, func(m string) string {
		switch strings.Trim(m, "{}.") {
		case "n":
			return "3"
		case "path":
			return "sub/dir/file.txt"
		case "file":
			return "rdf.yaml"
		}
		return "affable-shark"
	})
}

// TestOpenAPIMatchesRoutes walks the routes registered in the live mux and
// the operations of the served document: each must have the other.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Run("core", func(t *testing.T) { checkOpenAPI(t, Options{}) })
	t.Run("with extra routes", func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		checkOpenAPI(t, Options{Routes: []Route{
			{Pattern: "GET /api/v1/things/{id}", Handler: h, Doc: json.RawMessage(`{"summary": "a thing", "responses": {"200": {"description": "the thing"}}}`)},
			{Pattern: "GET /elsewhere", Handler: h},
		}})
	})
}

func TestOpenAPIRefusesUndocumentedAPIRoutes(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, rt := range []Route{
		{Pattern: "GET /api/v1/undocumented", Handler: h},
		{Pattern: "GET /api/v1/models", Handler: h, Doc: json.RawMessage(`{"summary": "again"}`)},
		{Pattern: "GET /page", Handler: h, Doc: json.RawMessage(`{"summary": "not an API"}`)},
	} {
		if _, err := mergeOpenAPI(openAPIDoc, []Route{rt}); err == nil {
			t.Errorf("%s: merged without error", rt.Pattern)
		}
	}
}

func checkOpenAPI(t *testing.T, opts Options) {
	e := newEnv(t, opts, repo.Config{})
	s := newServer(e.svc, opts)

	r := e.get("", "/api/openapi.json")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, s.openAPIDoc) {
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
	for _, rt := range s.allRoutes() {
		method, p, _ := strings.Cut(rt.pattern, " ")
		if !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/files/") && !strings.HasPrefix(p, "/packages/") && !slices.Contains([]string{"/healthz", "/readyz"}, p) {
			continue // pages and other protocols are not part of the JSON API
		}
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
		t.Errorf("%d operations for %d core routes", len(ops), len(s.routes()))
	}

	// Every internal $ref resolves.
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/([A-Za-z]+)/([A-Za-z]+)"`).FindAllStringSubmatch(string(s.openAPIDoc), -1)
	for _, m := range refs {
		if _, ok := doc.Components[m[1]][m[2]]; !ok {
			t.Errorf("unresolved $ref #/components/%s/%s", m[1], m[2])
		}
	}
	// The download counting rule is documented.
	if !bytes.Contains(s.openAPIDoc, []byte("silent=1")) || !bytes.Contains(s.openAPIDoc, []byte("Download counting")) {
		t.Error("the OpenAPI description does not state the download counting rule")
	}
}
