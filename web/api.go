package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// upload streams the request body into repo.Service.Upload (which spools it
// to a temporary file: a zip needs random access). The body is never held
// in memory.
func (s *server) upload(w http.ResponseWriter, r *http.Request) {
	const op = "web.upload"
	q := r.URL.Query()
	draft, err := flag(q, "draft")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if strings.HasPrefix(mt, "multipart/") || mt == "application/x-www-form-urlencoded" {
			s.fail(w, r, zoo.E(op, zoo.Invalid, nil, "send the package zip itself as the request body (Content-Type: application/zip), not as a form"))
			return
		}
	}
	if userOf(r) == nil {
		// Refuse before reading a possibly huge body.
		s.fail(w, r, zoo.E(op, zoo.Unauthorized, nil, "log in or send an API token to upload"))
		return
	}
	if err := limitBody(w, r, s.opts.MaxUpload); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.Upload(r.Context(), userOf(r), r.Body, repo.UploadOptions{Draft: draft, ModelID: q.Get("model")})
	if err != nil && v == nil {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		// Stored, but the test job could not be queued: the version exists,
		// so answer 201 (a retry would make a duplicate) and log it.
		s.log.Error("upload stored but test not queued", "request_id", requestID(r.Context()),
			"id", v.ModelID, "version", v.Number, "err", err)
	}
	w.Header().Set("Location", versionPath(v))
	out := UploadResult{Version: versionOut(v)}
	dups, err := s.svc.SameContent(r.Context(), userOf(r), v)
	if err != nil {
		// The upload stands; only the warning is lost.
		s.log.Warn("upload: same-content check failed", "request_id", requestID(r.Context()), "id", v.ModelID, "version", v.Number, "err", err)
	}
	for _, d := range dups {
		out.DuplicateOf = append(out.DuplicateOf, repo.Ref(d))
	}
	writeJSON(w, http.StatusCreated, out)
}

// UploadResult is the body of a 201 answer to an upload: the new version,
// and, when versions the uploader may see hold the same content
// (repo.Service.SameContent), their refs "ID/N" in duplicate_of (absent
// otherwise). The upload stands either way; the uploader may withdraw it
// (POST …/withdraw).
type UploadResult struct {
	*zoo.Version
	DuplicateOf []string `json:"duplicate_of,omitempty"`
}

func versionPath(v *zoo.Version) string {
	return "/api/v1/models/" + url.PathEscape(v.ModelID) + "/versions/" + strconv.Itoa(v.Number)
}

// ModelSummary is one entry of the model list.
type ModelSummary struct {
	ID          string         `json:"id"`
	Version     int            `json:"version"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	State       zoo.State      `json:"state"`
	TestStatus  zoo.TestStatus `json:"test_status"`
	Downloads   int64          `json:"downloads"` // of the model, all versions
}

// listModels lists the latest published (else retired) version of every
// model that has one, in model id order: two catalog queries.
func (s *server) listModels(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cat := s.svc.Catalog()
	models, err := cat.ListModels(ctx, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	versions, err := cat.ListVersions(ctx, zoo.VersionFilter{States: []zoo.State{zoo.StatePublished, zoo.StateRetired}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	latest := map[string]*zoo.Version{}
	for _, v := range versions {
		if better(v, latest[v.ModelID]) {
			latest[v.ModelID] = v
		}
	}
	list := []ModelSummary{}
	for _, m := range models {
		v := latest[m.ID]
		if v == nil {
			continue // published after the first query: next time
		}
		list = append(list, ModelSummary{ID: m.ID, Version: v.Number, Name: v.Name, Description: v.Description,
			State: v.State, TestStatus: v.TestStatus, Downloads: m.Downloads})
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": list})
}

// better reports whether v is a better "latest" than cur, as
// Catalog.LatestPublished chooses: published before retired, then the
// highest number.
func better(v, cur *zoo.Version) bool {
	if cur == nil {
		return true
	}
	vp, cp := v.State == zoo.StatePublished, cur.State == zoo.StatePublished
	if vp != cp {
		return vp
	}
	return v.Number > cur.Number
}

func (s *server) getLatest(w http.ResponseWriter, r *http.Request) {
	v, err := s.svc.Get(r.Context(), userOf(r), r.PathValue("id"), 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Location", versionPath(v))
	writeJSON(w, http.StatusOK, versionOut(v))
}

func (s *server) getVersion(w http.ResponseWriter, r *http.Request) {
	n, err := versionNumber(r.PathValue("n"), false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.Get(r.Context(), userOf(r), r.PathValue("id"), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, versionOut(v))
}

func (s *server) listVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.svc.Versions(r.Context(), userOf(r), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": nonNil(vs)})
}

func (s *server) reviewQueue(w http.ResponseWriter, r *http.Request) {
	vs, err := s.svc.ReviewQueue(r.Context(), userOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": nonNil(vs)})
}

func nonNil(vs []*zoo.Version) []*zoo.Version {
	if vs == nil {
		return []*zoo.Version{}
	}
	return outAll(vs)
}

// ReviewRequest is the body of POST …/review.
type ReviewRequest struct {
	Action  string `json:"action"` // accept, request-changes or reject
	Comment string `json:"comment,omitempty"`
}

// RetireRequest is the body of POST …/retire.
type RetireRequest struct {
	Reason string `json:"reason"`
}

func (s *server) review(w http.ResponseWriter, r *http.Request) {
	id, n, ok := s.target(w, r)
	if !ok {
		return
	}
	var req ReviewRequest
	if err := s.decode(w, r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.Review(r.Context(), userOf(r), id, n, req.Action, req.Comment)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, versionOut(v))
}

func (s *server) submit(w http.ResponseWriter, r *http.Request) {
	id, n, ok := s.target(w, r)
	if !ok {
		return
	}
	var req struct{}
	if err := s.decode(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.Submit(r.Context(), userOf(r), id, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, versionOut(v))
}

// WithdrawRequest is the (optional) body of POST …/withdraw.
type WithdrawRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (s *server) withdraw(w http.ResponseWriter, r *http.Request) {
	id, n, ok := s.target(w, r)
	if !ok {
		return
	}
	var req WithdrawRequest
	if err := s.decode(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.Withdraw(r.Context(), userOf(r), id, n, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, versionOut(v))
}

func (s *server) retire(w http.ResponseWriter, r *http.Request) {
	id, n, ok := s.target(w, r)
	if !ok {
		return
	}
	var req RetireRequest
	if err := s.decode(w, r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.Retire(r.Context(), userOf(r), id, n, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, versionOut(v))
}

// target reads {id} and {n} of an action route; anonymous callers are
// refused here, before their body is read.
func (s *server) target(w http.ResponseWriter, r *http.Request) (string, int, bool) {
	n, err := versionNumber(r.PathValue("n"), false)
	if err == nil && userOf(r) == nil {
		err = zoo.E("web", zoo.Unauthorized, nil, "log in or send an API token to change a version")
	}
	if err != nil {
		s.fail(w, r, err)
		return "", 0, false
	}
	return r.PathValue("id"), n, true
}

// decode reads a JSON body into v, refusing unknown fields (a misspelt
// "coment" should not be silently dropped). An empty body is an error only
// if required.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any, required bool) error {
	const op = "web.decode"
	if err := limitBody(w, r, s.opts.MaxJSON); err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return zoo.E(op, zoo.Invalid, nil, "send the request body as JSON (Content-Type: application/json), not %s", mt)
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if required {
			return zoo.E(op, zoo.Invalid, nil, "the request needs a JSON body; see /api/openapi.json")
		}
		return nil
	}
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return zoo.E(op, zoo.Invalid, err, "the request body is not the expected JSON: %s", describeJSONError(err))
	}
	return nil
}

// describeJSONError describes a JSON decoding error without Go type names.
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + strconv.Quote(te.Field) + " has the wrong type (" + te.Value + ")"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends too early"
	}
	return "expected one JSON object"
}

// versionNumber parses {n}: a number ≥ 1, or (where allowed) "latest" (0).
func versionNumber(s string, latestOK bool) (int, error) {
	if latestOK && s == "latest" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strconv.Itoa(n) != s {
		hint := "a number ≥ 1"
		if latestOK {
			hint += " or latest"
		}
		return 0, zoo.E("web", zoo.Invalid, nil, "version %q: the version must be %s", s, hint)
	}
	return n, nil
}

// flag reads a boolean query parameter: absent, 0/false or 1/true.
func flag(q url.Values, name string) (bool, error) {
	if !q.Has(name) {
		return false, nil
	}
	switch strings.ToLower(q.Get(name)) {
	case "", "1", "true", "yes":
		return true, nil
	case "0", "false", "no":
		return false, nil
	}
	return false, zoo.E("web", zoo.Invalid, nil, "query parameter %s=%q: use %s=1 or %s=0", name, q.Get(name), name, name)
}
