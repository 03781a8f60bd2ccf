package platform

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/web"
)

// Limits of request bodies.
type Limits struct {
	MaxChallenge  int64 // bytes of a challenge's creation request, files included (default 2 GiB)
	MaxSubmission int64 // bytes of a predictions zip (default 1 GiB)
}

// Handler serves the challenge API and pages.
type Handler struct {
	Svc    *Service
	Limits Limits
	// CSRF gives the session's CSRF token that the pages' forms send
	// (nil: the forms carry none, and web refuses them from sessions).
	CSRF interface{ CSRFToken(*http.Request) string }
	// Frame, if set, writes a page's main content inside the site's
	// layout (header, search, sign-in links: package pages' Frame.Render)
	// with status and title; nil frames the pages in a bare layout.
	Frame func(w http.ResponseWriter, r *http.Request, status int, title string, main template.HTML)
}

func (h *Handler) maxChallenge() int64 {
	if h.Limits.MaxChallenge > 0 {
		return h.Limits.MaxChallenge
	}
	return 2 << 30
}

func (h *Handler) maxSubmission() int64 {
	if h.Limits.MaxSubmission > 0 {
		return h.Limits.MaxSubmission
	}
	return 1 << 30
}

// Routes are the API routes (with their OpenAPI operations) and the pages.
//
//	GET  /api/v1/challenges                                      list
//	POST /api/v1/challenges                                      create (multipart: "challenge" JSON, files in parts "public", "input", "truth")
//	GET  /api/v1/challenges/{slug}                               one challenge
//	GET  /api/v1/challenges/{slug}/files/{name}                  a public file (hidden files: 404)
//	POST /api/v1/challenges/{slug}/phases/{phase}/submissions    a predictions zip (application/zip) or {"model": "ID/N"}
//	GET  /api/v1/challenges/{slug}/submissions                   the caller's submissions (organisers: all)
//	GET  /api/v1/challenges/{slug}/submissions/{id}              one submission with per-image scores
//	GET  /api/v1/challenges/{slug}/phases/{phase}/leaderboard    ranked JSON
//	GET  /api/v1/challenges/{slug}/phases/{phase}/leaderboard.csv
//	PATCH  /api/v1/challenges/{slug}                             edit (organisers; merge-patch: title, description, metrics, phases by name)
//	DELETE /api/v1/challenges/{slug}/submissions/{id}            withdraw (the submitter, while the phase is open)
//	POST /api/v1/challenges/{slug}/submissions/{id}/disqualify   {"reason": "…"} (organisers)
//	POST /api/v1/challenges/{slug}/submissions/{id}/reinstate    undo a disqualification (organisers)
//	GET  /challenges, /challenges/{slug}, /challenges/{slug}/submissions/{id}   pages
//	POST /challenges/{slug}/submissions/{id}/{withdraw,disqualify,reinstate}    the submission page's forms
func (h *Handler) Routes() []web.Route {
	r := func(pattern string, fn http.HandlerFunc, doc string) web.Route {
		var d json.RawMessage
		if doc != "" {
			d = json.RawMessage(doc)
		}
		return web.Route{Pattern: pattern, Auth: true, Handler: fn, Doc: d}
	}
	return []web.Route{
		r("GET /api/v1/challenges", h.list, docList),
		r("POST /api/v1/challenges", h.create, docCreate),
		r("GET /api/v1/challenges/{slug}", h.get, docGet),
		r("GET /api/v1/challenges/{slug}/files/{name}", h.file, docFile),
		r("POST /api/v1/challenges/{slug}/phases/{phase}/submissions", h.submit, docSubmit),
		r("GET /api/v1/challenges/{slug}/submissions", h.submissions, docSubmissions),
		r("GET /api/v1/challenges/{slug}/submissions/{id}", h.submission, docSubmission),
		r("GET /api/v1/challenges/{slug}/phases/{phase}/leaderboard", h.leaderboardJSON, docLeaderboard),
		r("GET /api/v1/challenges/{slug}/phases/{phase}/leaderboard.csv", h.leaderboardCSV, docLeaderboardCSV),
		r("PATCH /api/v1/challenges/{slug}", h.patch, docPatch),
		r("DELETE /api/v1/challenges/{slug}/submissions/{id}", h.withdraw, docWithdraw),
		r("POST /api/v1/challenges/{slug}/submissions/{id}/disqualify", h.disqualify, docDisqualify),
		r("POST /api/v1/challenges/{slug}/submissions/{id}/reinstate", h.reinstate, docReinstate),
		r("GET /challenges", h.pageList, ""),
		r("GET /challenges/{slug}", h.pageChallenge, ""),
		r("GET /challenges/{slug}/submissions/{id}", h.pageSubmission, ""),
		r("POST /challenges/{slug}/phases/{phase}/submit", h.pageSubmit, ""),
		r("POST /challenges/{slug}/submissions/{id}/withdraw", h.pageAction("withdraw"), ""),
		r("POST /challenges/{slug}/submissions/{id}/disqualify", h.pageAction("disqualify"), ""),
		r("POST /challenges/{slug}/submissions/{id}/reinstate", h.pageAction("reinstate"), ""),
	}
}

func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	cs, err := h.Svc.List(r.Context(), web.UserOf(r))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	if cs == nil {
		cs = []*challenge.Challenge{}
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, map[string]any{"challenges": cs})
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	c, err := h.Svc.Get(r.Context(), web.UserOf(r), r.PathValue("slug"))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, c)
}

// file serves a public file. Hidden inputs and truths have no route: the
// service answers NotFound for any name that is not a public file.
func (h *Handler) file(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, err := h.Svc.PublicFile(r.Context(), r.PathValue("slug"), name)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// create reads a multipart request: a part named "challenge" (JSON of the
// challenge without files), then file parts named public, input or truth
// whose filename is the file's name.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	const op = "challenge.Create"
	u := web.UserOf(r)
	if u == nil {
		web.Fail(w, r, zoo.E(op, zoo.Unauthorized, nil, "log in to create a challenge"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.maxChallenge())
	mr, err := r.MultipartReader()
	if err != nil {
		web.Fail(w, r, zoo.E(op, zoo.Invalid, err, "send multipart/form-data: a part \"challenge\" (JSON) and file parts named public, input or truth"))
		return
	}
	var c *challenge.Challenge
	var files []NewFile
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			web.Fail(w, r, bodyErr(op, err, h.maxChallenge()))
			return
		}
		b, err := io.ReadAll(p)
		if err != nil {
			web.Fail(w, r, bodyErr(op, err, h.maxChallenge()))
			return
		}
		switch p.FormName() {
		case "challenge":
			c = new(challenge.Challenge)
			if err := json.Unmarshal(b, c); err != nil {
				web.Fail(w, r, zoo.E(op, zoo.Invalid, err, "the \"challenge\" part is not a challenge in JSON"))
				return
			}
		case challenge.Public, challenge.Input, challenge.Truth:
			files = append(files, NewFile{Kind: p.FormName(), Name: p.FileName(), Data: b})
		default:
			web.Fail(w, r, zoo.E(op, zoo.Invalid, nil, "unknown part %q; use challenge, public, input or truth", p.FormName()))
			return
		}
	}
	if c == nil {
		web.Fail(w, r, zoo.E(op, zoo.Invalid, nil, "the request has no \"challenge\" part (JSON: slug, title, description, metrics, phases, …)"))
		return
	}
	if err := h.Svc.Create(r.Context(), u, c, files); err != nil {
		web.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, view(c, u))
}

func bodyErr(op string, err error, max int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return zoo.E(op, zoo.TooLarge, nil, "the request is larger than %d bytes", max)
	}
	return zoo.E(op, zoo.Invalid, err, "the request body cannot be read")
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	const op = "challenge.Submit"
	u := web.UserOf(r)
	if u == nil {
		web.Fail(w, r, zoo.E(op, zoo.Unauthorized, nil, "log in to submit"))
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var zipData []byte
	var model string
	switch ct {
	case "application/json":
		var body struct {
			Model string `json:"model"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || body.Model == "" {
			web.Fail(w, r, zoo.E(op, zoo.Invalid, err, `send {"model": "ID/N"} to submit a published model`))
			return
		}
		model = body.Model
	case "application/zip", "application/octet-stream", "application/x-zip-compressed":
		if r.ContentLength > h.maxSubmission() {
			web.Fail(w, r, zoo.E(op, zoo.TooLarge, nil, "the zip is %d bytes; a submission may have at most %d", r.ContentLength, h.maxSubmission()))
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxSubmission()))
		if err != nil {
			web.Fail(w, r, bodyErr(op, err, h.maxSubmission()))
			return
		}
		zipData = b
	default:
		web.Fail(w, r, zoo.E(op, zoo.Invalid, nil, "Content-Type %q: send the predictions zip as application/zip, or {\"model\": \"ID/N\"} as application/json", ct))
		return
	}
	sub, err := h.Svc.Submit(r.Context(), u, r.PathValue("slug"), r.PathValue("phase"), zipData, model)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	c, err := h.Svc.Store.ChallengeByID(r.Context(), sub.ChallengeID)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusAccepted, h.Svc.redact(c, sub, u))
}

func (h *Handler) submissions(w http.ResponseWriter, r *http.Request) {
	subs, err := h.Svc.Submissions(r.Context(), web.UserOf(r), r.PathValue("slug"))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	if subs == nil {
		subs = []*challenge.Submission{}
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, map[string]any{"submissions": subs})
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, zoo.E("challenge.Submission", zoo.NotFound, nil, "no submission %q", s)
	}
	return id, nil
}

func (h *Handler) submission(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	_, sub, err := h.Svc.Submission(r.Context(), web.UserOf(r), r.PathValue("slug"), id)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, sub)
}

// LeaderboardDoc is the JSON export of a leaderboard.
type LeaderboardDoc struct {
	Challenge string             `json:"challenge"`
	Phase     string             `json:"phase"`
	Ranking   string             `json:"ranking"`
	Metrics   []challenge.Metric `json:"metrics"`
	Ties      string             `json:"ties"`
	Rows      []challenge.Row    `json:"rows"`
}

// TiesRule is how every leaderboard states its tie rule.
const TiesRule = `equal scores share a rank; the next rank skips as many places as were shared ("1224" competition ranking)`

func (h *Handler) leaderboard(r *http.Request) (*LeaderboardDoc, error) {
	c, rows, err := h.Svc.Leaderboard(r.Context(), web.UserOf(r), r.PathValue("slug"), r.PathValue("phase"))
	if err != nil {
		return nil, err
	}
	if rows == nil {
		rows = []challenge.Row{}
	}
	return &LeaderboardDoc{Challenge: c.Slug, Phase: r.PathValue("phase"), Ranking: c.Ranking, Metrics: c.Metrics, Ties: TiesRule, Rows: rows}, nil
}

func (h *Handler) leaderboardJSON(w http.ResponseWriter, r *http.Request) {
	doc, err := h.leaderboard(r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	noStore(w)
	web.WriteJSON(w, http.StatusOK, doc)
}

// leaderboardCSV: rank, user, submission, created_at, mean_rank, then per
// metric its score and rank. Infinite scores are written "Infinity".
func (h *Handler) leaderboardCSV(w http.ResponseWriter, r *http.Request) {
	doc, err := h.leaderboard(r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	noStore(w)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": doc.Challenge + "-" + doc.Phase + "-leaderboard.csv"}))
	cw := csv.NewWriter(w)
	head := []string{"rank", "user", "submission", "kind", "model", "created_at", "mean_rank"}
	for _, m := range doc.Metrics {
		head = append(head, m.Key(), m.Key()+"_rank")
	}
	cw.Write(head)
	for _, row := range doc.Rows {
		s := row.Submission
		rec := []string{strconv.Itoa(row.Rank), csvSafe(s.User), strconv.FormatInt(s.ID, 10), s.Kind, csvSafe(s.Model),
			s.CreatedAt.Format("2006-01-02T15:04:05Z"), ""}
		if doc.Ranking == challenge.RankMeanRank {
			rec[6] = strconv.FormatFloat(row.MeanRank, 'g', -1, 64)
		}
		for _, m := range doc.Metrics {
			rec = append(rec, strings.Trim(string(score.MarshalValue(float64(s.Scores[m.Key()]))), `"`), strconv.Itoa(row.Ranks[m.Key()]))
		}
		cw.Write(rec)
	}
	cw.Flush()
}

// csvSafe defuses spreadsheet formulas in user-given text.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
