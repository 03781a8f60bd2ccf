// Package pages is zoo's web pages for people: find a model (home, search
// with facets), understand it (model page: documentation, authors,
// citation, test report, examples rendered as images, how-to snippets),
// try it on an image (through the jobs API, from JavaScript), upload and
// follow submissions (/upload, /my) and review them (/review).
//
// Pages are server-rendered with html/template from files embedded in the
// binary; the little JavaScript (static/app.js) only enhances forms. Every
// page answers with a Content-Security-Policy that allows resources from
// 'self' only (no inline script or style), replacing web's API policy.
//
// Visibility: every version shown goes through repo.Service.Get/Versions,
// so drafts and submissions appear only to their uploader, maintainers and
// reviewers; /my lists the caller's own uploads only; /review needs a
// reviewer.
package pages

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Searcher is the part of search.Index the pages use.
type Searcher interface {
	Search(ctx context.Context, q search.Query) (*search.Results, error)
}

// CSRF gives the token a session's forms must carry (field "csrf",
// header X-CSRF-Token from JavaScript). Implemented by the session manager.
type CSRF interface {
	CSRFToken(r *http.Request) string
}

// Options configure the pages. Service is required; the rest is optional.
type Options struct {
	Service *repo.Service
	// Search answers /search and the home page; nil uses a simple scan of
	// the published models (fine for small instances and tests).
	Search Searcher
	// CSRF, if set, fills the forms' hidden "csrf" field.
	CSRF CSRF
	// JSONLD, if set, returns the JSON-LD of a version, embedded in its page.
	JSONLD func(ctx context.Context, v *zoo.Version, desc *spec.Model, base string) ([]byte, error)
	// Signposting, if set, returns the Link header value of a model page.
	Signposting func(ctx context.Context, v *zoo.Version, desc *spec.Model, base string) string
	// DOI, if set, returns a version's minted DOI ("" for none); the
	// citation then cites it.
	DOI func(ctx context.Context, v *zoo.Version) string
	// Base is the public URL of the server (e.g. https://zoo.example.org),
	// used in snippets and JSON-LD; empty derives it from the request.
	Base string
	// CanRun reports whether "try it" (the jobs API) can run a model: nil,
	// or the reason in words for the person (e.g. infer.Runnable). Where it
	// is nil the pages offer no try-it form at all (no jobs API mounted);
	// where it returns an error they show the reason and how to run the
	// model elsewhere instead of a form that cannot succeed.
	CanRun func(m *spec.Model) error
	// MaxJobUpload is the size limit of "try it" images shown to users
	// (the jobs API enforces its own); 0 shows none.
	MaxJobUpload int64
	// Finetune, if set, says what fine-tuning this server offers on a
	// model (see FinetuneOffer); the model page then marks fine-tunable
	// models and offers "Fine-tune on your images" to signed-in users.
	Finetune func(m *spec.Model) FinetuneOffer
	// Children, if set, lists the published models derived from model id
	// (whose parent it is), for its page.
	Children func(ctx context.Context, id string) ([]Child, error)
	// BrowserRun, if set, says whether the model page runs a version in
	// the visitor's browser (package browserrun; see browserrun.go). Only
	// asked where CanRun allows try-it: the server path stays the fallback.
	BrowserRun func(v *zoo.Version, desc *spec.Model) BrowserRun
	Logger     *slog.Logger
}

// FinetuneOffer is what fine-tuning a server offers on one model.
type FinetuneOffer struct {
	Tasks     []string // "denoise", "segment"; none: not fine-tunable
	Retention string   // how long uploaded images are kept, in words
	MaxUpload int64    // bytes of the zip of images
}

// Child is a published model derived from another.
type Child struct {
	ID      string
	Version int
	Name    string
}

// Pages serves the web pages.
type Pages struct {
	opts Options
	svc  *repo.Service
	tpl  map[string]*template.Template
	log  *slog.Logger
	// examples: rendered example images (examplecache.go).
	examples *exampleCache
}

// New parses the templates.
func New(opts Options) (*Pages, error) {
	if opts.Service == nil {
		return nil, zoo.E("pages.New", zoo.Internal, nil, "pages need the repository service")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Pages{opts: opts, svc: opts.Service, log: opts.Logger, tpl: map[string]*template.Template{},
		examples: newExampleCache(exampleCacheBytes, exampleRenders)}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "partials") {
			continue
		}
		if strings.HasPrefix(base, "_") { // partials of one page, parsed with every page
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials*.html", "templates/_*.html", n)
		if err != nil {
			return nil, zoo.E("pages.New", zoo.Internal, err, "template %s", n)
		}
		p.tpl[base] = t
	}
	return p, nil
}

// Routes are the pages' routes, for web.Options.Routes.
func (p *Pages) Routes() []web.Route {
	page := func(pattern string, h http.HandlerFunc) web.Route {
		return web.Route{Pattern: pattern, Auth: true, Handler: h}
	}
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(static))
	return []web.Route{
		page("GET /{$}", p.home),
		page("GET /search", p.search),
		page("GET /models/{id}", p.model),
		page("GET /models/{id}/{n}", p.model),
		page("GET /models/{id}/{n}/examples/{name}", p.example),
		page("GET /login", p.login),
		page("GET /developers", func(w http.ResponseWriter, r *http.Request) {
			p.render(w, r, http.StatusOK, "developers", "API for developers", nil)
		}),
		page("GET /upload", p.upload),
		page("GET /my", p.my),
		page("GET /my/tokens", p.tokens),
		page("POST /my/tokens", p.tokensPost),
		page("GET /review", p.review),
		page("POST /review/{id}/{n}", p.reviewPost),
		{Pattern: "GET /static/{file...}", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			fileServer.ServeHTTP(w, r)
		})},
	}
}

// csp is the pages' Content-Security-Policy: 'self' only.
const csp = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// view is what every template gets.
type view struct {
	Title  string
	User   *zoo.User
	CSRF   string
	Path   string // the current path and query, for login's "next"
	Query  string // the search box's text
	Error  string // a message shown at the top
	Notice string // a success message shown at the top
	Data   any
}

// render writes the named page with status.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	v := view{Title: title, User: web.UserOf(r), Path: r.URL.RequestURI(), Data: data}
	if p.opts.CSRF != nil && v.User != nil {
		v.CSRF = p.opts.CSRF.CSRFToken(r)
	}
	if r.URL.Path == "/search" {
		v.Query = r.URL.Query().Get("q")
	}
	// Messages in the query come from this server's own redirects (login,
	// review); other pages ignore them, so links cannot put text on them.
	v.Error, v.Notice = queryMessages(name, r.URL.Query())
	if len(v.Error) > 300 {
		v.Error = v.Error[:300]
	}
	if len(v.Notice) > 300 {
		v.Notice = v.Notice[:300]
	}
	var buf bytes.Buffer
	if err := p.tpl[name].Execute(&buf, v); err != nil {
		p.log.Error("pages: template", "page", name, "err", err)
		web.Fail(w, r, zoo.E("pages", zoo.Internal, err, "the page could not be rendered"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if h.Get("Cross-Origin-Embedder-Policy") != "" {
		h.Set("Content-Security-Policy", cspWasm) // a page that runs models in the browser (browserrun.go)
	} else {
		h.Set("Content-Security-Policy", csp)
	}
	h.Set("Referrer-Policy", "same-origin")
	if v.User != nil {
		h.Set("Cache-Control", "private, no-store")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders an error page (HTML, with the zoo.Error's message).
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	kind := zoo.KindOf(err)
	if kind == zoo.Internal && zoo.Unreachable(err) {
		kind = zoo.Unavailable // a store is down: try again later
	}
	switch kind {
	case zoo.Invalid:
		status = http.StatusBadRequest
	case zoo.NotFound:
		status = http.StatusNotFound
	case zoo.Conflict:
		status = http.StatusConflict
	case zoo.Unauthorized:
		status = http.StatusUnauthorized
	case zoo.Forbidden:
		status = http.StatusForbidden
	case zoo.TooLarge:
		status = http.StatusRequestEntityTooLarge
	case zoo.Unavailable:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "10")
	case zoo.NotSupported:
		status = http.StatusNotImplemented
	}
	msg := "Something went wrong on the server. Try again later."
	var ze *zoo.Error
	if status != http.StatusInternalServerError && asZoo(err, &ze) {
		msg = cmp.Or(ze.Message, msg)
	} else {
		p.log.Error("pages", "path", r.URL.Path, "err", err)
	}
	p.render(w, r, status, "error", http.StatusText(status), msg)
}

// needLogin redirects anonymous visitors to the login page.
func (p *Pages) needLogin(w http.ResponseWriter, r *http.Request) bool {
	if web.UserOf(r) != nil {
		return false
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return true
}

// base is the public base URL for a request (see web.BaseURL).
func (p *Pages) base(r *http.Request) string { return web.BaseURL(r, p.opts.Base) }

var funcs = template.FuncMap{
	"date": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02")
		case *time.Time:
			if t == nil {
				return ""
			}
			return t.UTC().Format("2006-01-02")
		}
		return ""
	},
	"pathEscape": url.PathEscape,
	"filePath": func(id string, n int, path string) string {
		parts := strings.Split(path, "/")
		for i, s := range parts {
			parts[i] = url.PathEscape(s)
		}
		return "/files/" + url.PathEscape(id) + "/" + itoa(n) + "/" + strings.Join(parts, "/")
	},
	"size": humanSize,
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"num": func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f, 'g', 3, 64)
	},
	"facetLabel": func(f string) string {
		switch f {
		case "weight_format":
			return "Weight format"
		case "dims":
			return "Dimensions"
		case "test":
			return "Test"
		case "tool":
			return "Works with"
		case "tag":
			return "Tags"
		case "license":
			return "License"
		case "type":
			return "Type"
		case "finetune":
			return "Fine-tunable"
		case "parent":
			return "Fine-tuned from"
		}
		return f
	},
}
