package platform

// OpenAPI operations of the API routes (merged into /api/openapi.json).
const (
	errs     = `"401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}, "500": {"$ref": "#/components/responses/Internal"}, "503": {"$ref": "#/components/responses/Unavailable"}`
	slugP    = `{"name": "slug", "in": "path", "required": true, "schema": {"type": "string"}, "description": "the challenge's slug"}`
	phaseP   = `{"name": "phase", "in": "path", "required": true, "schema": {"type": "string"}, "description": "a phase of the challenge"}`
	jsonResp = `"content": {"application/json": {"schema": {"type": "object"}}}`
)

const docList = `{"tags": ["challenges"], "operationId": "listChallenges", "summary": "Every challenge (hidden files listed by name only)",
 "responses": {"200": {"description": "{\"challenges\": [...]}", ` + jsonResp + `}, ` + errs + `}}`

const docCreate = `{"tags": ["challenges"], "operationId": "createChallenge", "summary": "Create a challenge (reviewers and admins)",
 "description": "multipart/form-data: a part \"challenge\" holding the challenge as JSON (slug, title, description in markdown, organisers, leaderboard public|hidden, metrics [{name, threshold, data_range}], ranking metric|mean-rank, phases [{name, opens_at, closes_at, per_day, total}]) and one part per file named public, input or truth, its filename the file's name. Hidden inputs and truths pair by name without extension.",
 "security": [{"bearer": []}],
 "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object"}}}},
 "responses": {"201": {"description": "The challenge", ` + jsonResp + `}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}, "409": {"$ref": "#/components/responses/Conflict"}, "413": {"$ref": "#/components/responses/TooLarge"}, ` + errs + `}}`

const docGet = `{"tags": ["challenges"], "operationId": "getChallenge", "summary": "One challenge", "parameters": [` + slugP + `],
 "responses": {"200": {"description": "The challenge", ` + jsonResp + `}, ` + errs + `}}`

const docFile = `{"tags": ["challenges"], "operationId": "getChallengeFile", "summary": "A public file or test input of a challenge (ground truths are never served: 404)",
 "parameters": [` + slugP + `, {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
 "responses": {"200": {"$ref": "#/components/responses/Blob"}, ` + errs + `}}`

const docSubmit = `{"tags": ["challenges"], "operationId": "submitToChallenge", "summary": "Submit predictions (a zip of files named like the test inputs, .npy or .tif) or a published model",
 "description": "An invalid zip (missing or extra files, wrong shapes, NaN or infinity, unreadable files, unsafe entries) is refused with 400 naming the file and why, and does not count against the limits. Over the limit per day or in total: 409.",
 "security": [{"bearer": []}], "parameters": [` + slugP + `, ` + phaseP + `],
 "requestBody": {"required": true, "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}, "application/json": {"schema": {"type": "object", "properties": {"model": {"type": "string", "example": "affable-shark/1"}}}}}},
 "responses": {"202": {"description": "The submission, queued for scoring", ` + jsonResp + `}, "400": {"$ref": "#/components/responses/BadRequest"}, "409": {"$ref": "#/components/responses/Conflict"}, "413": {"$ref": "#/components/responses/TooLarge"}, ` + errs + `}}`

const docSubmissions = `{"tags": ["challenges"], "operationId": "listChallengeSubmissions", "summary": "The caller's submissions (organisers: everyone's); scores hidden while the leaderboard is",
 "security": [{"bearer": []}], "parameters": [` + slugP + `],
 "responses": {"200": {"description": "{\"submissions\": [...]}", ` + jsonResp + `}, ` + errs + `}}`

const docSubmission = `{"tags": ["challenges"], "operationId": "getChallengeSubmission", "summary": "One submission with its per-image scores", "description": "withdrawn_at is set once its submitter withdrew it; disqualified ({reason, by, at}) while organisers have disqualified it. Neither is ranked; others than the submitter and the organisers then get 404.",
 "parameters": [` + slugP + `, {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
 "responses": {"200": {"description": "The submission", ` + jsonResp + `}, ` + errs + `}}`

const docLeaderboard = `{"tags": ["challenges"], "operationId": "getLeaderboard", "summary": "The ranked leaderboard of a phase (JSON export)",
 "description": "Each participant's best scored submission, ranked by the challenge's rule; equal scores share a rank (1224 competition ranking). A hidden leaderboard is 403 for everyone but the organisers until the phase closes.",
 "parameters": [` + slugP + `, ` + phaseP + `],
 "responses": {"200": {"description": "The leaderboard", ` + jsonResp + `}, "403": {"$ref": "#/components/responses/Forbidden"}, ` + errs + `}}`

const docLeaderboardCSV = `{"tags": ["challenges"], "operationId": "getLeaderboardCSV", "summary": "The leaderboard of a phase as CSV",
 "parameters": [` + slugP + `, ` + phaseP + `],
 "responses": {"200": {"description": "CSV: rank, user, submission, kind, model, created_at, mean_rank, then each metric and its rank", "content": {"text/csv": {"schema": {"type": "string"}}}}, "403": {"$ref": "#/components/responses/Forbidden"}, ` + errs + `}}`

const idP = `{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}, "description": "the submission's id"}`

const docPatch = `{"tags": ["challenges"], "operationId": "updateChallenge", "summary": "Edit a challenge (its creator, named organisers and admins)",
 "description": "JSON merge-patch: only the fields sent change. title, description (markdown), metrics (replaces the list; 409 once the challenge has any submission) and phases [{name, opens_at, closes_at, per_day, total}] matched by name, only the given fields changing. A phase must close after it opens; limits are at least 1. Lowering a limit keeps the submissions already made and only refuses new ones. Files (public data, test inputs, ground truth) cannot be changed: unknown fields are 400. Every edit is recorded (who, when, which fields) in the challenge's changes, shown to organisers.",
 "security": [{"bearer": []}], "parameters": [` + slugP + `],
 "requestBody": {"required": true, "content": {"application/merge-patch+json": {"schema": {"type": "object", "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "metrics": {"type": "array", "items": {"type": "object"}}, "phases": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "opens_at": {"type": "string", "format": "date-time"}, "closes_at": {"type": "string", "format": "date-time"}, "per_day": {"type": "integer", "minimum": 1}, "total": {"type": "integer", "minimum": 1}}, "required": ["name"]}}}, "additionalProperties": false}}}},
 "responses": {"200": {"description": "The challenge with its changes", ` + jsonResp + `}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}, "409": {"$ref": "#/components/responses/Conflict"}, "413": {"$ref": "#/components/responses/TooLarge"}, ` + errs + `}}`

const docWithdraw = `{"tags": ["challenges"], "operationId": "withdrawChallengeSubmission", "summary": "Withdraw one of your submissions while its phase is open",
 "description": "The submission is kept for the record, marked withdrawn and never ranked. Its slot is not given back: it still counts against the phase's limits. After the phase has closed, or withdrawn already: 409. Only the submitter may withdraw (organisers disqualify).",
 "security": [{"bearer": []}], "parameters": [` + slugP + `, ` + idP + `],
 "responses": {"200": {"description": "The withdrawn submission", ` + jsonResp + `}, "403": {"$ref": "#/components/responses/Forbidden"}, "409": {"$ref": "#/components/responses/Conflict"}, ` + errs + `}}`

const docDisqualify = `{"tags": ["challenges"], "operationId": "disqualifyChallengeSubmission", "summary": "Disqualify a submission (organisers): it leaves the leaderboards and exports; its submitter sees the reason",
 "security": [{"bearer": []}], "parameters": [` + slugP + `, ` + idP + `],
 "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}, "required": ["reason"], "additionalProperties": false}}}},
 "responses": {"200": {"description": "The disqualified submission", ` + jsonResp + `}, "400": {"$ref": "#/components/responses/BadRequest"}, "403": {"$ref": "#/components/responses/Forbidden"}, "413": {"$ref": "#/components/responses/TooLarge"}, ` + errs + `}}`

const docReinstate = `{"tags": ["challenges"], "operationId": "reinstateChallengeSubmission", "summary": "Undo a disqualification (organisers); not disqualified: 409",
 "security": [{"bearer": []}], "parameters": [` + slugP + `, ` + idP + `],
 "responses": {"200": {"description": "The reinstated submission", ` + jsonResp + `}, "403": {"$ref": "#/components/responses/Forbidden"}, "409": {"$ref": "#/components/responses/Conflict"}, ` + errs + `}}`
