package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/metrics"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
)

// problemType is one row of the error table: the status code, the problem
// type URI (compared by clients; not meant to be dereferenced — RFC 9457
// §3.1.1 allows such URIs) and the title.
type problemType struct {
	status int
	slug   string
	title  string
}

func (p problemType) uri() string { return "urn:zoo:problem:" + p.slug }

// kinds is THE table from zoo.Kind to HTTP. Every Kind has a row (a test
// checks). Decisions:
//   - Invalid is 400, except an invalid package, which is 422 with the
//     validation report (the request was well-formed; its content is not).
//   - NotSupported is 501: the request is valid (not the client's fault),
//     this server cannot carry it out (e.g. a weight format), and retrying
//     will not help — unlike 503.
//   - Unauthorized sends WWW-Authenticate: Bearer; Unavailable sends
//     Retry-After.
//   - Internal is 500 and its detail never carries the cause (logged).
var kinds = map[zoo.Kind]problemType{
	zoo.Invalid:      {http.StatusBadRequest, "invalid", "Invalid request"},
	zoo.NotFound:     {http.StatusNotFound, "not-found", "Not found"},
	zoo.Conflict:     {http.StatusConflict, "conflict", "Conflict with the current state"},
	zoo.NotSupported: {http.StatusNotImplemented, "not-supported", "Not supported by this server"},
	zoo.TooLarge:     {http.StatusRequestEntityTooLarge, "too-large", "Too large"},
	zoo.Unauthorized: {http.StatusUnauthorized, "unauthorized", "Authentication required"},
	zoo.Forbidden:    {http.StatusForbidden, "forbidden", "Not allowed"},
	zoo.Unavailable:  {http.StatusServiceUnavailable, "unavailable", "Temporarily unavailable"},
	zoo.Internal:     {http.StatusInternalServerError, "internal", "Internal server error"},
}

// invalidPackage is the row of an Invalid error caused by *repo.InvalidPackage.
var invalidPackage = problemType{http.StatusUnprocessableEntity, "invalid-package", "Invalid package"}

// Problem is an RFC 9457 problem document. Report is set for invalid
// packages; RequestID for internal errors (quote it when reporting).
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail"`
	Report    *ValidationReport `json:"report,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// problemOf makes a problem that has no zoo.Kind (405).
func problemOf(status int, title, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: title, Status: status, Detail: detail}
}

// fail writes err as a problem document, with the headers its kind needs.
// Internal errors are logged with their cause.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	kind := zoo.KindOf(err)
	if kind == zoo.Internal && zoo.Unreachable(err) {
		// A store that cannot be reached (PostgreSQL or S3 down) is an
		// outage, whichever layer wrapped it: 503 with Retry-After.
		kind = zoo.Unavailable
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		kind = zoo.TooLarge
	}
	pt := kinds[kind]
	p := &Problem{Status: pt.status, Title: pt.title, Detail: zoo.MessageOf(err)}
	var ip *repo.InvalidPackage
	switch {
	case kind == zoo.Invalid && errors.As(err, &ip):
		pt = invalidPackage
		p.Status, p.Title = pt.status, pt.title
		rep := toJSONReport(ip.Report)
		p.Report = &rep
	case mbe != nil && zoo.KindOf(err) != zoo.TooLarge:
		p.Detail = "the request body is larger than this server's limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes"
	case kind == zoo.Unauthorized:
		if w.Header().Get("WWW-Authenticate") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="zoo"`)
		}
	case kind == zoo.Unavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int(s.opts.RetryAfter.Seconds())))
	}
	if kind == zoo.TooLarge {
		// A size limit: named by the operation that refused (e.g.
		// size:repo.Upload, size:infer.Submit; size:body for a body
		// over its byte limit).
		limit := "size:body"
		var ze *zoo.Error
		if errors.As(err, &ze) && ze.Kind == zoo.TooLarge && ze.Op != "" {
			limit = "size:" + ze.Op
		}
		metrics.Refuse(r.Context(), s.log, limit, pt.status, "client", ClientKey(r), "path", r.URL.Path)
	}
	switch {
	case kind == zoo.Internal:
		id := requestID(r.Context())
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away; nobody reads the answer.
			s.log.Debug("request canceled", "request_id", id, "err", err)
		} else {
			s.log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		}
		p.RequestID = id
		p.Detail = "an unexpected error occurred on the server and was logged; try again later, and if it persists report request " + id + " to the server's administrators"
		if msg := zoo.MessageOf(err); msg != "internal error" {
			p.Detail = msg + " (" + p.Detail + ")"
		}
	}
	p.Type = pt.uri()
	s.problem(w, r, p)
}

func (s *server) problem(w http.ResponseWriter, r *http.Request, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Disposition")
	h.Del("ETag")
	h.Del("Last-Modified")
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		json.NewEncoder(w).Encode(p)
	}
}

// ValidationReport is a validation report as `zoo validate --json` prints
// it: in a refused upload's problem ("report") and in every version
// ("validation_report").
type ValidationReport = spec.JSONReport

// ValidationProblem is one error or warning of a ValidationReport.
type ValidationProblem = spec.JSONProblem

func toJSONReport(r *spec.Report) ValidationReport { return r.JSON() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// versionOut prepares a version for a response. (Reports are stored in
// the shape of `zoo validate --json` already: spec.Report's MarshalJSON.)
func versionOut(v *zoo.Version) *zoo.Version { return v }

func outAll(vs []*zoo.Version) []*zoo.Version {
	res := make([]*zoo.Version, len(vs))
	for i, v := range vs {
		res[i] = versionOut(v)
	}
	return res
}
