package ftserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/metrics"
	"github.com/zoo-bioimage/zoo/web"
)

// View is a job as the API shows it.
type View struct {
	ID         string             `json:"id"`
	Model      string             `json:"model"`
	Version    int                `json:"version"`
	Parent     string             `json:"parent"` // ID/N
	Settings   Settings           `json:"settings"`
	Target     string             `json:"target,omitempty"`
	State      State              `json:"state"`
	Iteration  int                `json:"iteration"`
	Iterations int                `json:"iterations"`
	Fraction   float64            `json:"fraction"`
	Losses     []float64          `json:"losses"`
	Metric     string             `json:"metric,omitempty"`
	Before     map[string]float64 `json:"before,omitempty"`
	After      map[string]float64 `json:"after,omitempty"`
	Message    string             `json:"message"`
	Error      string             `json:"error,omitempty"`
	// CheckpointIteration is the iteration of the stored checkpoint a
	// new run resumes from (0: none yet).
	CheckpointIteration int    `json:"checkpoint_iteration"`
	Resumed             []int  `json:"resumed,omitempty"`
	Runs                int    `json:"runs"`
	Draft               *Ref   `json:"draft,omitempty"`
	Dataset             *Ref   `json:"dataset,omitempty"`
	PublishData         bool   `json:"publish_data"`
	Keep                bool   `json:"keep"`
	DataDeleted         bool   `json:"data_deleted"`
	Retention           string `json:"retention"`
	// DataDeletedAt is when the data is deleted (absent when kept).
	DataDeletedAt *time.Time        `json:"data_deleted_at,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	FinishedAt    *time.Time        `json:"finished_at,omitempty"`
	Links         map[string]string `json:"links"`
}

// Ref names a version the job made.
type Ref struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	API     string `json:"api"`
	Package string `json:"package"`
}

func ref(id string, n int) *Ref {
	if id == "" {
		return nil
	}
	return &Ref{ID: id, Version: n, API: fmt.Sprintf("/api/v1/models/%s/versions/%d", id, n), Package: fmt.Sprintf("/packages/%s/%d", id, n)}
}

// ViewOf is the API view of j.
func (s *Service) ViewOf(j *Job) View {
	v := View{ID: j.ID, Model: j.Model, Version: j.Version, Parent: fmt.Sprintf("%s/%d", j.Model, j.Version),
		Settings: j.Settings, Target: j.Target, State: j.State, Iteration: j.Iteration, Iterations: j.Settings.Iterations,
		Losses: j.Losses, Metric: j.Metric, Before: j.Before, After: j.After, Message: j.Message, Error: j.Error,
		CheckpointIteration: j.CheckpointIteration, Resumed: j.Resumed, Runs: j.Runs,
		Draft: ref(j.DraftModel, j.DraftVersion), Dataset: ref(j.DatasetModel, j.DatasetVersion),
		PublishData: j.PublishData, Keep: j.Keep, DataDeleted: j.DataDeleted, Retention: s.Retention(),
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
	if v.Losses == nil {
		v.Losses = []float64{}
	}
	if j.Settings.Iterations > 0 {
		v.Fraction = float64(j.Iteration) / float64(j.Settings.Iterations)
	}
	if !j.Keep && !j.DataDeleted {
		t := j.ExpiresAt
		v.DataDeletedAt = &t
	}
	if !j.FinishedAt.IsZero() {
		t := j.FinishedAt
		v.FinishedAt = &t
	}
	base := "/api/v1/finetune/" + j.ID
	v.Links = map[string]string{"self": base, "cancel": base + "/cancel", "keep": base + "/keep"}
	return v
}

// Routes are the API's routes under /api/v1/finetune.
func (s *Service) Routes() []web.Route {
	return []web.Route{
		{Pattern: "POST /api/v1/finetune", Auth: true, Handler: http.HandlerFunc(s.serveSubmit), Doc: docSubmit},
		{Pattern: "GET /api/v1/finetune", Auth: true, Handler: http.HandlerFunc(s.serveList), Doc: docList},
		{Pattern: "GET /api/v1/finetune/{id}", Auth: true, Handler: http.HandlerFunc(s.serveGet), Doc: docGet},
		{Pattern: "POST /api/v1/finetune/{id}/cancel", Auth: true, Handler: http.HandlerFunc(s.serveCancel), Doc: docCancel},
		{Pattern: "POST /api/v1/finetune/{id}/keep", Auth: true, Handler: http.HandlerFunc(s.serveKeep), Doc: docKeep},
	}
}

// ParseSubmission reads a submission's settings from query (or form)
// values; the model is "ID" or "ID/N".
func ParseSubmission(get func(string) string) (Submission, error) {
	const op = "ftjob"
	var sub Submission
	model := strings.TrimSpace(get("model"))
	id, n, hasN := strings.Cut(model, "/")
	sub.Model = id
	if id == "" {
		return sub, zoo.E(op, zoo.Invalid, nil, "name the model to fine-tune: model=ID or ID/N")
	}
	if hasN {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return sub, zoo.E(op, zoo.Invalid, nil, "model=%q: the version after / is a whole number from 1", model)
		}
		sub.Version = v
	}
	num := func(name string, dst *int) error {
		if v := get(name); v != "" {
			x, err := strconv.Atoi(v)
			if err != nil || x < 1 {
				return zoo.E(op, zoo.Invalid, nil, "%s=%q: give a whole number from 1", name, v)
			}
			*dst = x
		}
		return nil
	}
	for name, dst := range map[string]*int{"iterations": &sub.Settings.Iterations, "patch": &sub.Settings.Patch, "batch": &sub.Settings.Batch} {
		if err := num(name, dst); err != nil {
			return sub, err
		}
	}
	if v := get("lr"); v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !(x > 0 && x <= 1) {
			return sub, zoo.E(op, zoo.Invalid, nil, "lr=%q: give a learning rate between 0 and 1, e.g. 0.0001", v)
		}
		sub.Settings.LR = x
	}
	if v := get("seed"); v != "" {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return sub, zoo.E(op, zoo.Invalid, nil, "seed=%q: give a whole number", v)
		}
		sub.Settings.Seed = x
	}
	switch t := get("task"); t {
	case "", "denoise", "segment":
		sub.Settings.Task = t
	default:
		return sub, zoo.E(op, zoo.Invalid, nil, "task=%q: use denoise or segment", t)
	}
	sub.Target = strings.TrimSpace(get("target"))
	switch v := get("publish_data"); v {
	case "", "false", "0", "no":
	case "true", "1", "yes", "on":
		sub.PublishData = true
	default:
		return sub, zoo.E(op, zoo.Invalid, nil, "publish_data=%q: use true or false", v)
	}
	return sub, nil
}

func (s *Service) serveSubmit(w http.ResponseWriter, r *http.Request) {
	const op = "ftjob.Submit"
	u := web.UserOf(r)
	if u == nil {
		web.Fail(w, r, zoo.E(op, zoo.Unauthorized, nil, "sign in to fine-tune a model"))
		return
	}
	sub, err := ParseSubmission(r.URL.Query().Get)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	if r.ContentLength > s.o.MaxUploadBytes {
		web.Fail(w, r, zoo.E(op, zoo.TooLarge, nil, "the zip is %d MiB; a fine-tuning job takes at most %d MiB", r.ContentLength>>20, s.o.MaxUploadBytes>>20))
		return
	}
	f, err := os.CreateTemp(s.o.TempDir, "zoo-finetune-upload-*.zip")
	if err != nil {
		web.Fail(w, r, zoo.E(op, zoo.Internal, err, "cannot store the upload"))
		return
	}
	defer os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(r.Body, s.o.MaxUploadBytes+1))
	f.Close()
	switch {
	case err != nil:
		web.Fail(w, r, zoo.E(op, zoo.Invalid, err, "the upload was interrupted; send the zip again"))
		return
	case n > s.o.MaxUploadBytes:
		web.Fail(w, r, zoo.E(op, zoo.TooLarge, nil, "the zip is larger than %d MiB, the most a fine-tuning job takes", s.o.MaxUploadBytes>>20))
		return
	}
	j, err := s.Submit(r.Context(), u, sub, f.Name())
	if errors.Is(err, ErrTooMany) {
		metrics.Refuse(r.Context(), s.o.Logger, "finetune_per_user", http.StatusTooManyRequests, "user", u.Name)
		h := w.Header()
		h.Set("Content-Type", "application/problem+json")
		h.Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		json.NewEncoder(w).Encode(map[string]any{"type": "urn:zoo:problem:busy", "title": "Too many fine-tuning jobs", "status": http.StatusTooManyRequests, "detail": zoo.MessageOf(err)})
		return
	}
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/finetune/"+j.ID)
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusAccepted, s.ViewOf(j))
}

func (s *Service) serveList(w http.ResponseWriter, r *http.Request) {
	u := web.UserOf(r)
	if u == nil {
		web.Fail(w, r, zoo.E("ftjob.List", zoo.Unauthorized, nil, "sign in to see your fine-tuning jobs"))
		return
	}
	list, err := s.o.Store.Finetunes(r.Context(), u.Name, 100)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	views := make([]View, len(list))
	for i, j := range list {
		views[i] = s.ViewOf(j)
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, map[string]any{"jobs": views, "retention": s.Retention()})
}

func (s *Service) serveGet(w http.ResponseWriter, r *http.Request) {
	j, err := s.Get(r.Context(), web.UserOf(r), r.PathValue("id"))
	s.answer(w, r, j, err)
}

func (s *Service) serveCancel(w http.ResponseWriter, r *http.Request) {
	j, err := s.Cancel(r.Context(), web.UserOf(r), r.PathValue("id"))
	s.answer(w, r, j, err)
}

func (s *Service) serveKeep(w http.ResponseWriter, r *http.Request) {
	keep := true
	switch v := r.URL.Query().Get("keep"); v {
	case "", "true", "1":
	case "false", "0":
		keep = false
	default:
		web.Fail(w, r, zoo.E("ftjob.Keep", zoo.Invalid, nil, "keep=%q: use true or false", v))
		return
	}
	j, err := s.Keep(r.Context(), web.UserOf(r), r.PathValue("id"), keep)
	s.answer(w, r, j, err)
}

func (s *Service) answer(w http.ResponseWriter, r *http.Request, j *Job, err error) {
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, s.ViewOf(j))
}

const idParam = `{"name": "id", "in": "path", "required": true, "description": "the job's id", "schema": {"type": "string"}}`

const viewSchema = `{"type": "object", "required": ["id", "model", "version", "parent", "settings", "state", "iteration", "iterations", "losses", "message", "retention", "links"], "properties": {
  "id": {"type": "string"}, "model": {"type": "string"}, "version": {"type": "integer"}, "parent": {"type": "string", "description": "ID/N of the model fine-tuned"},
  "settings": {"type": "object", "properties": {"task": {"type": "string", "enum": ["denoise", "segment"]}, "iterations": {"type": "integer"}, "lr": {"type": "number"}, "patch": {"type": "integer"}, "batch": {"type": "integer"}, "seed": {"type": "integer"}}},
  "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
  "iteration": {"type": "integer", "description": "iterations done"}, "iterations": {"type": "integer"}, "fraction": {"type": "number"},
  "losses": {"type": "array", "items": {"type": "number"}, "description": "the training loss of each iteration done"},
  "metric": {"type": "string", "description": "the held-out metric (mse for denoising with clean images, iou for segmentation)"},
  "before": {"type": "object", "additionalProperties": {"type": "number"}}, "after": {"type": "object", "additionalProperties": {"type": "number"}},
  "message": {"type": "string"}, "error": {"type": "string"},
  "checkpoint_iteration": {"type": "integer", "description": "the iteration of the stored checkpoint a new run resumes from"},
  "resumed": {"type": "array", "items": {"type": "integer"}, "description": "iterations at which a run took the job up from a checkpoint (its worker had died)"},
  "runs": {"type": "integer"},
  "draft": {"type": "object", "description": "the draft model made (a version of the owner's), to submit for review"},
  "dataset": {"type": "object", "description": "the dataset draft of the training data, when publish_data was asked"},
  "publish_data": {"type": "boolean"}, "keep": {"type": "boolean"}, "data_deleted": {"type": "boolean"},
  "retention": {"type": "string", "description": "how long the submitted images are kept, in words"},
  "data_deleted_at": {"type": "string", "format": "date-time"},
  "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}, "finished_at": {"type": "string", "format": "date-time"},
  "links": {"type": "object", "additionalProperties": {"type": "string"}}}}`

var docSubmit = json.RawMessage(`{
  "tags": ["finetune"], "operationId": "submitFinetune", "summary": "Fine-tune a published model on your images, as a job",
  "description": "Signed in (a contributor). The body is a zip of images (.tif, .tiff, .png, .npy) at its top level or under images/, for segmentation their label masks with the same names under masks/, for denoising optionally clean images with the same names under clean/ (to measure MSE/PSNR on the held-out images). The job trains on a worker that can fine-tune (PyTorch and the sandbox); until one runs it, it stays queued and says so. The result is a draft model of yours whose parent is the model (a new model, or a new version of target), tested like any upload; submit it for review. Your images are deleted after the retention time the answer states unless you keep them (POST .../keep). At most a few jobs per user run at once (429 beyond).",
  "parameters": [
    {"name": "model", "in": "query", "required": true, "description": "ID (latest published version) or ID/N", "schema": {"type": "string"}},
    {"name": "task", "in": "query", "description": "denoise or segment (default: segment when the zip has masks/)", "schema": {"type": "string", "enum": ["denoise", "segment"]}},
    {"name": "iterations", "in": "query", "description": "training iterations (default 100)", "schema": {"type": "integer"}},
    {"name": "lr", "in": "query", "description": "learning rate (default 0.0001)", "schema": {"type": "number"}},
    {"name": "patch", "in": "query", "description": "side of the training patches in pixels (default 128)", "schema": {"type": "integer"}},
    {"name": "batch", "in": "query", "description": "patches per iteration (default 4)", "schema": {"type": "integer"}},
    {"name": "seed", "in": "query", "description": "random seed (default 0): the same seed gives the same result", "schema": {"type": "integer"}},
    {"name": "target", "in": "query", "description": "one of your models to add the result to as a new version (default: a new model)", "schema": {"type": "string"}},
    {"name": "publish_data", "in": "query", "description": "true: also make a dataset draft of the training images, named as the model's training_data", "schema": {"type": "boolean"}}
  ],
  "requestBody": {"required": true, "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
  "responses": {
    "202": {"description": "The job, queued", "headers": {"Location": {"description": "its API URL", "schema": {"type": "string"}}}, "content": {"application/json": {"schema": ` + viewSchema + `}}},
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "413": {"$ref": "#/components/responses/TooLarge"},
    "429": {"description": "You have as many fine-tuning jobs queued or running as one user may (problem type urn:zoo:problem:busy)", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/problem+json": {"schema": {"type": "object"}}}},
    "501": {"$ref": "#/components/responses/NotSupported"},
    "503": {"$ref": "#/components/responses/Unavailable"}
  }
}`)

var docList = json.RawMessage(`{
  "tags": ["finetune"], "operationId": "listFinetunes", "summary": "Your fine-tuning jobs, newest first",
  "responses": {
    "200": {"description": "The jobs and the retention time in words", "content": {"application/json": {"schema": {"type": "object", "properties": {"jobs": {"type": "array", "items": ` + viewSchema + `}, "retention": {"type": "string"}}}}}},
    "401": {"$ref": "#/components/responses/Unauthorized"}
  }
}`)

var docGet = json.RawMessage(`{
  "tags": ["finetune"], "operationId": "getFinetune", "summary": "A fine-tuning job's state, loss curve and result",
  "description": "Only its owner (and admins) see a job. Any replica answers; poll it every few seconds.",
  "parameters": [` + idParam + `],
  "responses": {
    "200": {"description": "The job", "content": {"application/json": {"schema": ` + viewSchema + `}}},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "404": {"$ref": "#/components/responses/NotFound"}
  }
}`)

var docCancel = json.RawMessage(`{
  "tags": ["finetune"], "operationId": "cancelFinetune", "summary": "Stop a fine-tuning job",
  "description": "A queued job never runs; a running one stops at its next iteration. A finished job is answered as it is.",
  "parameters": [` + idParam + `],
  "responses": {
    "200": {"description": "The job", "content": {"application/json": {"schema": ` + viewSchema + `}}},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "404": {"$ref": "#/components/responses/NotFound"}
  }
}`)

var docKeep = json.RawMessage(`{
  "tags": ["finetune"], "operationId": "keepFinetune", "summary": "Keep (or stop keeping) a job's images past their retention time",
  "parameters": [` + idParam + `, {"name": "keep", "in": "query", "description": "true (default) or false", "schema": {"type": "boolean"}}],
  "responses": {
    "200": {"description": "The job", "content": {"application/json": {"schema": ` + viewSchema + `}}},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "409": {"$ref": "#/components/responses/Conflict"}
  }
}`)
