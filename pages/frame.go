package pages

import (
	"bytes"
	"html/template"
	"net/http"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/web"
)

// Frame renders pages made by other packages (the challenge pages of
// challenge/platform) inside the site's layout — the same header, search
// box, navigation and sign-in links as every page here — with the same
// headers (Content-Security-Policy 'self', no caching for signed-in
// users). Safe for concurrent use.
type Frame struct {
	tpl  *template.Template
	csrf CSRF
}

// NewFrame parses the layout; csrf (may be nil) gives the log-out form's
// CSRF token.
func NewFrame(csrf CSRF) (*Frame, error) {
	t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, zoo.E("pages.NewFrame", zoo.Internal, err, "the layout")
	}
	if _, err := t.New("frame").Parse(`{{define "main"}}{{.Data}}{{end}}`); err != nil {
		return nil, zoo.E("pages.NewFrame", zoo.Internal, err, "the layout")
	}
	return &Frame{tpl: t, csrf: csrf}, nil
}

// Render writes main — HTML the caller made safe (e.g. by html/template)
// — as the main content of a page titled title, with status.
func (f *Frame) Render(w http.ResponseWriter, r *http.Request, status int, title string, main template.HTML) {
	v := view{Title: title, User: web.UserOf(r), Path: r.URL.RequestURI(), Data: main}
	if f.csrf != nil && v.User != nil {
		v.CSRF = f.csrf.CSRFToken(r)
	}
	var buf bytes.Buffer
	if err := f.tpl.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		web.Fail(w, r, zoo.E("pages.Frame", zoo.Internal, err, "the page could not be rendered"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "same-origin")
	if v.User != nil {
		h.Set("Cache-Control", "private, no-store")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
