package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([A-Za-z_]+)(\.\.\.)?\}`)

// docPath turns a ServeMux pattern's path into the OpenAPI form
// ({path...} → {path}).
func docPath(pattern string) string {
	return pathParam.ReplaceAllString(pattern, "{$1}")
}

// openAPIDoc is the OpenAPI 3.0 description of the core routes
// (openapi.json, written by hand; TestOpenAPIMatchesRoutes keeps it and the
// mux in step). Options.Routes add their operations when served.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.openAPIDoc)
}

// mergeOpenAPI adds the operations of extra routes under /api/ to the core
// document. Every such route must have a Doc that is a JSON object, and no
// operation may be defined twice.
func mergeOpenAPI(core []byte, extra []Route) ([]byte, error) {
	var added bool
	var doc map[string]json.RawMessage
	var paths map[string]map[string]json.RawMessage
	for _, rt := range extra {
		method, p, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			return nil, fmt.Errorf("route %q has no method", rt.Pattern)
		}
		if !strings.HasPrefix(p, "/api/") {
			if rt.Doc != nil {
				return nil, fmt.Errorf("route %q is not under /api/ but has an OpenAPI operation", rt.Pattern)
			}
			continue
		}
		var op map[string]json.RawMessage
		if err := json.Unmarshal(rt.Doc, &op); err != nil || op == nil {
			return nil, fmt.Errorf("route %q is under /api/ and needs its OpenAPI operation object in Doc", rt.Pattern)
		}
		if doc == nil {
			if err := json.Unmarshal(core, &doc); err != nil {
				return nil, err
			}
			if err := json.Unmarshal(doc["paths"], &paths); err != nil {
				return nil, err
			}
		}
		dp := docPath(p)
		m := strings.ToLower(method)
		if paths[dp] == nil {
			paths[dp] = map[string]json.RawMessage{}
		}
		if _, dup := paths[dp][m]; dup {
			return nil, fmt.Errorf("route %q: the OpenAPI document already has %s %s", rt.Pattern, method, dp)
		}
		paths[dp][m] = rt.Doc
		added = true
	}
	if !added {
		return core, nil
	}
	b, err := json.Marshal(paths)
	if err != nil {
		return nil, err
	}
	doc["paths"] = b
	return json.MarshalIndent(doc, "", "  ")
}
