// Package client is a typed HTTP client for a zoo server's JSON API and
// downloads (package web serves them): upload a package, read a version
// record, review it, download a file or the whole package zip.
//
// Every failure is a *zoo.Error. An answer of the server in RFC 9457
// problem details becomes one whose Kind follows the HTTP status (404 →
// zoo.NotFound, 422 → zoo.Invalid, …) and whose Message is the problem's
// detail, the text a person can act on; the *Problem is its cause, so
// errors.As finds it (and Report the validation report of a refused
// upload). A server that cannot be reached gives zoo.Unavailable.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Client talks to one zoo server. It is safe for concurrent use.
type Client struct {
	base  *url.URL // scheme://host[/prefix], no trailing slash
	token string
	// HTTP is the client requests go through (http.DefaultClient if nil).
	HTTP *http.Client
	// UserAgent is sent with every request.
	UserAgent string
}

// New returns a client of the server at server (an http or https URL,
// possibly with a path prefix). token is an API token; "" sends requests
// anonymously.
func New(server, token string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, zoo.E("client.New", zoo.Invalid, nil, "invalid server URL %q: want http://HOST[:PORT] or https://HOST", server)
	}
	u.RawQuery, u.Fragment = "", ""
	return &Client{base: u, token: token, UserAgent: "zoo-client"}, nil
}

// Server returns the server's base URL.
func (c *Client) Server() string { return c.base.String() }

// Version is a version record as the server sends it: the fields zoo knows
// and the JSON itself (Raw), which may hold more.
type Version struct {
	zoo.Version
	Raw json.RawMessage `json:"-"`
}

// Ref returns "ID/N".
func (v *Version) Ref() string { return fmt.Sprintf("%s/%d", v.ModelID, v.Number) }

// UploadOptions qualify an upload.
type UploadOptions struct {
	Draft   bool   // keep the new version as a draft instead of submitting it for review
	ModelID string // add a version to this existing model
}

// Upload sends a package zip, read from body until EOF (streamed; the
// length need not be known), and returns the new version. A package that
// fails validation gives a zoo.Invalid error whose Report is the
// validation report.
func (c *Client) Upload(ctx context.Context, body io.Reader, opts UploadOptions) (*Version, error) {
	q := url.Values{}
	if opts.Draft {
		q.Set("draft", "1")
	}
	if opts.ModelID != "" {
		q.Set("model", opts.ModelID)
	}
	req, err := c.request(ctx, http.MethodPost, "/api/v1/models", q, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/zip")
	return c.version(req, "client.Upload")
}

// Get returns version n of model id; n = 0 means the latest published one.
func (c *Client) Get(ctx context.Context, id string, n int) (*Version, error) {
	if err := checkID("client.Get", id); err != nil {
		return nil, err
	}
	p := "/api/v1/models/" + url.PathEscape(id)
	if n > 0 {
		p += "/versions/" + strconv.Itoa(n)
	}
	req, err := c.request(ctx, http.MethodGet, p, nil, nil)
	if err != nil {
		return nil, err
	}
	return c.version(req, "client.Get")
}

// Review applies a reviewer's decision ("accept", "request-changes",
// "reject") to version n of model id and returns the version afterwards.
func (c *Client) Review(ctx context.Context, id string, n int, action, comment string) (*Version, error) {
	if err := checkID("client.Review", id); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, zoo.E("client.Review", zoo.Invalid, nil, "name the version to review as ID/N")
	}
	body, _ := json.Marshal(map[string]string{"action": action, "comment": comment})
	p := fmt.Sprintf("/api/v1/models/%s/versions/%d/review", url.PathEscape(id), n)
	req, err := c.request(ctx, http.MethodPost, p, nil, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.version(req, "client.Review")
}

// Download is a response body being downloaded. Close it.
type Download struct {
	io.ReadCloser
	Size int64  // -1 when the server did not say
	ETag string // without quotes: the sha256 of the content, for files
}

// Package downloads the package zip of version n of model id (n = 0: the
// latest published version).
func (c *Client) Package(ctx context.Context, id string, n int) (*Download, error) {
	if err := checkID("client.Package", id); err != nil {
		return nil, err
	}
	p := "/packages/" + url.PathEscape(id)
	if n > 0 {
		p += "/" + strconv.Itoa(n)
	}
	return c.download(ctx, "client.Package", p)
}

// ConvertedPackage downloads the package of version n (≥ 1) of model id
// with the weights the server converted (its runnable package); NotFound
// when the version has none.
func (c *Client) ConvertedPackage(ctx context.Context, id string, n int) (*Download, error) {
	if err := checkID("client.ConvertedPackage", id); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, zoo.E("client.ConvertedPackage", zoo.Invalid, nil, "name the version as ID/N")
	}
	return c.download(ctx, "client.ConvertedPackage", fmt.Sprintf("/api/v1/models/%s/versions/%d/converted.zip", url.PathEscape(id), n))
}

// File downloads the file at path p of version n of model id.
func (c *Client) File(ctx context.Context, id string, n int, p string) (*Download, error) {
	if err := checkID("client.File", id); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, zoo.E("client.File", zoo.Invalid, nil, "name the version of the file as ID/N")
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.download(ctx, "client.File", fmt.Sprintf("/files/%s/%d/%s", url.PathEscape(id), n, strings.Join(segs, "/")))
}

func (c *Client) download(ctx context.Context, op, p string) (*Download, error) {
	req, err := c.request(ctx, http.MethodGet, p, nil, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req, op)
	if err != nil {
		return nil, err
	}
	return &Download{ReadCloser: resp.Body, Size: resp.ContentLength, ETag: strings.Trim(strings.TrimPrefix(resp.Header.Get("ETag"), "W/"), `"`)}, nil
}

func checkID(op, id string) error {
	if id == "" || strings.Contains(id, "/") {
		return zoo.E(op, zoo.Invalid, nil, "invalid model id %q", id)
	}
	return nil
}

// JSON sends a request without a body to the escaped path p (with query
// q) and decodes the JSON answer into out (unless out is nil). Errors are
// as for the typed calls: problem details become zoo.Errors.
func (c *Client) JSON(ctx context.Context, method, p string, q url.Values, out any) error {
	op := "client." + method + " " + p
	req, err := c.request(ctx, method, p, q, nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, op)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return zoo.E(op, zoo.Internal, err, "the server's answer to %s %s is not the JSON zoo expects", method, p)
	}
	return nil
}

// request builds a request of the escaped path p (with query q) under the
// base URL.
func (c *Client) request(ctx context.Context, method, p string, q url.Values, body io.Reader) (*http.Request, error) {
	u, err := url.Parse(c.base.String() + p) // p is escaped
	if err != nil {
		return nil, zoo.E("client", zoo.Invalid, err, "cannot make a request to %s", c.base)
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, zoo.E("client", zoo.Invalid, err, "cannot make a request to %s", c.base)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	req.Header.Set("Accept", "application/json, application/problem+json;q=0.9, */*;q=0.8")
	return req, nil
}

// do sends req and returns a 2xx response; anything else becomes an error.
func (c *Client) do(req *http.Request, op string) (*http.Response, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, zoo.E(op, zoo.Unavailable, err, "the request to %s was cancelled", c.base.Host)
		}
		return nil, zoo.E(op, zoo.Unavailable, err, "cannot reach the zoo server at %s; check --server and that it is running", c.base)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, responseError(op, resp)
}

// version sends req and decodes the version record it answers with.
func (c *Client) version(req *http.Request, op string) (*Version, error) {
	resp, err := c.do(req, op)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRecord+1))
	if err != nil {
		return nil, zoo.E(op, zoo.Unavailable, err, "the server's answer was cut off")
	}
	if len(data) > maxRecord {
		return nil, zoo.E(op, zoo.Internal, nil, "the server's answer is larger than %d bytes", maxRecord)
	}
	v := &Version{}
	if err := json.Unmarshal(data, v); err != nil || v.ModelID == "" {
		if err == nil {
			err = errors.New("no id")
		}
		return nil, zoo.E(op, zoo.Internal, err, "the server did not answer with a version record (%s)", snippet(data))
	}
	v.Raw = json.RawMessage(data)
	return v, nil
}

// maxRecord bounds a JSON answer (a version record with its reports).
const maxRecord = 32 << 20

// Problem is an error answer in RFC 9457 problem details. Report is the
// validation report of a refused upload (status 422).
type Problem struct {
	Type     string          `json:"type,omitempty"`
	Title    string          `json:"title,omitempty"`
	Status   int             `json:"status,omitempty"`
	Detail   string          `json:"detail,omitempty"`
	Instance string          `json:"instance,omitempty"`
	Report   json.RawMessage `json:"report,omitempty"`
}

// Error names the HTTP status; the detail is the *zoo.Error's message.
func (p *Problem) Error() string {
	s := fmt.Sprintf("HTTP %d", p.Status)
	if t := http.StatusText(p.Status); t != "" {
		s += " " + t
	}
	if p.Type != "" && p.Type != "about:blank" {
		s += " (" + p.Type + ")"
	}
	return s
}

// responseError turns an error answer into a *zoo.Error.
func responseError(op string, resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxRecord))
	p := &Problem{}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if (mt == "application/problem+json" || mt == "application/json") && json.Unmarshal(data, p) == nil {
		p.Status = resp.StatusCode
	} else {
		p = &Problem{Status: resp.StatusCode}
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = fmt.Sprintf("the server answered %s", resp.Status)
		if s := snippet(data); s != "" && mt != "text/html" {
			msg += ": " + s
		}
	}
	return &zoo.Error{Op: op, Kind: kindOf(resp.StatusCode), Message: msg, Err: p}
}

// kindOf maps an HTTP status to the error kind the server translated.
func kindOf(status int) zoo.Kind {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType, http.StatusLengthRequired:
		return zoo.Invalid
	case http.StatusUnauthorized:
		return zoo.Unauthorized
	case http.StatusForbidden:
		return zoo.Forbidden
	case http.StatusNotFound, http.StatusGone:
		return zoo.NotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return zoo.Conflict
	case http.StatusRequestEntityTooLarge:
		return zoo.TooLarge
	case http.StatusNotImplemented:
		return zoo.NotSupported
	case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout:
		return zoo.Unavailable
	}
	return zoo.Internal
}

func snippet(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Report returns the validation report an error carries (a refused
// upload's problem details with a "report"), or nil.
func Report(err error) *spec.Report {
	var p *Problem
	if !errors.As(err, &p) || len(p.Report) == 0 || string(p.Report) == "null" {
		return nil
	}
	r, err := decodeReport(p.Report)
	if err != nil {
		return nil
	}
	return r
}

// wireReport reads a validation report in the JSON of `zoo validate
// --json` (lower-case keys) or of spec.Report's field names.
type wireReport struct {
	Source         string        `json:"source"`
	Status         string        `json:"status"`
	Type           string        `json:"type"`
	FormatVersion  string        `json:"format_version"`
	FormatVersion2 string        `json:"FormatVersion"`
	ID             string        `json:"id"`
	Errors         []wireProblem `json:"errors"`
	Warnings       []wireProblem `json:"warnings"`
}

type wireProblem struct {
	Loc      string          `json:"loc"`
	Msg      string          `json:"msg"`
	Severity json.RawMessage `json:"severity"`
	Line     int             `json:"line"`
	Column   int             `json:"column"`
}

func decodeReport(data []byte) (*spec.Report, error) {
	var w wireReport
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	r := &spec.Report{Source: w.Source, Status: w.Status, Type: w.Type, FormatVersion: w.FormatVersion, ID: w.ID}
	if r.FormatVersion == "" {
		r.FormatVersion = w.FormatVersion2
	}
	conv := func(ps []wireProblem, def spec.Severity) []spec.Problem {
		var out []spec.Problem
		for _, p := range ps {
			out = append(out, spec.Problem{Loc: p.Loc, Msg: p.Msg, Severity: severity(p.Severity, def), Line: p.Line, Column: p.Column})
		}
		return out
	}
	r.Errors = conv(w.Errors, spec.Error)
	r.Warnings = conv(w.Warnings, spec.Warning)
	if r.Status == "" {
		r.Status = spec.StatusFailed
		if len(r.Errors) == 0 {
			r.Status = spec.StatusValid
		}
	}
	return r, nil
}

func severity(raw json.RawMessage, def spec.Severity) spec.Severity {
	var n int
	if json.Unmarshal(raw, &n) == nil && n > 0 {
		return spec.Severity(n)
	}
	var s string
	json.Unmarshal(raw, &s)
	for _, sv := range []spec.Severity{spec.Info, spec.Warning, spec.Alert, spec.Error} {
		if s == sv.String() {
			return sv
		}
	}
	return def
}
