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
	docTree = json.RawMessage(`{
  "operationId": "hubListTree",
  "summary": "Files and folders of a revision (Hugging Face Hub compatible)",
  "description": "The entries directly in the package's root, or every one below it with recursive=true, sorted by path: type (file or directory), oid, size, path and, for weights and large files, lfs {oid (the SHA-256), size, pointerSize}.",
  "tags": ["hub"],
  "parameters": [
    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
    {"name": "rev", "in": "path", "required": true, "schema": {"type": "string"}, "description": "main, a version number N or vN, or a commit id"},
    {"name": "recursive", "in": "query", "schema": {"type": "boolean"}}
  ],
  "responses": {
    "200": {"description": "tree entries", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
    "404": {"$ref": "#/components/responses/NotFound"}
  }
}`)
	docTreePath = json.RawMessage(`{
  "operationId": "hubListTreePath",
  "summary": "Files and folders below a folder of a revision (Hugging Face Hub compatible)",
  "tags": ["hub"],
  "parameters": [
    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
    {"name": "rev", "in": "path", "required": true, "schema": {"type": "string"}},
    {"name": "path", "in": "path", "required": true, "schema": {"type": "string"}, "description": "a folder of the package; may contain slashes"},
    {"name": "recursive", "in": "query", "schema": {"type": "boolean"}}
  ],
  "responses": {
    "200": {"description": "tree entries", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
    "404": {"$ref": "#/components/responses/NotFound"}
  }
}`)
	docPathsInfo = json.RawMessage(`{
  "operationId": "hubPathsInfo",
  "summary": "Information on given paths of a revision (Hugging Face Hub compatible)",
  "description": "For each requested path that is a file or a folder of the revision, its entry as in the tree listing; with expand, lastCommit {id (the revision's commit id), title, date}. Paths found nowhere are left out. At most 1000 paths of at most 1024 bytes; the body at most 1 MiB.",
  "tags": ["hub"],
  "parameters": [
    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
    {"name": "rev", "in": "path", "required": true, "schema": {"type": "string"}}
  ],
  "requestBody": {"required": true, "content": {
    "application/json": {"schema": {"type": "object", "properties": {"paths": {"type": "array", "items": {"type": "string"}}, "expand": {"type": "boolean"}}}},
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"paths": {"type": "array", "items": {"type": "string"}}, "expand": {"type": "boolean"}}}}
  }},
  "responses": {
    "200": {"description": "path entries", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
    "400": {"$ref": "#/components/responses/BadRequest"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "413": {"$ref": "#/components/responses/TooLarge"}
  }
}`)
)
