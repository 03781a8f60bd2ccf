package hub

import "encoding/json"

// OpenAPI operations of the root /api/models routes.
var (
	docList = json.RawMessage(`{
  "operationId": "hubListModels",
  "summary": "List models (Hugging Face Hub compatible)",
  "description": "The latest published version of every model in the Hugging Face Hub's list layout. Hub clients use HF_ENDPOINT=BASE/hf, where the same list and the file routes live.",
  "tags": ["hub"],
  "parameters": [
    {"name": "search", "in": "query", "schema": {"type": "string", "maxLength": 256}, "description": "substring of the id or name (case-insensitive)"},
    {"name": "author", "in": "query", "schema": {"type": "string"}, "description": "the owner's user name"},
    {"name": "filter", "in": "query", "schema": {"type": "string"}, "description": "tags (comma-separated or repeated) that must all be present"},
    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["id", "downloads", "lastModified", "createdAt", "likes", "trending"]}},
    {"name": "direction", "in": "query", "schema": {"type": "string", "enum": ["-1", "1"]}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    {"name": "full", "in": "query", "schema": {"type": "boolean"}, "description": "include siblings (files)"},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "from the Link rel=next header"}
  ],
  "responses": {
    "200": {"description": "models; a Link header (rel=next) points to the next page", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
    "400": {"$ref": "#/components/responses/BadRequest"}
  }
}`)
	docInfo = json.RawMessage(`{
  "operationId": "hubModelInfo",
  "summary": "Model info (Hugging Face Hub compatible)",
  "description": "The latest published version of a model in the Hub's model-info layout: sha (the commit id, first 40 hex digits of the package SHA-256), siblings with sizes and LFS info, tags, downloads.",
  "tags": ["hub"],
  "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
  "responses": {
    "200": {"description": "model info", "content": {"application/json": {"schema": {"type": "object"}}}},
    "404": {"$ref": "#/components/responses/NotFound"}
  }
}`)
	docInfoRev = json.RawMessage(`{
  "operationId": "hubModelInfoRevision",
  "summary": "Model info of a revision (Hugging Face Hub compatible)",
  "description": "As model info, for a revision: main (latest published), a version number N or vN, or a commit id.",
  "tags": ["hub"],
  "parameters": [
    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
    {"name": "rev", "in": "path", "required": true, "schema": {"type": "string"}}
  ],
  "responses": {
    "200": {"description": "model info", "content": {"application/json": {"schema": {"type": "object"}}}},
    "404": {"$ref": "#/components/responses/NotFound"}
  }
}`)
)
