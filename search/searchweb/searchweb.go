// Package searchweb serves the search index over HTTP: GET /api/v1/search
// (package search holds the index and the query parsing; it stays free of
// the web layer, which the storage backends' tests import).
package searchweb

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/web"
)

// Handler serves GET /api/v1/search: the Results of the query in the URL
// (see ParseQuery) as JSON. Anonymous callers may search; only published
// models are ever returned.
func Handler(idx search.Index) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RawQuery) > search.MaxRawQuery {
			web.Fail(w, r, zoo.E("search", zoo.Invalid, nil, "the query string is longer than %d bytes", search.MaxRawQuery))
			return
		}
		vals, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			web.Fail(w, r, zoo.E("search", zoo.Invalid, err, "the query string is not valid URL encoding"))
			return
		}
		q, err := search.ParseQuery(vals)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		res, err := idx.Search(r.Context(), q)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		web.WriteJSON(w, http.StatusOK, res)
	})
}

// Route is the route of Handler with its OpenAPI operation.
func Route(idx search.Index) web.Route {
	return web.Route{Pattern: "GET /api/v1/search", Auth: true, Handler: Handler(idx), Doc: openAPI}
}

var openAPI = json.RawMessage(`{
  "summary": "Search published models",
  "description": "Full-text search over name, description, tags, authors and documentation of the latest published version of every model (retired when none is published), ranked, with facet counts over the whole filtered result. Facet parameters accept repeated or comma-separated values: values of one facet are alternatives (OR), different facets must all match (AND). Operators and quotes in q are plain words; the last word of q matches as a prefix unless q ends with a space.",
  "operationId": "search",
  "tags": ["search"],
  "parameters": [
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 1024}, "description": "words; all must match"},
    {"name": "type", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": true},
    {"name": "tag", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": true},
    {"name": "license", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": true},
    {"name": "weight_format", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": true},
    {"name": "dims", "in": "query", "schema": {"type": "array", "items": {"type": "string", "enum": ["2d", "3d", "time"]}}, "style": "form", "explode": true},
    {"name": "test", "in": "query", "schema": {"type": "array", "items": {"type": "string", "enum": ["reproduces", "runs", "fails", "not-supported", "pending"]}}, "style": "form", "explode": true},
    {"name": "tool", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": true},
    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["relevance", "downloads", "date"], "default": "relevance"}, "description": "relevance without q sorts by date"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 100, "default": 20}, "description": "larger values are cut to 100"},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0}}
  ],
  "responses": {
    "200": {
      "description": "One page of hits, the total and the facet counts",
      "content": {"application/json": {"schema": {
        "type": "object", "required": ["total", "hits", "facets"],
        "properties": {
          "total": {"type": "integer"},
          "hits": {"type": "array", "items": {"type": "object", "required": ["id", "version", "name"], "properties": {
            "id": {"type": "string"}, "version": {"type": "integer"}, "type": {"type": "string"},
            "name": {"type": "string"}, "description": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "authors": {"type": "array", "items": {"type": "string"}},
            "license": {"type": "string"},
            "weight_formats": {"type": "array", "items": {"type": "string"}},
            "covers": {"type": "array", "items": {"type": "string"}, "description": "paths within the version: GET /files/{id}/{version}/{path}"},
            "test": {"type": "string"},
            "downloads": {"type": "integer"},
            "published_at": {"type": "string", "format": "date-time"},
            "score": {"type": "number"}
          }}},
          "facets": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "object", "properties": {
            "value": {"type": "string"}, "count": {"type": "integer"}}}}}
        }
      }}}
    },
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "500": {"$ref": "#/components/responses/Internal"},
    "503": {"$ref": "#/components/responses/Unavailable"}
  }
}`)
