package platform

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/web"
)

// server is the web handler with the challenge routes, and a bearer token
// per user.
func (e *env) server(t *testing.T) (http.Handler, map[string]string) {
	t.Helper()
	tokens := map[string]string{}
	for _, u := range []*zoo.User{e.org, e.alice, e.bo} {
		secret := web.NewToken()
		if _, err := e.repo.Catalog().CreateToken(ctx, u.ID, web.HashToken(secret)); err != nil {
			t.Fatal(err)
		}
		tokens[u.Name] = secret
	}
	h := &Handler{Svc: e.svc}
	return web.New(e.repo, web.Options{Routes: h.Routes(), Logger: slog.New(slog.DiscardHandler)}), tokens
}

func get(h http.Handler, target, token string) *httptest.ResponseRecorder {
	for range 3 { // follow the mux's path-cleaning redirects
		r := httptest.NewRequest("GET", target, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code/100 != 3 || w.Header().Get("Location") == "" {
			return w
		}
		target = w.Header().Get("Location")
	}
	panic("redirect loop")
}

// TestNoRouteServesHiddenData asks every route, and path tricks around
// them, as anonymous, participant and organiser, and checks that no
// response holds bytes (or the hash) of a ground truth (test inputs are
// published: TestDataContract).
func TestNoRouteServesHiddenData(t *testing.T) {
	e := newEnv(t)
	e.create(t, "demo", challenge.LeaderboardPublic)
	e.create(t, "secret", challenge.LeaderboardHidden)
	h, tokens := e.server(t)
	for _, slug := range []string{"demo", "secret"} {
		if _, err := e.svc.Submit(ctx, e.alice, slug, "dev", e.predictions(t, offset(1)), ""); err != nil {
			t.Fatal(err)
		}
	}
	// Needles: the data part (after the npy header) of every hidden file,
	// its sha256, and the sha256 of the whole file.
	type needle struct {
		what string
		b    []byte
	}
	var needles []needle
	for _, f := range e.files {
		if challenge.Downloadable(f.Kind) { // public files and test inputs are published (TestDataContract)
			continue
		}
		needles = append(needles, needle{f.Kind + " " + f.Name + " data", f.Data[len(f.Data)-64:]}, needle{f.Kind + " " + f.Name + " sha256", []byte(sha(f.Data))})
		x := f.Data[len(f.Data)-256:]
		needles = append(needles, needle{f.Kind + " " + f.Name + " data (hex)", []byte(hex.EncodeToString(x[:32]))})
	}
	var paths []string
	for _, slug := range []string{"demo", "secret"} {
		base := "/api/v1/challenges/" + slug
		for _, kind := range []string{"", "input/", "truth/", "input%2F", "truth%2F", "..%2F", "%2e%2e%2f", "..%2Ftruth%2F", "./", ".%2F", "%2F"} {
			for _, name := range []string{"img01.npy", "img02.npy", "img01", "IMG01.NPY"} {
				paths = append(paths, base+"/files/"+kind+name)
			}
		}
		paths = append(paths, base+"/files/../files/img01.npy", base+"/files/img01.npy%00", base+"/files/img01.npy/", base+"/files/%69mg01.npy",
			base, base+"/submissions", base+"/phases/dev/leaderboard", base+"/phases/dev/leaderboard.csv",
			base+"/phases/final/leaderboard", base+"/phases/..%2Fdev/leaderboard", base+"/phases/dev/submissions",
			"/challenges/"+slug, "/challenges/"+slug+"?phase=../../truth", "/challenges/"+slug+"?phase=dev",
			"/challenges/"+slug+"/files/img01.npy", "/challenges/"+slug+"/../../api/v1/challenges/"+slug+"/files/img01.npy")
		for id := range 6 {
			paths = append(paths, fmt.Sprintf("%s/submissions/%d", base, id), fmt.Sprintf("/challenges/%s/submissions/%d", slug, id),
				fmt.Sprintf("/api/v1/jobs/%d", id), fmt.Sprintf("/api/v1/challenges/%s/jobs/%d", slug, id))
		}
	}
	for _, f := range e.files {
		s := sha(f.Data)
		paths = append(paths, "/files/"+s, "/files/demo/1/"+f.Name, "/files/"+s+"/1/"+f.Name, "/packages/"+s, "/packages/demo", "/packages/demo/1",
			"/files/demo/latest/"+f.Name, "/blobs/"+s)
	}
	paths = append(paths, "/api/v1/challenges", "/challenges", "/api/openapi.json", "/api/v1/models", "/api/v1/review-queue")

	okPublic := 0
	for _, who := range []string{"", "alice", "bo", "olga"} {
		for _, p := range paths {
			w := get(h, p, tokens[who])
			body := w.Body.Bytes()
			for _, n := range needles {
				if bytes.Contains(body, n.b) && !strings.Contains(p, string(n.b)) { // a 404 may echo the path asked
					t.Errorf("GET %s as %q (status %d) leaks %s", p, who, w.Code, n.what)
				}
			}
		}
		if w := get(h, "/api/v1/challenges/demo/files/train.npy", tokens[who]); w.Code == 200 && bytes.Equal(w.Body.Bytes(), e.files[len(e.files)-1].Data) {
			okPublic++
		}
	}
	// The edit, withdraw, disqualify and reinstate routes, as every caller,
	// answer without hidden bytes either (a PATCH returns the challenge).
	type call struct{ method, path, ct, body string }
	var calls []call
	for _, slug := range []string{"demo", "secret"} {
		base := "/api/v1/challenges/" + slug
		calls = append(calls, call{"PATCH", base, "application/merge-patch+json", `{"title": "Edited"}`},
			call{"PATCH", base, "application/merge-patch+json", `{"files": [{"kind": "truth", "name": "img01.npy"}]}`},
			call{"PATCH", base, "application/merge-patch+json", `{"phases": [{"name": "dev", "total": 9}]}`})
		for id := range 4 {
			sp := fmt.Sprintf("%s/submissions/%d", base, id)
			calls = append(calls, call{"POST", sp + "/disqualify", "application/json", `{"reason": "checking"}`}, call{"POST", sp + "/reinstate", "", ""},
				call{"DELETE", sp, "", ""}, call{"POST", fmt.Sprintf("/challenges/%s/submissions/%d/withdraw", slug, id), "application/x-www-form-urlencoded", ""})
		}
	}
	for _, who := range []string{"", "alice", "bo", "olga"} {
		for _, c := range calls {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.ct != "" {
				r.Header.Set("Content-Type", c.ct)
			}
			if tokens[who] != "" {
				r.Header.Set("Authorization", "Bearer "+tokens[who])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			for _, n := range needles {
				if bytes.Contains(w.Body.Bytes(), n.b) {
					t.Errorf("%s %s as %q (status %d) leaks %s", c.method, c.path, who, w.Code, n.what)
				}
			}
		}
	}
	if okPublic != 4 {
		t.Errorf("the public file was served %d times of 4 (the test's positive control)", okPublic)
	}
	if testing.Verbose() {
		t.Logf("%d paths × 4 callers, %d needles", len(paths), len(needles))
	}
}

// TestHiddenLeaderboardHTTP: while the phase is open, the hidden
// leaderboard's scores reach only the organisers, through every route.
func TestHiddenLeaderboardHTTP(t *testing.T) {
	e := newEnv(t)
	e.create(t, "secret", challenge.LeaderboardHidden)
	h, tokens := e.server(t)
	s, err := e.svc.Submit(ctx, e.alice, "secret", "dev", e.predictions(t, offset(1)), "")
	if err != nil {
		t.Fatal(err)
	}
	full, _ := e.svc.Store.Submission(ctx, s.ID)
	mae := scoreText(full.Scores["mae"]) // as the page would print it
	maeJSON := fmt.Sprint(float64(full.Scores["mae"]))
	for _, who := range []string{"", "alice", "bo"} {
		for _, p := range []string{"/api/v1/challenges/secret/phases/dev/leaderboard", "/api/v1/challenges/secret/phases/dev/leaderboard.csv"} {
			if w := get(h, p, tokens[who]); w.Code != http.StatusForbidden {
				t.Errorf("GET %s as %q: %d, want 403", p, who, w.Code)
			}
		}
		for _, p := range []string{"/challenges/secret", "/api/v1/challenges/secret/submissions", fmt.Sprintf("/api/v1/challenges/secret/submissions/%d", s.ID),
			fmt.Sprintf("/challenges/secret/submissions/%d", s.ID)} {
			w := get(h, p, tokens[who])
			if b := w.Body.String(); strings.Contains(b, mae) || strings.Contains(b, maeJSON) || strings.Contains(b, `"scores"`) {
				t.Errorf("GET %s as %q shows a score", p, who)
			}
		}
	}
	if page := get(h, "/challenges/secret", tokens["alice"]).Body.String(); !strings.Contains(page, "You have 1 submission(s) left in phase dev today (1 of 2 used") {
		t.Error("alice's page does not say what she has left")
	}
	if page := get(h, "/challenges/secret", tokens["olga"]).Body.String(); !strings.Contains(page, "All submissions") || !strings.Contains(page, "<td>alice</td>") {
		t.Error("the organiser's page does not list every submission")
	}
	page := get(h, "/challenges/secret", "").Body.String()
	if !strings.Contains(page, "hidden until the phase closes") {
		t.Error("the page does not say the leaderboard is hidden")
	}
	// The organiser sees it; the CSV states every metric and rank.
	w := get(h, "/api/v1/challenges/secret/phases/dev/leaderboard.csv", tokens["olga"])
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "rank,user,submission,kind,model,created_at,mean_rank,psnr,psnr_rank,mae,mae_rank\n1,alice,") {
		t.Errorf("organiser's CSV: %d %q", w.Code, w.Body.String())
	}
	// After the close everyone does.
	e.now = t0.Add(48 * time.Hour)
	w = get(h, "/api/v1/challenges/secret/phases/dev/leaderboard", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ties"`) || !strings.Contains(w.Body.String(), maeJSON) {
		t.Errorf("after the close: %d %s", w.Code, w.Body.String())
	}
	page = get(h, "/challenges/secret?phase=dev", "").Body.String()
	if !strings.Contains(page, "<svg") || !strings.Contains(page, "1224") || strings.Contains(page, "<script>") {
		t.Errorf("the page after the close lacks plots or the tie rule, or has a script")
	}
}

// TestAPIFlow: create by multipart, submit a zip and a refused zip over
// HTTP, read the results.
func TestAPIFlow(t *testing.T) {
	e := newEnv(t)
	h, tokens := e.server(t)
	body, ct := multipartChallenge(t, e)
	r := httptest.NewRequest("POST", "/api/v1/challenges", body)
	r.Header.Set("Content-Type", ct)
	r.Header.Set("Authorization", "Bearer "+tokens["olga"])
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	post := func(token string, data []byte, ctype string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/api/v1/challenges/api-demo/phases/dev/submissions", bytes.NewReader(data))
		r.Header.Set("Content-Type", ctype)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := post("", e.predictions(t, offset(1)), "application/zip"); w.Code != http.StatusUnauthorized {
		t.Errorf("anonymous submission: %d", w.Code)
	}
	missing := e.predictions(t, offset(1))
	w = post(tokens["alice"], missing[:len(missing)/2], "application/zip")
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "not a readable zip") {
		t.Errorf("truncated zip: %d %s", w.Code, w.Body.String())
	}
	w = post(tokens["alice"], e.predictions(t, offset(1)), "application/zip")
	if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), `"status":"scored"`) {
		t.Errorf("submission: %d %s", w.Code, w.Body.String())
	}
	w = post(tokens["alice"], []byte(`{"model": "nope"}`), "application/json")
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "ID/N") {
		t.Errorf("bad model ref: %d %s", w.Code, w.Body.String())
	}
	w = get(h, "/api/v1/challenges/api-demo/phases/dev/leaderboard", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"user":"alice"`) {
		t.Errorf("leaderboard: %d %s", w.Code, w.Body.String())
	}
	w = get(h, "/api/openapi.json", "")
	if !strings.Contains(w.Body.String(), "/api/v1/challenges/{slug}/phases/{phase}/leaderboard.csv") {
		t.Error("the OpenAPI document lacks the challenge routes")
	}
}

func multipartChallenge(t *testing.T, e *env) (io.Reader, string) {
	var b bytes.Buffer
	mw := newMultipart(&b)
	c := e.challenge("api-demo", "public")
	mw.json("challenge", c)
	for _, f := range e.files {
		mw.file(f.Kind, f.Name, f.Data)
	}
	return &b, mw.close()
}
