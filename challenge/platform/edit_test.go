package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/web"
)

// editEnv is an env whose challenge "demo" (public leaderboard) has carl,
// a contributor, among its organisers, an admin "ada", and a bearer token
// per user.
type editEnv struct {
	*env
	ada    *zoo.User
	h      http.Handler
	tokens map[string]string
}

func newEditEnv(t *testing.T, e *env) *editEnv {
	t.Helper()
	ada, err := e.repo.Catalog().CreateUser(ctx, "ada", zoo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c := e.challenge("demo", challenge.LeaderboardPublic)
	c.Organisers = []string{"carl"}
	if err := e.svc.Create(ctx, e.org, c, e.files); err != nil {
		t.Fatal(err)
	}
	x := &editEnv{env: e, ada: ada, tokens: map[string]string{}}
	for _, u := range []*zoo.User{e.org, e.alice, e.bo, e.contributor, ada} {
		secret := web.NewToken()
		if _, err := e.repo.Catalog().CreateToken(ctx, u.ID, web.HashToken(secret)); err != nil {
			t.Fatal(err)
		}
		x.tokens[u.Name] = secret
	}
	x.h = web.New(e.repo, web.Options{Routes: (&Handler{Svc: e.svc}).Routes(), Logger: slog.New(slog.DiscardHandler)})
	return x
}

// do sends one request as who ("" = anonymous).
func (x *editEnv) do(method, target, who, ct string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	if who != "" {
		r.Header.Set("Authorization", "Bearer "+x.tokens[who])
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	w := httptest.NewRecorder()
	x.h.ServeHTTP(w, r)
	return w
}

func (x *editEnv) submit(t *testing.T, u *zoo.User, d float32) *challenge.Submission {
	t.Helper()
	s, err := x.svc.Submit(ctx, u, "demo", "dev", x.predictions(t, offset(d)), "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// matrix checks the status of one request as each caller.
func (x *editEnv) matrix(t *testing.T, method, target, ct string, body []byte, want map[string]int) {
	t.Helper()
	for _, who := range []string{"", "bo", "alice", "carl", "ada"} {
		code, ok := want[who]
		if !ok {
			continue
		}
		if w := x.do(method, target, who, ct, body); w.Code != code {
			t.Errorf("%s %s as %q: %d, want %d: %s", method, target, who, w.Code, code, w.Body)
		}
	}
}

// Who may edit, withdraw, disqualify and reinstate: anonymous, another
// participant, the submitter, a named organiser and an admin.
func TestEditAuthorization(t *testing.T) {
	x := newEditEnv(t, newEnv(t))
	a := x.submit(t, x.alice, 1)
	b := x.submit(t, x.bo, 2)
	const mp = "application/merge-patch+json"
	x.matrix(t, "PATCH", "/api/v1/challenges/demo", mp, []byte(`{"title": "Demo 2"}`),
		map[string]int{"": 401, "bo": 403, "alice": 403, "carl": 200, "ada": 200})

	wd := fmt.Sprintf("/api/v1/challenges/demo/submissions/%d", a.ID)
	x.matrix(t, "DELETE", wd, "", nil, map[string]int{"": 401, "bo": 403, "carl": 403, "ada": 403})
	x.matrix(t, "DELETE", wd, "", nil, map[string]int{"alice": 200})
	x.matrix(t, "DELETE", wd, "", nil, map[string]int{"alice": 409}) // twice
	// Withdrawn, it is off the leaderboard: strangers no longer see it at all.
	x.matrix(t, "DELETE", wd, "", nil, map[string]int{"bo": 404})

	dq := fmt.Sprintf("/api/v1/challenges/demo/submissions/%d/disqualify", b.ID)
	reason := []byte(`{"reason": "the same predictions as another team's"}`)
	x.matrix(t, "POST", dq, "application/json", reason, map[string]int{"": 401, "alice": 403, "bo": 403})
	x.matrix(t, "POST", dq, "application/json", reason, map[string]int{"carl": 200, "ada": 200})
	re := fmt.Sprintf("/api/v1/challenges/demo/submissions/%d/reinstate", b.ID)
	x.matrix(t, "POST", re, "", nil, map[string]int{"": 401, "alice": 404, "bo": 403}) // disqualified: alice no longer sees it
	x.matrix(t, "POST", re, "", nil, map[string]int{"ada": 200})
	x.matrix(t, "POST", re, "", nil, map[string]int{"carl": 409}) // not disqualified any more
	x.matrix(t, "POST", dq, "application/json", reason, map[string]int{"carl": 200})
	x.matrix(t, "POST", re, "", nil, map[string]int{"carl": 200})
}

// The leaderboard (JSON, CSV, the page) leaves withdrawn and disqualified
// submissions out; reinstating brings one back; a withdrawn submission no
// longer counts as its participant's best and its slot is not refunded.
func TestLeaderboardWithdrawDisqualify(t *testing.T) {
	x := newEditEnv(t, newEnv(t))
	best := x.submit(t, x.alice, 1)
	worse := x.submit(t, x.alice, 5)
	b := x.submit(t, x.bo, 3)
	rowsOf := func() map[string]int64 {
		t.Helper()
		_, rows, err := x.svc.Leaderboard(ctx, nil, "demo", "dev")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, r := range rows {
			out[r.Submission.User] = r.Submission.ID
		}
		return out
	}
	if got := rowsOf(); got["alice"] != best.ID || got["bo"] != b.ID {
		t.Fatalf("leaderboard %v", got)
	}
	if _, err := x.svc.Withdraw(ctx, x.alice, "demo", best.ID); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(); got["alice"] != worse.ID {
		t.Errorf("after withdrawing the best, alice's row is %d, want %d", got["alice"], worse.ID)
	}
	sub, err := x.svc.Disqualify(ctx, x.contributor, "demo", b.ID, "  copied  ")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Disqualified == nil || sub.Disqualified.Reason != "copied" || sub.Disqualified.By != "carl" {
		t.Errorf("disqualified: %+v", sub.Disqualified)
	}
	if got := rowsOf(); len(got) != 1 || got["bo"] != 0 {
		t.Errorf("leaderboard with bo disqualified: %v", got)
	}
	csv := x.do("GET", "/api/v1/challenges/demo/phases/dev/leaderboard.csv", "", "", nil).Body.String()
	js := x.do("GET", "/api/v1/challenges/demo/phases/dev/leaderboard", "", "", nil).Body.String()
	page := x.do("GET", "/challenges/demo", "", "", nil).Body.String()
	for what, body := range map[string]string{"CSV": csv, "JSON": js, "page": page} {
		if strings.Contains(body, "bo") && strings.Contains(body, fmt.Sprintf("#%d ", b.ID)) || strings.Contains(body, `"user":"bo"`) || strings.Contains(body, ",bo,") {
			t.Errorf("the %s export still lists bo's disqualified submission:\n%s", what, body)
		}
		if !strings.Contains(body, "alice") {
			t.Errorf("the %s export lost alice:\n%s", what, body)
		}
	}
	// bo sees the reason, in the API and on the page.
	if w := x.do("GET", fmt.Sprintf("/api/v1/challenges/demo/submissions/%d", b.ID), "bo", "", nil); !strings.Contains(w.Body.String(), `"reason":"copied"`) {
		t.Errorf("bo's submission in the API: %s", w.Body)
	}
	if w := x.do("GET", fmt.Sprintf("/challenges/demo/submissions/%d", b.ID), "bo", "", nil); !strings.Contains(w.Body.String(), "Disqualified") || !strings.Contains(w.Body.String(), "copied") {
		t.Errorf("bo's submission page: %s", w.Body)
	}
	if _, err := x.svc.Reinstate(ctx, x.ada, "demo", b.ID); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(); got["bo"] != b.ID {
		t.Errorf("reinstated, bo's row is %v", got)
	}
	// The withdrawn slot is not given back: total 3, alice has used 2
	// (one withdrawn) and may make one more.
	x.now = x.now.Add(24 * time.Hour)
	x.submit(t, x.alice, 2)
	_, err = x.svc.Submit(ctx, x.alice, "demo", "dev", x.predictions(t, offset(2)), "")
	want(t, err, zoo.Conflict, "3 of the 3")
	// After the phase closes, nothing can be withdrawn.
	x.now = t0.Add(49 * time.Hour)
	_, err = x.svc.Withdraw(ctx, x.alice, "demo", worse.ID)
	want(t, err, zoo.Conflict, "closed")
}

// queueStub records jobs without running them, so a submission stays
// queued until the test evaluates it.
type queueStub struct{ n int64 }

func (q *queueStub) Enqueue(context.Context, string, any) (int64, error) { q.n++; return q.n, nil }

// A withdrawal racing the scoring job: withdrawn wins, the later score is
// stored and the submission stays off the leaderboard.
func TestWithdrawBeforeScoring(t *testing.T) {
	x := newEditEnv(t, newEnv(t))
	x.svc.Queue = &queueStub{}
	s := x.submit(t, x.alice, 1)
	if _, err := x.svc.Withdraw(ctx, x.alice, "demo", s.ID); err != nil {
		t.Fatal(err)
	}
	if err := x.svc.Evaluate(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	_, got, err := x.svc.Submission(ctx, x.alice, "demo", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != challenge.StatusScored || got.Scores == nil || got.WithdrawnAt == nil {
		t.Errorf("withdrawn, then scored: %+v", got)
	}
	if _, rows, _ := x.svc.Leaderboard(ctx, nil, "demo", "dev"); len(rows) != 0 {
		t.Errorf("a withdrawn submission is ranked: %+v", rows)
	}
}

func TestUpdateRules(t *testing.T) { testUpdateRules(t, newEnv(t)) }

func testUpdateRules(t *testing.T, e *env) {
	x := newEditEnv(t, e)
	up := func(u *zoo.User, body string) (*challenge.Challenge, error) {
		t.Helper()
		p, err := ParsePatch([]byte(body))
		if err != nil {
			t.Fatalf("ParsePatch(%s): %v", body, err)
		}
		return x.svc.Update(ctx, u, "demo", p)
	}
	_, err := up(x.contributor, `{"phases": [{"name": "dev", "closes_at": "2026-05-01T00:00:00Z"}]}`)
	want(t, err, zoo.Invalid, "closes_at", "must come after opens_at")
	_, err = up(x.contributor, `{"phases": [{"name": "dev", "per_day": 0}]}`)
	want(t, err, zoo.Invalid, "at least 1")
	_, err = up(x.contributor, `{"phases": [{"name": "dev", "total": -2}]}`)
	want(t, err, zoo.Invalid, "at least 1")
	_, err = up(x.contributor, `{"phases": [{"name": "qualifier", "total": 2}]}`)
	want(t, err, zoo.Invalid, "no phase")
	_, err = up(x.contributor, `{"title": "  "}`)
	want(t, err, zoo.Invalid, "title")
	_, err = up(x.contributor, `{"metrics": [{"name": "nope"}]}`)
	want(t, err, zoo.Invalid, "metrics.0")
	// Before any submission the metrics may change.
	c, err := up(x.contributor, `{"metrics": [{"name": "psnr"}, {"name": "mse"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Metrics) != 2 || c.Metrics[1].Name != score.MetricMSE {
		t.Errorf("metrics %+v", c.Metrics)
	}
	x.submit(t, x.alice, 1)
	x.submit(t, x.alice, 2)
	_, err = up(x.contributor, `{"metrics": [{"name": "psnr"}]}`)
	want(t, err, zoo.Conflict, "metrics cannot change")
	// The same metrics again are not a change.
	if _, err := up(x.contributor, `{"metrics": [{"name": "psnr"}, {"name": "mse"}]}`); err != nil {
		t.Errorf("unchanged metrics after a submission: %v", err)
	}
	// Lowering the total below what alice has used keeps her submissions
	// and refuses new ones.
	x.now = x.now.Add(24 * time.Hour)
	c, err = up(x.contributor, `{"title": "Demo, revised", "phases": [{"name": "dev", "total": 1, "closes_at": "2026-05-08T10:00:00Z"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Phase("dev"); p.Total != 1 || p.PerDay != 2 || !p.ClosesAt.Equal(t0.Add(96*time.Hour)) || c.Title != "Demo, revised" {
		t.Errorf("after the edit: %+v %q", p, c.Title)
	}
	subs, err := x.svc.Submissions(ctx, x.alice, "demo")
	if err != nil || len(subs) != 2 {
		t.Errorf("alice's submissions after the limit was lowered: %v, %d", err, len(subs))
	}
	_, err = x.svc.Submit(ctx, x.alice, "demo", "dev", x.predictions(t, offset(3)), "")
	want(t, err, zoo.Conflict, "2 of the 1")
	// The history: organisers see who changed what when; others do not.
	c, err = x.svc.Get(ctx, x.contributor, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Changes) != 2 || c.Changes[0].User != "carl" || strings.Join(c.Changes[0].Fields, ",") != "metrics" ||
		strings.Join(c.Changes[1].Fields, ",") != "title,phases.dev.closes_at,phases.dev.total" || !c.Changes[1].At.Equal(x.now) {
		t.Errorf("changes %+v", c.Changes)
	}
	if c, _ := x.svc.Get(ctx, x.alice, "demo"); c.Changes != nil {
		t.Errorf("a participant sees the changes: %+v", c.Changes)
	}
	if w := x.do("GET", "/api/v1/challenges/demo", "carl", "", nil); !strings.Contains(w.Body.String(), `"changes":[`) {
		t.Errorf("the organiser's JSON has no changes: %s", w.Body)
	}
}

// Hostile bodies of the new routes are refused with 400 or 413, and
// nothing changes.
func TestEditHostileInput(t *testing.T) {
	x := newEditEnv(t, newEnv(t))
	b := x.submit(t, x.bo, 1)
	const mp = "application/merge-patch+json"
	for name, tc := range map[string]struct {
		ct   string
		body string
		code int
		says string
	}{
		"oversized":        {mp, `{"description": "` + strings.Repeat("a", MaxPatch) + `"}`, 413, "larger than"},
		"unknown field":    {mp, `{"slug": "other"}`, 400, "unknown field"},
		"hidden data":      {mp, `{"files": [{"kind": "truth", "name": "img01.npy"}]}`, 400, "cannot be changed"},
		"nested unknown":   {mp, `{"phases": [{"name": "dev", "truth": "x"}]}`, 400, "cannot be changed"},
		"invalid UTF-8":    {mp, "{\"description\": \"bad \xff\xfe\"}", 400, "UTF-8"},
		"two objects":      {mp, `{"title": "a"}{"title": "b"}`, 400, "after its JSON object"},
		"not an object":    {mp, `["title"]`, 400, "not a JSON object"},
		"wrong type":       {mp, `{"phases": [{"name": "dev", "total": "many"}]}`, 400, "not a JSON object"},
		"bad time":         {mp, `{"phases": [{"name": "dev", "opens_at": "tomorrow"}]}`, 400, "not a JSON object"},
		"content type":     {"text/plain", `{"title": "x"}`, 400, "merge-patch"},
		"twice one phase":  {mp, `{"phases": [{"name": "dev", "total": 2}, {"name": "dev", "total": 3}]}`, 400, "twice"},
		"control in title": {mp, `{"title": "a\u0007b"}`, 400, "control"},
	} {
		w := x.do("PATCH", "/api/v1/challenges/demo", "carl", tc.ct, []byte(tc.body))
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.says) {
			t.Errorf("%s: %d %s, want %d saying %q", name, w.Code, w.Body, tc.code, tc.says)
		}
	}
	dq := fmt.Sprintf("/api/v1/challenges/demo/submissions/%d/disqualify", b.ID)
	for name, tc := range map[string]struct {
		body string
		code int
		says string
	}{
		"no reason":      {`{}`, 400, "give the reason"},
		"blank reason":   {`{"reason": "   "}`, 400, "give the reason"},
		"long reason":    {`{"reason": "` + strings.Repeat("é", 501) + `"}`, 400, "at most 500"},
		"invalid UTF-8":  {"{\"reason\": \"\xc3\x28\"}", 400, "UTF-8"},
		"unknown field":  {`{"reason": "x", "by": "admin"}`, 400, "unknown field"},
		"control":        {`{"reason": "a\u0000b"}`, 400, "control"},
		"oversized body": {`{"reason": "` + strings.Repeat("a", 9000) + `"}`, 413, "larger than"},
		"not JSON":       {`reason=x`, 400, "reason"},
	} {
		w := x.do("POST", dq, "carl", "application/json", []byte(tc.body))
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.says) {
			t.Errorf("disqualify, %s: %d %s, want %d saying %q", name, w.Code, w.Body, tc.code, tc.says)
		}
	}
	// A reason of exactly 500 characters is fine.
	if w := x.do("POST", dq, "carl", "application/json", []byte(`{"reason": "`+strings.Repeat("é", 500)+`"}`)); w.Code != 200 {
		t.Errorf("a 500-character reason: %d %s", w.Code, w.Body)
	}
	c, err := x.svc.Get(ctx, x.contributor, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != "Demo" || len(c.Changes) != 0 {
		t.Errorf("a refused edit changed the challenge: %q %+v", c.Title, c.Changes)
	}
}

// FuzzParsePatch: any body is refused or parsed into a Patch that
// survives a JSON round trip; nothing panics.
func FuzzParsePatch(f *testing.F) {
	for _, s := range []string{`{"title": "x"}`, `{"phases": [{"name": "dev", "opens_at": "2026-01-01T00:00:00Z", "total": 3}]}`,
		`{"metrics": [{"name": "ap", "threshold": 0.5}]}`, `{"files": []}`, "{\"description\": \"\xff\"}", `{}{}`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePatch(b)
		if err != nil {
			if k := zoo.KindOf(err); k != zoo.Invalid && k != zoo.TooLarge {
				t.Fatalf("kind %v: %v", k, err)
			}
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal %+v: %v", p, err)
		}
		if _, err := ParsePatch(out); err != nil {
			t.Fatalf("a parsed patch does not parse again: %s: %v", out, err)
		}
	})
}

// The submission page: the submitter gets a withdraw form with the
// session's CSRF token, the organiser a disqualify form with a labelled
// reason field; the page forms work and land back on the page.
func TestSubmissionPageForms(t *testing.T) {
	e := newEnv(t)
	x := newEditEnv(t, e)
	x.h = web.New(e.repo, web.Options{Routes: (&Handler{Svc: e.svc, CSRF: fixedCSRF("tok-123")}).Routes(), Logger: slog.New(slog.DiscardHandler)})
	s := x.submit(t, x.alice, 1)
	page := fmt.Sprintf("/challenges/demo/submissions/%d", s.ID)
	mine := x.do("GET", page, "alice", "", nil).Body.String()
	if !strings.Contains(mine, `action="`+page+`/withdraw"`) || !strings.Contains(mine, `name="csrf" value="tok-123"`) || strings.Contains(mine, "/disqualify") {
		t.Errorf("the submitter's page:\n%s", mine)
	}
	org := x.do("GET", page, "carl", "", nil)
	if !strings.Contains(org.Body.String(), `action="`+page+`/disqualify"`) || !strings.Contains(org.Body.String(), `<label for="reason">`) ||
		strings.Contains(org.Body.String(), "/withdraw") || org.Header().Get("Content-Security-Policy") != pageCSP {
		t.Errorf("the organiser's page:\n%s", org.Body)
	}
	w := x.do("POST", page+"/disqualify", "carl", "application/x-www-form-urlencoded", []byte("reason=late+%3Cb%3Ecopy%3C%2Fb%3E"))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != page {
		t.Fatalf("disqualify form: %d %s", w.Code, w.Body)
	}
	mine = x.do("GET", page, "alice", "", nil).Body.String()
	if !strings.Contains(mine, "Disqualified") || !strings.Contains(mine, "late &lt;b&gt;copy&lt;/b&gt;") {
		t.Errorf("the submitter's page after disqualification:\n%s", mine)
	}
	if w := x.do("POST", page+"/reinstate", "carl", "application/x-www-form-urlencoded", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("reinstate form: %d %s", w.Code, w.Body)
	}
	if w := x.do("POST", page+"/withdraw", "bo", "application/x-www-form-urlencoded", nil); w.Code != http.StatusForbidden {
		t.Errorf("bo withdraws alice's submission: %d %s", w.Code, w.Body)
	}
	if w := x.do("POST", page+"/withdraw", "alice", "application/x-www-form-urlencoded", nil); w.Code != http.StatusSeeOther {
		t.Fatalf("withdraw form: %d %s", w.Code, w.Body)
	}
	mine = x.do("GET", page, "alice", "", nil).Body.String()
	if !strings.Contains(mine, "Withdrawn") || strings.Contains(mine, "/withdraw\"") {
		t.Errorf("the submitter's page after withdrawing:\n%s", mine)
	}
}

type fixedCSRF string

func (f fixedCSRF) CSRFToken(*http.Request) string { return string(f) }

// Concurrent edits of different fields: each either lands or is refused
// with Conflict; none is silently overwritten by another.
func TestConcurrentEdits(t *testing.T) {
	x := newEditEnv(t, newEnv(t))
	bodies := []string{`{"title": "T"}`, `{"description": "D"}`, `{"phases": [{"name": "dev", "per_day": 7}]}`,
		`{"phases": [{"name": "dev", "total": 8}]}`, `{"phases": [{"name": "final", "per_day": 4}]}`, `{"phases": [{"name": "final", "total": 9}]}`}
	errs := make([]error, len(bodies))
	done := make(chan int)
	for i, b := range bodies {
		go func() {
			p, err := ParsePatch([]byte(b))
			if err == nil {
				_, err = x.svc.Update(ctx, x.contributor, "demo", p)
			}
			errs[i] = err
			done <- i
		}()
	}
	for range bodies {
		<-done
	}
	c, err := x.svc.Get(ctx, x.contributor, "demo")
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := c.Phase("dev")
	final, _ := c.Phase("final")
	landed := []bool{c.Title == "T", c.Description == "D", dev.PerDay == 7, dev.Total == 8, final.PerDay == 4, final.Total == 9}
	n := 0
	for i, err := range errs {
		switch {
		case err == nil && !landed[i]:
			t.Errorf("edit %s succeeded but was lost", bodies[i])
		case err != nil && zoo.KindOf(err) != zoo.Conflict:
			t.Errorf("edit %s: %v", bodies[i], err)
		case err == nil:
			n++
		}
	}
	if n == 0 || len(c.Changes) != n {
		t.Errorf("%d edits landed, %d changes recorded", n, len(c.Changes))
	}
}

func TestOrganiserRightsPerChallenge(t *testing.T) { testOrganiserRightsPerChallenge(t, newEnv(t)) }

// A reviewer who neither created a challenge nor is named among its
// organisers has no organiser rights over it (issue 15): no hidden
// leaderboard, no other participants' submissions, no edits, no
// disqualifications. The creator and an admin keep them.
func testOrganiserRightsPerChallenge(t *testing.T, e *env) {
	x := newEditEnv(t, e)
	rita, err := e.repo.Catalog().CreateUser(ctx, "rita", zoo.RoleReviewer)
	if err != nil {
		t.Fatal(err)
	}
	secret := web.NewToken()
	if _, err := e.repo.Catalog().CreateToken(ctx, rita.ID, web.HashToken(secret)); err != nil {
		t.Fatal(err)
	}
	x.tokens["rita"] = secret
	c := e.challenge("secret", challenge.LeaderboardHidden)
	if err := e.svc.Create(ctx, e.org, c, e.files); err != nil {
		t.Fatal(err)
	}
	sub, err := e.svc.Submit(ctx, e.alice, "secret", "dev", e.predictions(t, offset(1)), "")
	if err != nil {
		t.Fatal(err)
	}
	check := func(method, target, ct string, body []byte, want map[string]int) {
		t.Helper()
		for _, who := range []string{"rita", "olga", "ada"} {
			if code, ok := want[who]; ok {
				if w := x.do(method, target, who, ct, body); w.Code != code {
					t.Errorf("%s %s as %s: %d, want %d: %s", method, target, who, w.Code, code, w.Body)
				}
			}
		}
	}
	check("GET", "/api/v1/challenges/secret/phases/dev/leaderboard", "", nil, map[string]int{"rita": 403, "olga": 200, "ada": 200})
	check("GET", fmt.Sprintf("/api/v1/challenges/secret/submissions/%d", sub.ID), "", nil, map[string]int{"rita": 404, "olga": 200})
	check("PATCH", "/api/v1/challenges/secret", "application/merge-patch+json", []byte(`{"phases": [{"name": "dev", "closes_at": "2030-01-01T00:00:00Z"}]}`),
		map[string]int{"rita": 403})
	check("POST", fmt.Sprintf("/api/v1/challenges/secret/submissions/%d/disqualify", sub.ID), "application/json", []byte(`{"reason": "x"}`),
		map[string]int{"rita": 404, "olga": 200})
	if w := x.do("GET", "/api/v1/challenges/secret/submissions", "rita", "", nil); strings.Contains(w.Body.String(), "alice") {
		t.Errorf("a reviewer who does not organise the challenge lists others' submissions: %s", w.Body)
	}
	if w := x.do("GET", "/api/v1/challenges/secret", "rita", "", nil); strings.Contains(w.Body.String(), `"truth"`) || strings.Contains(w.Body.String(), `"changes"`) {
		t.Errorf("a reviewer who does not organise the challenge sees organiser data: %s", w.Body)
	}
	// A named organiser who is only a contributor keeps their rights on
	// their challenge (demo names carl), and gains none on another.
	if w := x.do("GET", "/api/v1/challenges/secret/phases/dev/leaderboard", "carl", "", nil); w.Code != 403 {
		t.Errorf("carl (organiser of demo) reads secret's hidden leaderboard: %d", w.Code)
	}
	// The rule itself.
	got, err := e.svc.Store.Challenge(ctx, "secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		u    *zoo.User
		want bool
	}{{rita, false}, {e.org, true}, {x.ada, true}, {e.alice, false}, {nil, false}} {
		if got.Organiser(tc.u) != tc.want {
			t.Errorf("Organiser(%v) = %v, want %v", tc.u, !tc.want, tc.want)
		}
	}
}
