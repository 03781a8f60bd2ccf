package platform

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/web"
)

// pageStyle is the pages' own minimal style, so they read well even where
// /static/style.css (package pages) is not served. The Content-Security-Policy allows
// exactly this inline block (by its hash) and same-origin stylesheets.
const pageStyle = `body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#1f2328}
table{border-collapse:collapse;margin:.5rem 0}th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#555;font-size:.9rem}.plot{max-width:100%;height:auto}
nav a{margin-right:1rem}pre{overflow-x:auto}code{background:#f3f3f3;padding:0 .2rem}.hidden{background:#fff8c5;padding:.5rem}`

var pageCSP = func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "default-src 'none'; style-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src 'self' data:; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
}()

var funcs = template.FuncMap{
	"md":    markdown,
	"score": scoreText,
	"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"val": func(m map[string]challenge.Value, k string) string {
		v, ok := m[k]
		if !ok {
			return "—"
		}
		return scoreText(v)
	},
	"rank": func(m map[string]int, k string) int { return m[k] },
}

func scoreText(v challenge.Value) string {
	f := float64(v)
	switch {
	case math.IsInf(f, 1):
		return "+∞"
	case math.IsInf(f, -1):
		return "−∞"
	case math.IsNaN(f):
		return "—"
	}
	return num(f)
}

// bareLayout frames the pages when no site layout is configured
// (Handler.Frame nil: tests, a server without package pages).
const bareLayout = `{{define "bare"}}<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}} · zoo</title>
<link rel="stylesheet" href="/static/style.css"><style>` + pageStyle + `</style></head><body>
<nav><a href="/">zoo</a><a href="/challenges">Challenges</a><a href="/login">Log in</a></nav><main>{{.Main}}</main></body></html>{{end}}`

// tmpl is parsed on first use, not at start-up of every zoo command. Each
// page is its main content; render frames it.
var tmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(funcs).Parse(bareLayout + `
{{define "list"}}<div class="challenge-page">
<h1>Challenges</h1>
<p>Open problems with test data: download the test inputs, submit predictions or a published model, and see how methods rank.</p>
{{range .}}<article class="card"><h2><a href="/challenges/{{.Slug}}">{{.Title}}</a></h2>
<p class="note">{{range .Phases}}{{.Name}}: {{when .OpensAt}} – {{when .ClosesAt}}. {{end}}Leaderboard {{.Leaderboard}}.</p></article>
{{else}}<p>No challenge yet.</p>{{end}}
</div>{{end}}

{{define "challenge"}}<div class="challenge-page">
<h1>{{.C.Title}}</h1>
<div class="description">{{md .C.Description}}</div>
<h2>Phases</h2>
<table><caption class="visually-hidden">Phases and their submission limits</caption>
<thead><tr><th scope="col">Phase</th><th scope="col">Opens</th><th scope="col">Closes</th><th scope="col" class="n">Per day</th><th scope="col" class="n">In total</th><th scope="col">Status</th></tr></thead>
<tbody>{{range .C.Phases}}<tr><td><a href="?phase={{.Name}}">{{.Name}}</a></td><td>{{when .OpensAt}}</td><td>{{when .ClosesAt}}</td><td class="n">{{.PerDay}}</td><td class="n">{{.Total}}</td>
<td>{{if $.Now.Before .OpensAt}}not open yet{{else if .Open $.Now}}open{{else}}closed{{end}}</td></tr>{{end}}</tbody></table>
<p class="note">Limits are per participant: per UTC day (counts reset at 00:00 UTC) and over the phase. Submissions refused as invalid do not count; withdrawn ones do (withdrawing does not give the slot back).</p>
<h2>Scoring</h2>
<p>Metrics: {{range $i, $m := .C.Metrics}}{{if $i}}, {{end}}<code>{{$m.Key}}</code>{{if $m.Name.HigherIsBetter}} (higher is better){{else}} (lower is better){{end}}{{end}}.
Each submission's score is the mean over the test images.
{{if eq .C.Ranking "mean-rank"}}Ranking: by the mean of the ranks by every metric (lower is better).{{else}}Ranking: by <code>{{(index .C.Metrics 0).Key}}</code>.{{end}}
Ties: {{.Ties}}. Each participant appears once, with their best submission.</p>
<h2>Data</h2>
<h3>Test inputs</h3>
<p>Predict each of these images and submit one prediction per input, named like it (<code>.npy</code> or <code>.tif</code>, any extension), in one zip. Their ground truth never leaves the server.</p>
<ul id="inputs">{{range .Inputs}}<li><a href="/api/v1/challenges/{{$.C.Slug}}/files/{{.}}" download>{{.}}</a></li>{{end}}</ul>
<h3>Other data</h3>
{{if .Public}}<ul id="public-files">{{range .Public}}<li><a href="/api/v1/challenges/{{$.C.Slug}}/files/{{.}}" download>{{.}}</a></li>{{end}}</ul>{{else}}<p>No other public data.</p>{{end}}
<h2 id="submit">Submit to phase {{.Phase}}</h2>
{{if not .PhaseOpen}}<p>Phase {{.Phase}} is not open for submissions now.</p>
{{else if not .User}}<p><a href="/login?next=/challenges/{{.C.Slug}}">Log in</a> to submit: a zip of predictions, or a published model <code>ID/N</code> that zoo runs on the test inputs.</p>
{{else if not .CSRF}}<p>Submit with the API (below): this server has no web sessions.</p>
{{else}}<form id="submit-form" class="card" method="post" enctype="multipart/form-data" action="/challenges/{{.C.Slug}}/phases/{{.Phase}}/submit">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="predictions">Predictions zip (one file per test input, named like it)</label>
<input id="predictions" name="predictions" type="file" accept=".zip,application/zip">
<label for="model">…or a published model, as <code>ID/N</code></label>
<input id="model" name="model" type="text" placeholder="e.g. affable-shark/1" maxlength="200">
<button type="submit">Submit</button>
</form>{{end}}
{{with .Left}}<p class="note">{{.}}</p>{{end}}
<h3 id="api-submit">Or from a script (API)</h3>
<pre><code>curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/zip" --data-binary @predictions.zip {{.Base}}/api/v1/challenges/{{.C.Slug}}/phases/{{.Phase}}/submissions
curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"model": "ID/N"}' {{.Base}}/api/v1/challenges/{{.C.Slug}}/phases/{{.Phase}}/submissions</code></pre>
<p id="token-source"><code>$TOKEN</code> is your API token: the one you <a href="/login">log in</a> with. This server has no page that makes tokens; its administrators make one for you with <code>zoo admin token --user YOUR-NAME</code> (the <a href="/login">log-in page</a> shows the full command for those running the server). Or use <code>zoo challenge submit --server {{.Base}} --token TOKEN {{.C.Slug}} {{.Phase}} FOLDER</code>.</p>
<h2>Leaderboard: {{.Phase}}</h2>
{{if .Hidden}}<p class="alert">{{.Hidden}}</p>{{else}}
<p class="note">Export: <a href="/api/v1/challenges/{{.C.Slug}}/phases/{{.Phase}}/leaderboard.csv">CSV</a> · <a href="/api/v1/challenges/{{.C.Slug}}/phases/{{.Phase}}/leaderboard">JSON</a>.
Equal scores share a rank ("1224" ranking).</p>
<div class="scroll"><table id="leaderboard"><caption class="visually-hidden">Leaderboard of phase {{.Phase}}</caption>
<thead><tr><th scope="col" class="n">Rank</th><th scope="col">Participant</th><th scope="col">Submission</th>{{range .C.Metrics}}<th scope="col" class="n">{{.Key}} (rank)</th>{{end}}{{if eq .C.Ranking "mean-rank"}}<th scope="col" class="n">Mean rank</th>{{end}}<th scope="col">Submitted</th></tr></thead>
<tbody>{{range .Rows}}<tr><td class="n">{{.Rank}}</td><td>{{.Submission.User}}</td><td><a href="/challenges/{{$.C.Slug}}/submissions/{{.Submission.ID}}">#{{.Submission.ID}}</a> {{.Submission.Kind}}{{with .Submission.Model}} {{.}}{{end}}</td>
{{$r := .}}{{range $.C.Metrics}}<td class="n">{{val $r.Submission.Scores .Key}} <span class="note">({{rank $r.Ranks .Key}})</span></td>{{end}}
{{if eq $.C.Ranking "mean-rank"}}<td class="n">{{printf "%.2f" .MeanRank}}</td>{{end}}<td>{{when .Submission.CreatedAt}}</td></tr>
{{else}}<tr><td colspan="9">No scored submission yet.</td></tr>{{end}}</tbody></table></div>
{{range .TimePlots}}{{.}}{{end}}
{{.Dist}}
{{end}}
{{if .Mine}}<h2>{{if .All}}All submissions (you organise this challenge){{else}}Your submissions{{end}}</h2>
<div class="scroll"><table id="mine"><caption class="visually-hidden">Submissions</caption><thead><tr><th scope="col">Submission</th><th scope="col">Participant</th><th scope="col">Phase</th><th scope="col">Status</th><th scope="col">Submitted</th></tr></thead>
<tbody>{{range .Mine}}<tr><td><a href="/challenges/{{$.C.Slug}}/submissions/{{.ID}}">#{{.ID}}</a> {{.Kind}}{{with .Model}} {{.}}{{end}}</td><td>{{.User}}</td><td>{{.Phase}}</td><td>{{.Status}}{{with .Message}}: {{.}}{{end}}{{if .WithdrawnAt}}, withdrawn{{end}}{{if .Disqualified}}, disqualified{{end}}</td><td>{{when .CreatedAt}}</td></tr>{{end}}</tbody></table></div>{{end}}
</div>{{end}}

{{define "submission"}}<div class="challenge-page">
<p><a href="/challenges/{{.C.Slug}}">{{.C.Title}}</a></p>
<h1>Submission #{{.S.ID}}</h1>
<p id="submission-status">{{.S.User}}, phase {{.S.Phase}}, {{.S.Kind}}{{with .S.Model}} {{.}}{{end}}, submitted {{when .S.CreatedAt}}: <strong>{{.S.Status}}</strong>{{with .S.Message}}: {{.}}{{end}}</p>
{{if eq .S.Status "queued"}}<p class="note">It is being scored. <a href="/challenges/{{.C.Slug}}/submissions/{{.S.ID}}" id="reload">Reload this page</a> to see the result.</p>{{end}}
{{with .S.WithdrawnAt}}<p class="alert" role="status"><strong>Withdrawn</strong> {{when .}}: kept for the record and never ranked; it still counts against the phase's submission limits.</p>{{end}}
{{with .S.Disqualified}}<p class="alert" role="status"><strong>Disqualified</strong> by the organisers ({{when .At}}); it is not ranked. Reason: {{.Reason}}</p>{{end}}
{{if .CanWithdraw}}<form method="post" action="/challenges/{{.C.Slug}}/submissions/{{.S.ID}}/withdraw"><input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" class="secondary">Withdraw this submission</button> <span class="note">It leaves the leaderboard for good but still counts against your limits.</span></form>{{end}}
{{if .Organiser}}{{if .S.Disqualified}}<form method="post" action="/challenges/{{.C.Slug}}/submissions/{{.S.ID}}/reinstate"><input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit">Reinstate</button></form>{{else}}<form method="post" action="/challenges/{{.C.Slug}}/submissions/{{.S.ID}}/disqualify"><input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="reason">Reason (shown to the participant)</label> <input id="reason" name="reason" required maxlength="500" size="50">
<button type="submit">Disqualify</button></form>{{end}}{{end}}
{{if .S.Scores}}<h2>Scores (mean over images)</h2><table id="scores"><caption class="visually-hidden">Mean scores</caption><thead><tr>{{range .C.Metrics}}<th scope="col" class="n">{{.Key}}</th>{{end}}</tr></thead><tbody><tr>{{range .C.Metrics}}<td class="n">{{val $.S.Scores .Key}}</td>{{end}}</tr></tbody></table>
<h2>Per image</h2><table><caption class="visually-hidden">Scores per image</caption><thead><tr><th scope="col">Image</th>{{range .C.Metrics}}<th scope="col" class="n">{{.Key}}</th>{{end}}</tr></thead>
<tbody>{{range .S.Images}}{{$i := .}}<tr><td>{{.Name}}</td>{{range $.C.Metrics}}<td class="n">{{val $i.Scores .Key}}</td>{{end}}</tr>{{end}}</tbody></table>
{{.Plot}}{{else if eq .S.Status "scored"}}<p class="alert">Scores are hidden until the phase closes.</p>{{end}}
</div>{{end}}

{{define "refused"}}<div class="challenge-page">
<h1>Submission not accepted</h1>
<p class="alert error" role="alert" id="refused">{{.Message}}</p>
<p>It was not recorded and does not count against your limits. <a href="/challenges/{{.Slug}}#submit">Back to the challenge</a></p>
</div>{{end}}
`))
})

// render writes page name, framed by the site's layout (Frame) when set,
// else by the bare layout with the pages' own Content-Security-Policy.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	var b strings.Builder
	if err := tmpl().ExecuteTemplate(&b, name, data); err != nil {
		web.Fail(w, r, zoo.E("challenge.page", zoo.Internal, err, ""))
		return
	}
	main := template.HTML(b.String())
	if h.Frame != nil {
		h.Frame(w, r, status, title, main)
		return
	}
	var page strings.Builder
	if err := tmpl().ExecuteTemplate(&page, "bare", map[string]any{"Title": title, "Main": main}); err != nil {
		web.Fail(w, r, zoo.E("challenge.page", zoo.Internal, err, ""))
		return
	}
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(page.String()))
}

// pageFail answers a page request that failed with web's problem details
// (JSON whose "detail" a person can read; the status is web's for the
// error's Kind).
func (h *Handler) pageFail(w http.ResponseWriter, r *http.Request, err error) {
	web.Fail(w, r, err)
}

func (h *Handler) pageList(w http.ResponseWriter, r *http.Request) {
	cs, err := h.Svc.List(r.Context(), web.UserOf(r))
	if err != nil {
		h.pageFail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "list", "Challenges", cs)
}

// currentPhase is the phase shown by default: the first open one, else
// the last that opened, else the first.
func currentPhase(c *challenge.Challenge, now time.Time) string {
	cur := c.Phases[0].Name
	for _, p := range c.Phases {
		if p.Open(now) {
			return p.Name
		}
		if !now.Before(p.OpensAt) {
			cur = p.Name
		}
	}
	return cur
}

func (h *Handler) pageChallenge(w http.ResponseWriter, r *http.Request) {
	ctx, u := r.Context(), web.UserOf(r)
	full, err := h.Svc.Store.Challenge(ctx, r.PathValue("slug"))
	if err != nil {
		h.pageFail(w, r, err)
		return
	}
	now := h.Svc.now()
	phase := r.URL.Query().Get("phase")
	if _, ok := full.Phase(phase); !ok {
		phase = currentPhase(full, now)
	}
	c := view(full, u)
	data := map[string]any{"C": c, "Now": now, "Phase": phase, "Ties": TiesRule, "Public": c.Names(challenge.Public),
		"Inputs": c.Names(challenge.Input), "Base": "http://" + r.Host}
	if r.TLS != nil {
		data["Base"] = "https://" + r.Host
	}
	if _, rows, err := h.Svc.Leaderboard(ctx, u, c.Slug, phase); err != nil {
		if zoo.KindOf(err) != zoo.Forbidden {
			h.pageFail(w, r, err)
			return
		}
		data["Hidden"] = zoo.MessageOf(err)
	} else {
		data["Rows"] = rows
		all, err := h.Svc.Store.Submissions(ctx, full.ID, 0)
		if err != nil {
			h.pageFail(w, r, err)
			return
		}
		data["TimePlots"], data["Dist"] = plots(full, phase, all, rows)
	}
	if p, _ := full.Phase(phase); p.Open(now) {
		data["PhaseOpen"] = true
	}
	if u != nil {
		data["User"] = u
		if h.CSRF != nil {
			data["CSRF"] = h.CSRF.CSRFToken(r)
		}
	}
	if u != nil {
		subs, err := h.Svc.Submissions(ctx, u, full.Slug) // organisers: everyone's
		if err != nil {
			h.pageFail(w, r, err)
			return
		}
		data["Mine"], data["All"] = subs, full.Organiser(u)
		if p, _ := full.Phase(phase); p.Open(now) {
			day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
			total, today := 0, 0
			for _, s := range subs {
				if s.UserID == u.ID && s.Phase == phase {
					total++
					if !s.CreatedAt.Before(day) {
						today++
					}
				}
			}
			data["Left"] = fmt.Sprintf("You have %d submission(s) left in phase %s today (%d of %d used; counts reset at 00:00 UTC) and %d of %d used over the phase.",
				max(0, min(p.PerDay-today, p.Total-total)), phase, today, p.PerDay, total, p.Total)
		}
	}
	h.render(w, r, http.StatusOK, "challenge", c.Title, data)
}

// plots: per metric, every scored submission of the phase over time (the
// leaderboard's in red); and the per-image distribution of the first
// metric for the leaderboard's top 12.
func plots(c *challenge.Challenge, phase string, all []*challenge.Submission, rows []challenge.Row) ([]template.HTML, template.HTML) {
	onBoard := map[int64]bool{}
	for _, r := range rows {
		onBoard[r.Submission.ID] = true
	}
	var out []template.HTML
	for _, m := range c.Metrics {
		var pts []point
		for _, s := range all {
			if s.Phase != phase || !s.Ranked() { // withdrawn and disqualified ones are not shown
				continue
			}
			pts = append(pts, point{X: float64(s.CreatedAt.Unix()), Y: float64(s.Scores[m.Key()]), Hi: onBoard[s.ID],
				Label: "#" + itoa(s.ID) + " " + s.User + ": " + scoreText(s.Scores[m.Key()])})
		}
		out = append(out, timePlot(m.Key()+" of every scored submission over time (red: on the leaderboard)", m.Key(), pts))
	}
	k := c.Metrics[0].Key()
	var groups []group
	for i, r := range rows {
		if i == 12 {
			break
		}
		g := group{Name: "#" + itoa(r.Submission.ID) + " " + r.Submission.User}
		for _, im := range r.Submission.Images {
			g.Values = append(g.Values, float64(im.Scores[k]))
			g.Labels = append(g.Labels, im.Name)
		}
		groups = append(groups, g)
	}
	return out, stripPlot(k+" per image, leaderboard submissions (bar: mean)", k, groups)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func (h *Handler) pageSubmission(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		h.pageFail(w, r, err)
		return
	}
	c, s, err := h.Svc.Submission(r.Context(), web.UserOf(r), r.PathValue("slug"), id)
	if err != nil {
		h.pageFail(w, r, err)
		return
	}
	var plot template.HTML
	if s.Scores != nil {
		var groups []group
		for _, m := range c.Metrics {
			g := group{Name: m.Key()}
			for _, im := range s.Images {
				g.Values = append(g.Values, float64(im.Scores[m.Key()]))
				g.Labels = append(g.Labels, im.Name)
			}
			groups = append(groups, g)
		}
		if len(groups) > 0 {
			plot = stripPlot("per-image scores by metric (bar: mean)", "score", groups)
		}
	}
	u := web.UserOf(r)
	data := map[string]any{"C": c, "S": s, "Plot": plot, "Organiser": c.Organiser(u)}
	if p, ok := c.Phase(s.Phase); ok && u != nil && u.ID == s.UserID && s.WithdrawnAt == nil && !p.Closed(h.Svc.now()) {
		data["CanWithdraw"] = true
	}
	if h.CSRF != nil {
		data["CSRF"] = h.CSRF.CSRFToken(r)
	}
	h.render(w, r, http.StatusOK, "submission", "Submission #"+itoa(s.ID)+" · "+c.Title, data)
}

// markdown renders a small safe subset of Markdown (headings, paragraphs,
// bullet lists, fenced code, `code`, **strong**, *em*): every character
// is escaped first and no HTML or link of the source survives as markup.
func markdown(src string) template.HTML {
	if len(src) > 64<<10 {
		src = src[:64<<10]
	}
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var para []string
	inList, inCode := false, false
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inlineMD(strings.Join(para, " ")) + "</p>\n")
			para = nil
		}
		if inList {
			b.WriteString("</ul>\n")
			inList = false
		}
	}
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "```"):
			flush()
			if inCode {
				b.WriteString("</code></pre>\n")
			} else {
				b.WriteString("<pre><code>")
			}
			inCode = !inCode
		case inCode:
			b.WriteString(html.EscapeString(l) + "\n")
		case t == "":
			flush()
		case strings.HasPrefix(t, "#"):
			flush()
			n := len(t) - len(strings.TrimLeft(t, "#"))
			n = min(max(n+1, 2), 6) // the page's title is the h1
			tag := "h" + string(rune('0'+n))
			b.WriteString("<" + tag + ">" + inlineMD(strings.TrimSpace(strings.TrimLeft(t, "#"))) + "</" + tag + ">\n")
		case strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* "):
			if len(para) > 0 {
				b.WriteString("<p>" + inlineMD(strings.Join(para, " ")) + "</p>\n")
				para = nil
			}
			if !inList {
				b.WriteString("<ul>\n")
				inList = true
			}
			b.WriteString("<li>" + inlineMD(t[2:]) + "</li>\n")
		default:
			para = append(para, t)
		}
	}
	if inCode {
		b.WriteString("</code></pre>\n")
	}
	flush()
	return template.HTML(b.String())
}

var (
	mdCode   = regexp.MustCompile("`([^`]+)`")
	mdStrong = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	mdEm     = regexp.MustCompile(`\*([^*]+)\*`)
)

func inlineMD(s string) string {
	s = html.EscapeString(s)
	s = mdCode.ReplaceAllString(s, "<code>$1</code>")
	s = mdStrong.ReplaceAllString(s, "<strong>$1</strong>")
	return mdEm.ReplaceAllString(s, "<em>$1</em>")
}
