package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// fake is a server that records the last request and answers with status,
// content type and body.
type fake struct {
	method, path, rawPath, query, auth, ctype string
	body                                      []byte
	status                                    int
	answerType, answer                        string
	header                                    http.Header
}

func (f *fake) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.method, f.path, f.rawPath, f.query = r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.RawQuery
		f.auth, f.ctype = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		f.body, _ = io.ReadAll(r.Body)
		for k, v := range f.header {
			w.Header()[k] = v
		}
		if f.answerType != "" {
			w.Header().Set("Content-Type", f.answerType)
		}
		w.WriteHeader(f.status)
		io.WriteString(w, f.answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

const versionJSON = `{"id":"brave-otter","version":2,"state":"submitted","test_status":"pending","files":[{"path":"rdf.yaml","sha256":"ab","size":3}],"links":{"self":"x"}}`

func TestUpload(t *testing.T) {
	f := &fake{status: 201, answerType: "application/json", answer: versionJSON}
	srv := f.start(t)
	c, err := New(srv.URL+"/", "secret")
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Upload(context.Background(), strings.NewReader("PK zip"), UploadOptions{Draft: true, ModelID: "brave-otter"})
	if err != nil {
		t.Fatal(err)
	}
	if f.method != "POST" || f.path != "/api/v1/models" || f.query != "draft=1&model=brave-otter" || f.auth != "Bearer secret" || f.ctype != "application/zip" || string(f.body) != "PK zip" {
		t.Errorf("request %+v", f)
	}
	if v.ModelID != "brave-otter" || v.Number != 2 || v.State != zoo.StateSubmitted || v.TestStatus != zoo.TestPending || len(v.Files) != 1 || v.Ref() != "brave-otter/2" {
		t.Errorf("version %+v", v)
	}
	if string(v.Raw) != versionJSON {
		t.Errorf("raw %s", v.Raw)
	}

	c2, _ := New(srv.URL, "")
	if _, err := c2.Upload(context.Background(), strings.NewReader(""), UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	if f.query != "" || f.auth != "" {
		t.Errorf("anonymous upload sent query %q, auth %q", f.query, f.auth)
	}
}

func TestInvalidUploadReport(t *testing.T) {
	for name, report := range map[string]string{
		"validate-json": `{"source":"rdf.yaml","status":"failed","type":"model","format_version":"0.5.7","errors":[{"loc":"name","msg":"too short","line":3,"column":7}],"warnings":[{"loc":"cite","msg":"add one","severity":"alert","line":9,"column":1}]}`,
		"spec-report":   `{"Source":"rdf.yaml","Status":"failed","Type":"model","FormatVersion":"0.5.7","Errors":[{"loc":"name","msg":"too short","severity":"error","line":3,"column":7}],"Warnings":[{"loc":"cite","msg":"add one","severity":"alert","line":9,"column":1}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := &fake{status: 422, answerType: "application/problem+json",
				answer: `{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"the package's description is invalid; fix the problems","report":` + report + `}`}
			c, _ := New(f.start(t).URL, "t")
			_, err := c.Upload(context.Background(), strings.NewReader("x"), UploadOptions{})
			if zoo.KindOf(err) != zoo.Invalid || zoo.MessageOf(err) != "the package's description is invalid; fix the problems" {
				t.Fatalf("error %v (kind %v)", err, zoo.KindOf(err))
			}
			r := Report(err)
			if r == nil {
				t.Fatal("no report")
			}
			if r.Status != "failed" || r.Type != "model" || r.FormatVersion != "0.5.7" || len(r.Errors) != 1 || len(r.Warnings) != 1 {
				t.Fatalf("report %+v", r)
			}
			if e := r.Errors[0]; e.Loc != "name" || e.Line != 3 || e.Column != 7 || e.Severity != spec.Error {
				t.Errorf("error %+v", e)
			}
			if w := r.Warnings[0]; w.Severity != spec.Alert || w.Line != 9 {
				t.Errorf("warning %+v", w)
			}
			var p *Problem
			if !errors.As(err, &p) || p.Status != 422 {
				t.Errorf("no problem in %v", err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		status       int
		ctype, body  string
		kind         zoo.Kind
		msgSubstring string
	}{
		{404, "application/problem+json", `{"title":"Not Found","status":404,"detail":"no model brave-otter"}`, zoo.NotFound, "no model brave-otter"},
		{401, "application/problem+json", `{"title":"Unauthorized","status":401,"detail":"send an API token"}`, zoo.Unauthorized, "send an API token"},
		{403, "application/problem+json", `{"status":403,"detail":"nobody reviews their own upload"}`, zoo.Forbidden, "nobody reviews"},
		{409, "application/problem+json", `{"status":409,"title":"Conflict","detail":"the test is still running"}`, zoo.Conflict, "still running"},
		{413, "application/problem+json", `{"status":413,"detail":"too big"}`, zoo.TooLarge, "too big"},
		{502, "text/html", `<html>bad gateway</html>`, zoo.Unavailable, "the server answered 502 Bad Gateway"},
		{500, "text/plain", `boom`, zoo.Internal, "500 Internal Server Error: boom"},
	}
	for _, tc := range cases {
		f := &fake{status: tc.status, answerType: tc.ctype, answer: tc.body}
		c, _ := New(f.start(t).URL, "")
		_, err := c.Get(context.Background(), "brave-otter", 0)
		if zoo.KindOf(err) != tc.kind || !strings.Contains(zoo.MessageOf(err), tc.msgSubstring) {
			t.Errorf("%d: %v (kind %v, message %q)", tc.status, err, zoo.KindOf(err), zoo.MessageOf(err))
		}
		if Report(err) != nil {
			t.Errorf("%d: a report without one", tc.status)
		}
		if strings.Count(err.Error(), tc.msgSubstring) != 1 {
			t.Errorf("%d: message repeated or missing in %q", tc.status, err.Error())
		}
	}

	// not a version record
	f := &fake{status: 200, answerType: "application/json", answer: `{"models":[]}`}
	c, _ := New(f.start(t).URL, "")
	if _, err := c.Get(context.Background(), "x", 1); zoo.KindOf(err) != zoo.Internal {
		t.Errorf("non-record: %v", err)
	}

	// nobody listening
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ = New(url, "")
	if _, err := c.Get(context.Background(), "x", 0); zoo.KindOf(err) != zoo.Unavailable || !strings.Contains(zoo.MessageOf(err), "cannot reach") {
		t.Errorf("unreachable: %v", err)
	}

	for _, bad := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		if _, err := New(bad, ""); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("New(%q): %v", bad, err)
		}
	}
	if _, err := c.Get(context.Background(), "a/b", 0); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("id with a slash: %v", err)
	}
}

func TestGetReviewDownload(t *testing.T) {
	f := &fake{status: 200, answerType: "application/json", answer: versionJSON}
	srv := f.start(t)
	c, _ := New(srv.URL+"/zoo", "tok") // a path prefix
	ctx := context.Background()

	if _, err := c.Get(ctx, "brave-otter", 0); err != nil || f.method != "GET" || f.path != "/zoo/api/v1/models/brave-otter" {
		t.Errorf("latest: %v %+v", err, f)
	}
	if _, err := c.Get(ctx, "brave-otter", 3); err != nil || f.path != "/zoo/api/v1/models/brave-otter/versions/3" {
		t.Errorf("version: %v %+v", err, f)
	}
	if _, err := c.Review(ctx, "brave-otter", 3, "request-changes", "add a cover"); err != nil || f.method != "POST" || f.path != "/zoo/api/v1/models/brave-otter/versions/3/review" || f.ctype != "application/json" {
		t.Errorf("review: %v %+v", err, f)
	}
	var body map[string]string
	if json.Unmarshal(f.body, &body) != nil || body["action"] != "request-changes" || body["comment"] != "add a cover" {
		t.Errorf("review body %s", f.body)
	}
	if _, err := c.Review(ctx, "brave-otter", 0, "accept", ""); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("review without N: %v", err)
	}

	f.answerType, f.answer, f.header = "application/zip", "PKzip", http.Header{"Etag": {`"abc123"`}}
	d, err := c.Package(ctx, "brave-otter", 0)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(d)
	d.Close()
	if string(data) != "PKzip" || d.Size != 5 || d.ETag != "abc123" || f.path != "/zoo/packages/brave-otter" {
		t.Errorf("package: %q %+v %+v", data, d, f)
	}
	if d, err := c.Package(ctx, "brave-otter", 2); err != nil || f.path != "/zoo/packages/brave-otter/2" {
		t.Errorf("package 2: %v %+v", err, f)
	} else {
		d.Close()
	}
	d, err = c.File(ctx, "brave-otter", 2, "docs/read me#1.md")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if f.path != "/zoo/files/brave-otter/2/docs/read me#1.md" || f.rawPath != "/zoo/files/brave-otter/2/docs/read%20me%231.md" {
		t.Errorf("file path %q (raw %q)", f.path, f.rawPath)
	}
}
