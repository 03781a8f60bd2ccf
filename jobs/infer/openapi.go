package infer

import "encoding/json"

// The OpenAPI operations of the job routes.

const jobSchema = `{"type": "object", "required": ["id", "model", "version", "state", "progress", "message", "created_at", "expires_at", "result_formats"], "properties": {
  "id": {"type": "string", "description": "32 hexadecimal digits; whoever knows it may read and cancel the job"},
  "model": {"type": "string"}, "version": {"type": "integer"},
  "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled", "expired"]},
  "progress": {"type": "object", "properties": {"done": {"type": "integer", "description": "tiles done"}, "total": {"type": "integer", "description": "tiles in all (0 until the tiling is planned)"}, "fraction": {"type": "number"}}},
  "message": {"type": "string", "description": "what the job is doing, for people"},
  "error": {"type": "string", "description": "why a failed job failed"},
  "created_at": {"type": "string", "format": "date-time"},
  "expires_at": {"type": "string", "format": "date-time", "description": "when the job, its image and its result are deleted"},
  "finished_at": {"type": "string", "format": "date-time"},
  "result_formats": {"type": "array", "items": {"type": "string", "enum": ["tif", "npy"]}, "description": "formats of the result download (empty until succeeded)"},
  "links": {"type": "object", "additionalProperties": {"type": "string"}}}}`

const idParam = `{"name": "id", "in": "path", "required": true, "description": "the job id", "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}`

var docSubmit = json.RawMessage(`{
  "tags": ["jobs"], "operationId": "submitJob", "summary": "Run a published model on an image, asynchronously",
  "description": "The body is the image: TIFF, PNG or NumPy .npy, recognised by its first bytes (a Content-Type naming another image format is refused). Its axes are mapped to the model input's as zoo predict does (TIFF axes from its metadata, PNG y x [c], .npy by dimension count); ` + "`axes`" + ` names them instead. The image is checked against the model at once; large images are tiled. Anyone may submit (anonymously too); the answer's id is the only key to the job. The job and its result are kept for 24 hours by default. When too many jobs wait or run, the submission is refused with 429 and Retry-After.",
  "parameters": [
    {"name": "model", "in": "query", "required": true, "description": "ID (latest published version) or ID/N; only published versions run", "schema": {"type": "string"}},
    {"name": "axes", "in": "query", "description": "the image's axes, one letter each among b c t i z y x (e.g. yx, cyx)", "schema": {"type": "string"}}
  ],
  "requestBody": {"required": true, "content": {"image/tiff": {"schema": {"type": "string", "format": "binary"}}, "image/png": {"schema": {"type": "string", "format": "binary"}}, "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
  "responses": {
    "202": {"description": "The job, queued", "headers": {"Location": {"description": "its API URL", "schema": {"type": "string"}}}, "content": {"application/json": {"schema": ` + jobSchema + `}}},
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "413": {"$ref": "#/components/responses/TooLarge"},
    "429": {"description": "Too many jobs wait or run: try again after Retry-After seconds (problem type urn:zoo:problem:busy)", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/problem+json": {"schema": {"type": "object"}}}},
    "500": {"$ref": "#/components/responses/Internal"},
    "501": {"$ref": "#/components/responses/NotSupported"},
    "503": {"$ref": "#/components/responses/Unavailable"}
  }
}`)

var docGet = json.RawMessage(`{
  "tags": ["jobs"], "operationId": "getJob", "summary": "A job's state and progress",
  "description": "Any replica answers: the state and progress are stored. Poll it every few seconds.",
  "parameters": [` + idParam + `],
  "responses": {
    "200": {"description": "The job", "content": {"application/json": {"schema": ` + jobSchema + `}}},
    "404": {"$ref": "#/components/responses/NotFound"},
    "500": {"$ref": "#/components/responses/Internal"}
  }
}`)

var docCancel = json.RawMessage(`{
  "tags": ["jobs"], "operationId": "cancelJob", "summary": "Cancel a job",
  "description": "A queued job does not run; a running one stops at its next tile. A finished job is returned unchanged.",
  "parameters": [` + idParam + `],
  "responses": {
    "200": {"description": "The job after the cancel", "content": {"application/json": {"schema": ` + jobSchema + `}}},
    "404": {"$ref": "#/components/responses/NotFound"},
    "500": {"$ref": "#/components/responses/Internal"}
  }
}`)

var docResult = json.RawMessage(`{
  "tags": ["jobs"], "operationId": "getJobResult", "summary": "Download a job's result",
  "description": "The model's output: ` + "`tif`" + ` (ImageJ axes; the default) or ` + "`npy`" + ` (the model's axis order). 409 until the job has succeeded.",
  "parameters": [` + idParam + `, {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["tif", "npy"]}}, {"name": "name", "in": "query", "description": "the submitted file's name: the download is then named NAME_prediction.tif (its extension dropped, characters other than letters, digits, '.', '-', '_' replaced)", "schema": {"type": "string", "maxLength": 255}}],
  "responses": {
    "200": {"description": "The result", "content": {"image/tiff": {"schema": {"type": "string", "format": "binary"}}, "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
    "400": {"$ref": "#/components/responses/BadRequest"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "409": {"$ref": "#/components/responses/Conflict"},
    "500": {"$ref": "#/components/responses/Internal"}
  }
}`)

var docPreview = json.RawMessage(`{
  "tags": ["jobs"], "operationId": "getJobPreview", "summary": "A PNG preview of a job's image or result",
  "description": "` + "`input.png`" + ` or ` + "`output.png`" + ` (409 until succeeded): an 8-bit rendering with the ` + "`low`" + ` and ` + "`high`" + ` percentiles as black and white (default 0.5 and 99.5), of one plane (batch 0, the middle slice of other axes), at most ` + "`size`" + ` pixels on its longer side; ` + "`channel`" + ` (1-based) picks a channel.",
  "parameters": [` + idParam + `, {"name": "which", "in": "path", "required": true, "schema": {"type": "string", "enum": ["input.png", "output.png"]}},
    {"name": "low", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 100}},
    {"name": "high", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 100}},
    {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 4096}},
    {"name": "channel", "in": "query", "schema": {"type": "integer", "minimum": 1}}],
  "responses": {
    "200": {"description": "The preview", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
    "400": {"$ref": "#/components/responses/BadRequest"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "409": {"$ref": "#/components/responses/Conflict"},
    "500": {"$ref": "#/components/responses/Internal"}
  }
}`)
