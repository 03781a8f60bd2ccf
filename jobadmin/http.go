package jobadmin

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/web"
)

// Routes are the admin-only job API's routes (mounted through
// web.Options.Routes): anonymous callers get 401, signed-in users who are
// not admins 403.
//
//	GET  /api/v1/admin/jobs?state=S&kind=K&limit=N     jobs, newest first
//	POST /api/v1/admin/jobs/{job}/retry                 run a job again now
//	POST /api/v1/admin/jobs/{job}/cancel                cancel a job
//	POST /api/v1/admin/models/{id}/versions/{n}/retest  queue a version's test again
//	GET  /api/v1/admin/check                            versions with missing blobs or stuck tests
func (t *Tools) Routes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/jobs", Auth: true, Handler: t.admin(t.serveList), Doc: docList},
		{Pattern: "POST /api/v1/admin/jobs/{job}/retry", Auth: true, Handler: t.admin(t.serveRetry), Doc: docRetry},
		{Pattern: "POST /api/v1/admin/jobs/{job}/cancel", Auth: true, Handler: t.admin(t.serveCancel), Doc: docCancel},
		{Pattern: "POST /api/v1/admin/models/{id}/versions/{n}/retest", Auth: true, Handler: t.admin(t.serveRetest), Doc: docRetest},
		{Pattern: "GET /api/v1/admin/check", Auth: true, Handler: t.admin(t.serveCheck), Doc: docCheck},
	}
}

// admin lets only admins through.
func (t *Tools) admin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := web.UserOf(r)
		switch {
		case u == nil:
			web.Fail(w, r, zoo.E("jobadmin", zoo.Unauthorized, nil, "the job tools need an admin's token (Authorization: Bearer TOKEN)"))
		case u.Role != zoo.RoleAdmin:
			web.Fail(w, r, zoo.E("jobadmin", zoo.Forbidden, nil, "the job tools are for admins; %s is a %s", u.Name, u.Role))
		default:
			w.Header().Set("Cache-Control", "no-store")
			h(w, r)
		}
	})
}

// ListAnswer is the answer of GET /api/v1/admin/jobs.
type ListAnswer struct {
	Jobs []Job `json:"jobs"`
}

func (t *Tools) serveList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{State: q.Get("state"), Kind: q.Get("kind")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxList {
			web.Fail(w, r, zoo.E("jobadmin", zoo.Invalid, nil, "limit=%q: give a whole number from 1 to %d", s, MaxList))
			return
		}
		f.Limit = n
	}
	jobs, err := t.List(r.Context(), f)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, ListAnswer{Jobs: jobs})
}

func jobID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	s := r.PathValue("job")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		web.Fail(w, r, zoo.E("jobadmin", zoo.Invalid, nil, "%q is not a job id (a positive whole number, as zoo jobs list shows)", s))
		return 0, false
	}
	return id, true
}

func (t *Tools) serveRetry(w http.ResponseWriter, r *http.Request) {
	if id, ok := jobID(w, r); ok {
		answer(w, r)(t.Retry(r.Context(), id))
	}
}

func (t *Tools) serveCancel(w http.ResponseWriter, r *http.Request) {
	if id, ok := jobID(w, r); ok {
		answer(w, r)(t.Cancel(r.Context(), id))
	}
}

func (t *Tools) serveRetest(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		web.Fail(w, r, zoo.E("jobadmin", zoo.Invalid, nil, "%q is not a version number", r.PathValue("n")))
		return
	}
	id := r.PathValue("id")
	if len(id) > 200 {
		web.Fail(w, r, zoo.E("jobadmin", zoo.Invalid, nil, "the model id is longer than 200 characters"))
		return
	}
	j, err := t.Retest(r.Context(), id, n)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusAccepted, j)
}

func (t *Tools) serveCheck(w http.ResponseWriter, r *http.Request) {
	rep, err := t.Check(r.Context())
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, rep)
}

func answer(w http.ResponseWriter, r *http.Request) func(*Job, error) {
	return func(j *Job, err error) {
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		web.WriteJSON(w, http.StatusOK, j)
	}
}

const jobSchema = `{"type": "object", "properties": {
  "id": {"type": "integer"}, "kind": {"type": "string"}, "queue": {"type": "string"}, "state": {"type": "string", "enum": ["available", "scheduled", "pending", "running", "retryable", "completed", "cancelled", "discarded"]},
  "args": {"type": "object"}, "attempt": {"type": "integer"}, "max_attempts": {"type": "integer"}, "errors": {"type": "array", "items": {"type": "string"}},
  "created_at": {"type": "string", "format": "date-time"}, "scheduled_at": {"type": "string", "format": "date-time"}, "finalized_at": {"type": "string", "format": "date-time"},
  "rescues": {"type": "integer"}, "age_seconds": {"type": "integer"}, "last_error": {"type": "string"}, "version": {"type": "string", "description": "ID/N of the version the job is about"}}}`

const adminErrors = `"400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "500": {"$ref": "#/components/responses/Internal"}, "503": {"$ref": "#/components/responses/Unavailable"}`

const jobParam = `{"name": "job", "in": "path", "required": true, "description": "the job's id (zoo jobs list)", "schema": {"type": "integer", "minimum": 1}}`

var docList = json.RawMessage(`{
  "tags": ["admin"], "operationId": "adminListJobs", "summary": "Background jobs, newest first (admins)",
  "description": "Every kind of background job (test-version, infer, convert-version, challenge-eval, mint-doi) with its state, attempts, age and last error. zoo jobs list calls it.",
  "parameters": [
    {"name": "state", "in": "query", "description": "one state, or unfinished", "schema": {"type": "string"}},
    {"name": "kind", "in": "query", "description": "one job kind", "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "description": "at most this many (default 100, at most 1000)", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
  ],
  "responses": {"200": {"description": "The jobs", "content": {"application/json": {"schema": {"type": "object", "properties": {"jobs": {"type": "array", "items": ` + jobSchema + `}}}}}}, ` + adminErrors + `}
}`)

var docRetry = json.RawMessage(`{
  "tags": ["admin"], "operationId": "adminRetryJob", "summary": "Run a job again now (admins)",
  "description": "A waiting, failed, discarded or cancelled job becomes available at once (with one more attempt if it had used them all); a running job is left alone.",
  "parameters": [` + jobParam + `],
  "responses": {"200": {"description": "The job", "content": {"application/json": {"schema": ` + jobSchema + `}}}, "404": {"$ref": "#/components/responses/NotFound"}, ` + adminErrors + `}
}`)

var docCancel = json.RawMessage(`{
  "tags": ["admin"], "operationId": "adminCancelJob", "summary": "Cancel a job (admins)",
  "description": "A job that has not finished will not run (again); a running one is asked to stop.",
  "parameters": [` + jobParam + `],
  "responses": {"200": {"description": "The job", "content": {"application/json": {"schema": ` + jobSchema + `}}}, "404": {"$ref": "#/components/responses/NotFound"}, ` + adminErrors + `}
}`)

var docRetest = json.RawMessage(`{
  "tags": ["admin"], "operationId": "adminRetestVersion", "summary": "Run a version's test again (admins)",
  "description": "Queues the reproducibility test of the version (its conversion first, when it waits for one). The stored report is replaced when the test has run.",
  "parameters": [{"$ref": "#/components/parameters/id"}, {"$ref": "#/components/parameters/n"}],
  "responses": {"202": {"description": "The queued job", "content": {"application/json": {"schema": ` + jobSchema + `}}}, "404": {"$ref": "#/components/responses/NotFound"}, ` + adminErrors + `}
}`)

var docCheck = json.RawMessage(`{
  "tags": ["admin"], "operationId": "adminCheck", "summary": "Versions with missing blobs or stuck tests (admins)",
  "description": "Lists every version whose blobs are missing from the blob store, and every version whose test is pending (or conversion waiting) with no job that will finish it, or with a job unfinished for more than 2 hours. Each problem says what to do.",
  "responses": {"200": {"description": "What was found", "content": {"application/json": {"schema": {"type": "object", "properties": {
    "versions": {"type": "integer"}, "blobs": {"type": "integer"}, "jobs": {"type": "integer"},
    "problems": {"type": "array", "items": {"type": "object", "properties": {"version": {"type": "string"}, "state": {"type": "string"}, "problem": {"type": "string", "enum": ["missing-blobs", "test-stuck", "conversion-stuck"]}, "detail": {"type": "string"}, "missing": {"type": "array", "items": {"type": "string"}}, "job": {"type": "integer"}, "fix": {"type": "string"}}}}}}}}}, ` + adminErrors + `}
}`)
