package platform

import (
	"bytes"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
)

// TestDataContract checks a challenge's data as a participant meets it
// (issue 17): every test input a prediction must be named after is
// downloadable, byte for byte, from the link the challenge page gives, by
// anyone; no ground truth is, under any name. Creation refuses a
// challenge that would break this.
func TestDataContract(t *testing.T) {
	e := newEnv(t)
	e.create(t, "demo", challenge.LeaderboardPublic)
	h, _ := e.server(t)
	page := get(h, "/challenges/demo", "").Body.String()
	for _, f := range e.files {
		link := "/api/v1/challenges/demo/files/" + f.Name
		w := get(h, link, "")
		switch f.Kind {
		case challenge.Input, challenge.Public:
			if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), f.Data) {
				t.Errorf("%s file %s: GET %s: %d, want its bytes", f.Kind, f.Name, link, w.Code)
			}
			if !regexp.MustCompile(`href="` + regexp.QuoteMeta(link) + `"`).MatchString(page) {
				t.Errorf("the challenge page has no link to %s", link)
			}
		case challenge.Truth:
			if bytes.Contains(w.Body.Bytes(), f.Data[len(f.Data)-64:]) {
				t.Errorf("GET %s serves the ground truth", link)
			}
		}
	}

	// A ground truth also given as a public file or as an input would be
	// downloadable: refused.
	truth := e.files[1]
	if truth.Kind != challenge.Truth {
		t.Fatalf("fixture order: %+v", truth)
	}
	files := append(append([]NewFile(nil), e.files...), NewFile{Kind: challenge.Public, Name: "answers.npy", Data: truth.Data})
	want(t, e.svc.Create(ctx, e.org, e.challenge("leak1", "public"), files), zoo.Invalid, `ground truth "img01.npy"`, `public file "answers.npy"`)
	files = append([]NewFile(nil), e.files...)
	files[0].Data = truth.Data // input img01 = its truth
	want(t, e.svc.Create(ctx, e.org, e.challenge("leak2", "public"), files), zoo.Invalid, `ground truth "img01.npy"`, `input file "img01.npy"`)
	// A public file named like an input: the input's link would serve
	// the public file, and the input could not be downloaded.
	files = append(append([]NewFile(nil), e.files...), NewFile{Kind: challenge.Public, Name: "img02.npy", Data: []byte("other")})
	want(t, e.svc.Create(ctx, e.org, e.challenge("clash", "public"), files), zoo.Invalid, `"img02.npy"`, "public and as an input")
}

// The challenge page's submit form (POST …/phases/{phase}/submit,
// multipart): a valid zip is recorded and answered with a redirect to its
// page; an invalid one, none or both fields get a page saying why, and
// nothing is recorded. Anonymous visitors are sent to log in.
func TestSubmitForm(t *testing.T) {
	e := newEnv(t)
	e.create(t, "demo", challenge.LeaderboardPublic)
	h, tokens := e.server(t)
	post := func(token string, fields map[string]string, zipData []byte) *httptest.ResponseRecorder {
		var b bytes.Buffer
		m := newMultipart(&b)
		m.w.WriteField("csrf", "x")
		for k, v := range fields {
			m.w.WriteField(k, v)
		}
		if zipData != nil {
			m.file("predictions", "predictions.zip", zipData)
		}
		r := httptest.NewRequest("POST", "/challenges/demo/phases/dev/submit", &b)
		r.Header.Set("Content-Type", m.close())
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if page := get(h, "/challenges/demo", "").Body.String(); !strings.Contains(page, `href="/login?next=`) || strings.Contains(page, `id="submit-form"`) {
		t.Error("the anonymous page has a submit form or no log-in link")
	}
	if w := post("", nil, e.predictions(t, offset(1))); w.Code != 401 {
		t.Errorf("anonymous submit: %d", w.Code)
	}
	for _, tc := range []struct {
		fields map[string]string
		zip    []byte
		says   string
	}{
		{nil, nil, "choose a predictions zip"},
		{map[string]string{"model": "x/1"}, e.predictions(t, offset(1)), "not both"},
		{nil, []byte("not a zip"), "zip"},
	} {
		w := post(tokens["alice"], tc.fields, tc.zip)
		if w.Code != 400 || !strings.Contains(w.Body.String(), `id="refused"`) || !strings.Contains(w.Body.String(), tc.says) {
			t.Errorf("refused submission: %d %s", w.Code, w.Body.String())
		}
	}
	if subs, _ := e.svc.Submissions(ctx, e.alice, "demo"); len(subs) != 0 {
		t.Fatalf("refused submissions were recorded: %d", len(subs))
	}
	w := post(tokens["alice"], nil, e.predictions(t, offset(1)))
	if w.Code != 303 || !regexp.MustCompile(`^/challenges/demo/submissions/\d+$`).MatchString(w.Header().Get("Location")) {
		t.Fatalf("submit: %d %q %s", w.Code, w.Header().Get("Location"), w.Body.String())
	}
	if subs, _ := e.svc.Submissions(ctx, e.alice, "demo"); len(subs) != 1 || subs[0].Kind != challenge.KindPredictions {
		t.Errorf("after the form: %+v", subs)
	}
}
