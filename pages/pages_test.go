package pages_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/repo"
)

// TestPagesVisibility: anonymous visitors see the published model on every
// public page; a draft and a submission appear to nobody but their
// uploader (and reviewers for submissions), and /my shows only the
// caller's own uploads.
func TestPagesVisibility(t *testing.T) {
	e := newTestEnv(t, nil)
	pub := e.publish("unet2d-nuclei-broad-onnx", "Public Nuclei Model")
	draft := e.upload("alice", zipFixture(t, "upsample-onnx", "Secret Draft Upsampler"), repo.UploadOptions{Draft: true})
	sub := e.upload("alice", zipFixture(t, "upsample-onnx", "Secret Submitted Upsampler"), repo.UploadOptions{})
	e.waitTest(sub.ModelID, sub.Number)

	for _, path := range []string{"/", "/search", "/search?q=nuclei", "/models/" + pub.ModelID, "/models/" + pub.ModelID + "/1"} {
		code, body := e.get("", path)
		if code != http.StatusOK || !strings.Contains(body, "Public Nuclei Model") {
			t.Errorf("anonymous %s: %d, published model shown: %v", path, code, strings.Contains(body, "Public Nuclei Model"))
		}
		for _, secret := range []string{"Secret Draft", "Secret Submitted", draft.ModelID, sub.ModelID} {
			if strings.Contains(body, secret) {
				t.Errorf("anonymous %s shows %q", path, secret)
			}
		}
	}
	for _, path := range []string{"/models/" + pub.ModelID + "/1/examples/input-0.png", "/models/" + pub.ModelID + "/1/examples/output-0.png"} {
		if code, body := e.get("", path); code != http.StatusOK || !strings.HasPrefix(body, "\x89PNG") {
			t.Errorf("anonymous %s: %d", path, code)
		}
	}
	// A published model page carries its JSON-LD and signposting links.
	if _, body := e.get("", "/models/"+pub.ModelID); !strings.Contains(body, `<script type="application/ld+json">`) || !strings.Contains(body, `"@context"`) {
		t.Errorf("model page lacks JSON-LD")
	} else if !strings.Contains(body, `type="application/atom+xml" title="Versions of `+pub.ModelID+`" href="/models/`+pub.ModelID+`/feed.atom"`) ||
		!strings.Contains(body, `href="/feed.atom"`) {
		t.Errorf("model page does not announce its Atom feeds")
	}
	// Drafts and submissions: 404 for anonymous and for another contributor.
	for _, user := range []string{"", "bob"} {
		for _, path := range []string{
			"/models/" + draft.ModelID, "/models/" + draft.ModelID + "/1", "/models/" + draft.ModelID + "/1/examples/input-0.png",
			"/models/" + sub.ModelID + "/1", "/search?q=secret",
		} {
			code, body := e.get(user, path)
			if strings.Contains(body, "Secret") {
				t.Errorf("%q %s leaks the unpublished name (%d)", user, path, code)
			}
			if !strings.HasPrefix(path, "/search") && code != http.StatusNotFound {
				t.Errorf("%q %s: %d, want 404", user, path, code)
			}
		}
	}
	// The uploader sees both on their page and the draft's own page.
	if code, body := e.get("alice", "/my"); code != 200 || !strings.Contains(body, "Secret Draft") || !strings.Contains(body, "Secret Submitted") || !strings.Contains(body, "submitted") {
		t.Errorf("alice /my: %d, missing her uploads", code)
	}
	if code, body := e.get("alice", "/models/"+draft.ModelID+"/1"); code != 200 || !strings.Contains(body, "draft") {
		t.Errorf("alice's draft page: %d", code)
	}
	if code, body := e.get("bob", "/my"); code != 200 || strings.Contains(body, "Secret") || strings.Contains(body, "Public Nuclei") {
		t.Errorf("bob /my shows alice's uploads (%d)", code)
	}
	// Pages that need a login redirect anonymous visitors to it.
	for _, path := range []string{"/my", "/upload", "/review"} {
		code, _ := e.get("", path)
		if code != http.StatusSeeOther {
			t.Errorf("anonymous %s: %d, want a redirect to /login", path, code)
		}
	}
	// The review queue is for reviewers; it shows the submission, not the draft.
	if code, _ := e.get("alice", "/review"); code != http.StatusForbidden {
		t.Errorf("alice /review: %d, want 403", code)
	}
	code, body := e.get("rita", "/review")
	if code != 200 || !strings.Contains(body, "Secret Submitted") || strings.Contains(body, "Secret Draft") {
		t.Errorf("rita /review: %d; submission shown %v, draft shown %v", code, strings.Contains(body, "Secret Submitted"), strings.Contains(body, "Secret Draft"))
	}
	// The description diff of a first version lists its lines as added.
	if !strings.Contains(body, `class="dadd">&#43; name: Secret Submitted Upsampler`) {
		t.Errorf("review page lacks the description diff")
	}
}

// TestPageHeaders: pages replace the API's sandbox CSP with a 'self' policy.
func TestPageHeaders(t *testing.T) {
	e := newTestEnv(t, nil)
	res, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "sandbox") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
}

// TestSearchQueryLimits: hostile query parameters get a 400 page, not a crash.
func TestSearchQueryLimits(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, q := range []string{"?offset=-1", "?offset=99999999999999999999", "?sort=evil", "?tag=" + strings.Repeat("&tag=x", 40)} {
		if code, _ := e.get("", "/search"+q); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	if code, _ := e.get("", "/search?q="+strings.Repeat("nuclei+", 2000)); code != 200 {
		t.Errorf("long query: %d", code)
	}
	if _, body := e.get("", "/search?error=Your+account+is+locked"); strings.Contains(body, "account is locked") {
		t.Errorf("the search page shows a message from its query")
	}
	// The login page shows the session manager's own messages only: a
	// link cannot put its words on it (issue 15).
	if _, body := e.get("", "/login?error=Your+account+is+locked%3B+call+%2B1-555-0100"); strings.Contains(body, "account is locked") || !strings.Contains(body, "the login did not succeed") {
		t.Errorf("the login page shows text from its query: %s", body)
	}
	res, err := http.PostForm(e.srv.URL+"/login", url.Values{"token": {"zoo_not-a-real-token"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "unknown or revoked API token") {
		t.Errorf("after a failed login the page does not say why: %s", b)
	}
	for _, msg := range []string{"enter your API token", "too many failed logins from your address; try again in 7 minutes"} {
		if _, body := e.get("", "/login?error="+url.QueryEscape(msg)); !strings.Contains(body, msg) {
			t.Errorf("the login page does not show %q", msg)
		}
	}
	if _, body := e.get("rita", "/review?done="+url.QueryEscape("Send your token to evil.example")); strings.Contains(body, "evil.example") {
		t.Errorf("the review page shows a made-up notice")
	}
	if code, _ := e.get("", "/models/x/abc"); code != 404 {
		t.Errorf("bad version: %d", code)
	}
	if code, _ := e.get("", "/models/x/1/examples/..%2f..%2fetc.png"); code != 404 {
		t.Errorf("bad example name: %d", code)
	}
	_ = context.Background()
}

// TestReviewDiffBetweenVersions: a new version's review shows what changed
// in the description since the previous version.
func TestReviewDiffBetweenVersions(t *testing.T) {
	e := newTestEnv(t, nil)
	v1 := e.publish("upsample-onnx", "Scaler One")
	v2 := e.upload("alice", zipFixture(t, "upsample-onnx", "Scaler Two"), repo.UploadOptions{ModelID: v1.ModelID})
	e.waitTest(v2.ModelID, v2.Number)
	code, body := e.get("rita", "/review")
	if code != 200 {
		t.Fatalf("/review: %d", code)
	}
	for _, want := range []string{"changes since version 1", `class="ddel">- name: Scaler One`, `class="dadd">&#43; name: Scaler Two`, `class="dsame">  description: Test model for scaling`} {
		if !strings.Contains(body, want) {
			t.Errorf("review page lacks %q", want)
		}
	}
	// The new-version flow: the upload page names the model.
	if code, body := e.get("alice", "/upload?model="+v1.ModelID); code != 200 || !strings.Contains(body, "Upload a new version of Scaler One") || !strings.Contains(body, `data-model="`+v1.ModelID+`"`) {
		t.Errorf("new-version upload page: %d", code)
	}
	// The model page lists both versions to the uploader, only v1 to others.
	if _, body := e.get("alice", "/models/"+v1.ModelID+"/1"); !strings.Contains(body, "/models/"+v1.ModelID+"/2") {
		t.Errorf("alice does not see her submitted version 2 in the versions list")
	}
	if _, body := e.get("", "/models/"+v1.ModelID); strings.Contains(body, "/models/"+v1.ModelID+"/2") || strings.Contains(body, "Scaler Two") {
		t.Errorf("anonymous visitors see the submitted version 2")
	}
}

// TestReviewForm: the review form needs the session's CSRF token; a
// request for changes needs a comment, which the uploader then sees.
func TestReviewForm(t *testing.T) {
	e := newTestEnv(t, nil)
	v := e.upload("alice", zipFixture(t, "upsample-onnx", "Needs Work"), repo.UploadOptions{})
	e.waitTest(v.ModelID, v.Number)
	_, page := e.get("rita", "/review")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token in the review form")
	}
	post := func(form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/review/"+v.ModelID+"/1", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.srv.URL)
		req.AddCookie(e.login("rita"))
		res, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	if code, _ := post(url.Values{"action": {"reject"}}); code != http.StatusForbidden {
		t.Errorf("review without CSRF token: %d, want 403", code)
	}
	code, loc := post(url.Values{"action": {"request-changes"}, "csrf": {m[1]}})
	if code != http.StatusSeeOther || !strings.Contains(loc, "error=") {
		t.Errorf("request changes without a comment: %d %s", code, loc)
	}
	code, loc = post(url.Values{"action": {"request-changes"}, "comment": {"Please add a cover image."}, "csrf": {m[1]}})
	if code != http.StatusSeeOther || !strings.Contains(loc, "done=") {
		t.Errorf("request changes: %d %s", code, loc)
	}
	if _, body := e.get("alice", "/my"); !strings.Contains(body, "changes-requested") || !strings.Contains(body, "Please add a cover image.") {
		t.Errorf("alice's /my does not show the requested changes")
	}
}

// TestScanSearch: without a search index the pages still find published
// models (by words of the name, description, tags, authors), filter by
// facets and never show unpublished ones.
func TestScanSearch(t *testing.T) {
	e := newTestEnvWith(t, nil, false)
	e.publish("unet2d-nuclei-broad-onnx", "")
	e.publish("upsample-onnx", "")
	e.upload("alice", zipFixture(t, "upsample-onnx", "Hidden Scaler"), repo.UploadOptions{Draft: true})
	for q, want := range map[string]string{
		"/search?q=nuclei":             "1 model for",
		"/search?q=pape":               "1 model for", // an author
		"/search":                      "2 models",
		"/search?license=MIT":          "1 model",
		"/search?q=scaler+hidden":      "0 models",
		"/search?tag=nope&tag=dsb2018": "1 model",
	} {
		code, body := e.get("", q)
		if code != 200 || !strings.Contains(body, `<p class="total">`+want) {
			i := strings.Index(body, `class="total"`)
			t.Errorf("%s: %d %q, want %q", q, code, body[max(i, 0):min(len(body), max(i, 0)+60)], want)
		}
	}
}

// /upload?model= answers the same 404 for an unknown id and for a model
// the caller cannot see (a draft of someone else): a 403 told that the
// draft exists (issue 15).
func TestUploadModelParamRevealsNothing(t *testing.T) {
	e := newTestEnv(t, nil)
	draft := e.upload("alice", zipFixture(t, "upsample-onnx", "Secret Draft"), repo.UploadOptions{Draft: true})
	e.waitTest(draft.ModelID, draft.Number)
	codeHidden, bodyHidden := e.get("bob", "/upload?model="+draft.ModelID)
	codeUnknown, bodyUnknown := e.get("bob", "/upload?model=no-such-model")
	if codeHidden != http.StatusNotFound || codeUnknown != http.StatusNotFound {
		t.Errorf("hidden draft: %d, unknown id: %d; want 404 for both", codeHidden, codeUnknown)
	}
	msg := func(body string) string {
		i := strings.Index(body, "<main")
		return strings.ReplaceAll(body[i:], "no-such-model", draft.ModelID)
	}
	if msg(bodyHidden) != msg(bodyUnknown) {
		t.Errorf("the pages differ:\n%s\n---\n%s", msg(bodyHidden), msg(bodyUnknown))
	}
	if code, body := e.get("alice", "/upload?model="+draft.ModelID); code != 200 || !strings.Contains(body, "Upload a new version of") {
		t.Errorf("the owner's own draft: %d", code)
	}
}
